"""A load that constructs more than once gives each later construction the arguments as the caller gave them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors.torch import save_file
from torch import nn

from hubmixin_core.errors import WeightsShapeError
from hubmixin_torch import PyTorchModelHubMixin


class ConsumesAndReads(nn.Module, PyTorchModelHubMixin):
    """Pops its width and reads a parameter's values: the attempt without weights fails, a normal one follows."""

    def __init__(self, cfg: dict[str, Any]) -> None:
        super().__init__()
        self.fc = nn.Linear(cfg.pop("width"), 3)
        self.total = float(self.fc.weight.detach().abs().sum())


class ConsumesWithHead(nn.Module, PyTorchModelHubMixin):
    """Pops its width; ``head`` is what an older checkpoint lacks (a donor construction gives it its values)."""

    def __init__(self, cfg: dict[str, Any]) -> None:
        super().__init__()
        self.fc = nn.Linear(cfg.pop("width"), 3)
        self.head = nn.Linear(3, 2)


class Remembers(nn.Module, PyTorchModelHubMixin):
    """Reads a parameter's values (built normally after the attempt) and keeps the caller's dict."""

    def __init__(self, cfg: dict[str, Any]) -> None:
        super().__init__()
        self.cfg = cfg
        self.fc = nn.Linear(cfg["width"], 3)
        self.total = float(self.fc.weight.detach().abs().sum())


def test_a_consuming_init_built_normally_after_the_attempt_loads(tmp_path: Path) -> None:
    model = ConsumesAndReads({"width": 4})
    model.save_pretrained(tmp_path)
    loaded = ConsumesAndReads.from_pretrained(tmp_path)
    assert torch.equal(loaded.fc.weight, model.fc.weight)
    given = {"width": 4}
    assert ConsumesAndReads.from_pretrained(tmp_path, model_kwargs={"cfg": given}).fc.in_features == 4


def test_a_consuming_init_loads_a_checkpoint_lacking_a_weight(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    model = ConsumesWithHead({"width": 4})
    model.save_pretrained(tmp_path)
    older = {k: v for k, v in model.state_dict().items() if not k.startswith("head.")}
    save_file(older, str(tmp_path / "model.safetensors"), metadata={"format": "pt"})
    loaded = ConsumesWithHead.from_pretrained(tmp_path, strict=False)
    assert "head.weight" in caplog.text
    assert torch.equal(loaded.fc.weight, model.fc.weight)
    assert not loaded.head.weight.is_meta and loaded.head.weight.shape == (2, 3)


def test_arguments_left_unchanged_reach_the_normal_construction_as_they_are(tmp_path: Path) -> None:
    """A guard: the model built after the failed attempt holds the caller's own object."""
    Remembers({"width": 4}).save_pretrained(tmp_path)
    given = {"width": 4}
    loaded = Remembers.from_pretrained(tmp_path, model_kwargs={"cfg": given})
    assert loaded.cfg is given


class Registered(nn.Module, PyTorchModelHubMixin):
    """Appends itself to the caller's registry and reads a parameter's values (built normally after the attempt)."""

    def __init__(self, registry: list[nn.Module] | None = None) -> None:
        super().__init__()
        if registry is not None:
            registry.append(self)
        self.fc = nn.Linear(4, 3)
        self.total = float(self.fc.weight.detach().abs().sum())


def test_a_registry_init_appends_to_holds_the_model_returned(tmp_path: Path) -> None:
    """Items a construction adds are no consumption: the construction kept gets the caller's own list."""
    Registered().save_pretrained(tmp_path)
    registry: list[nn.Module] = []
    loaded = Registered.from_pretrained(tmp_path, model_kwargs={"registry": registry})
    assert registry[-1] is loaded


class WithEncoder(nn.Module, PyTorchModelHubMixin):
    """Takes a module and initialises every Linear, the given one too (transformers' ``_init_weights`` pattern)."""

    def __init__(self, encoder: nn.Module | None = None) -> None:
        super().__init__()
        self.encoder = encoder if encoder is not None else nn.Linear(4, 4)
        self.head = nn.Linear(4, 2)
        self.apply(self._init_weights)

    def _init_weights(self, module: nn.Module) -> None:
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight)


def test_a_donor_of_missing_weights_leaves_a_given_module_loaded(tmp_path: Path) -> None:
    model = WithEncoder()
    model.save_pretrained(tmp_path)
    older = {k: v for k, v in model.state_dict().items() if not k.startswith("head.")}
    save_file(older, str(tmp_path / "model.safetensors"), metadata={"format": "pt"})
    given = nn.Linear(4, 4)
    loaded = WithEncoder.from_pretrained(tmp_path, strict=False, model_kwargs={"encoder": given})
    assert loaded.encoder is given
    assert torch.equal(given.weight, model.state_dict()["encoder.weight"])


class PopsAndRegisters(nn.Module, PyTorchModelHubMixin):
    """Pops an optional key of its config, appends itself to a registry inside it, and reads a parameter's values."""

    def __init__(self, cfg: dict[str, Any]) -> None:
        super().__init__()
        self.name = cfg.pop("name", "net")
        cfg["registry"].append(self)
        self.fc = nn.Linear(4, 3)
        self.total = float(self.fc.weight.detach().abs().sum())


def test_only_what_lost_items_is_given_again_as_a_copy(tmp_path: Path) -> None:
    """The dict the attempt popped from comes back whole; the registry inside it (it only grew) stays the caller's."""
    PopsAndRegisters({"name": "x", "registry": []}).save_pretrained(tmp_path)
    registry: list[nn.Module] = []
    loaded = PopsAndRegisters.from_pretrained(tmp_path, model_kwargs={"cfg": {"name": "x", "registry": registry}})
    assert loaded.name == "x" and registry[-1] is loaded


class WithEncoders(nn.Module, PyTorchModelHubMixin):
    """Takes modules in a dict, initialises every Linear (the given ones too)."""

    def __init__(self, parts: dict[str, nn.Module] | None = None) -> None:
        super().__init__()
        parts = parts if parts is not None else {"enc": nn.Linear(4, 4)}
        self.enc = parts["enc"]
        self.dec = parts.get("dec", self.enc)
        self.head = nn.Linear(4, 2)
        self.apply(self._init_weights)

    def _init_weights(self, module: nn.Module) -> None:
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight)


def test_a_donor_of_missing_weights_leaves_modules_given_in_a_dict_loaded(tmp_path: Path) -> None:
    model = WithEncoders()
    model.save_pretrained(tmp_path)
    saved = model.state_dict()
    older = {k: v for k, v in saved.items() if not k.startswith(("head.", "dec."))}  # (dec is enc: tied)
    save_file(older, str(tmp_path / "model.safetensors"), metadata={"format": "pt"})
    enc = nn.Linear(4, 4)
    loaded = WithEncoders.from_pretrained(tmp_path, strict=False, model_kwargs={"parts": {"enc": enc, "dec": enc}})
    assert loaded.enc is enc and loaded.dec is enc
    assert torch.equal(enc.weight, saved["enc.weight"])


class GrowsWithRegistry(nn.Module, PyTorchModelHubMixin):
    """Sizes its head from a registry it appends to: each construction builds another model."""

    def __init__(self, registry: list[str] | None = None) -> None:
        super().__init__()
        registry = registry if registry is not None else []
        registry.append("built")
        self.emb = nn.Embedding(8, 4)
        self.out = nn.Linear(4, 2 + len(registry))


def test_a_donor_of_another_shape_is_refused(tmp_path: Path) -> None:
    """The tensors a construction for missing weights gives must fit the model as built (they were set silently)."""
    GrowsWithRegistry().save_pretrained(tmp_path)
    emb_only = {k: v for k, v in GrowsWithRegistry().state_dict().items() if k.startswith("emb.")}
    save_file(emb_only, str(tmp_path / "model.safetensors"), metadata={"format": "pt"})
    with pytest.raises(WeightsShapeError, match=r"out\.(weight|bias)"):
        GrowsWithRegistry.from_pretrained(tmp_path, strict=False, model_kwargs={"registry": []})
