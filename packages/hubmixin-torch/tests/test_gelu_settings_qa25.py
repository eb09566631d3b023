"""QA round 25 (issue 11): an ``nn.GELU`` records its approximation (``gelu``), so a model loading a file saved
with the other one is warned, naming the GELU's path; older files, and models without a GELU, load as before."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

from safetensors import safe_open
from safetensors.numpy import load_file, save_file
from torch import nn

from hubmixin_core.errors import LayerSettingsWarning
from hubmixin_core.weights import SETTINGS_KEY
from hubmixin_torch import PyTorchModelHubMixin
from hubmixin_torch._settings import layer_settings


class Mlp(nn.Module, PyTorchModelHubMixin):
    """A GELU as an attribute (``act``) and one inside an ``nn.Sequential`` (``mlp.1``)."""

    def __init__(self, approximate: str = "none") -> None:
        super().__init__()
        self.lin = nn.Linear(4, 4)
        self.act = nn.GELU(approximate=approximate)
        self.mlp = nn.Sequential(nn.Linear(4, 4), nn.GELU(approximate=approximate))


class Relu(nn.Module, PyTorchModelHubMixin):
    """:class:`Mlp`'s tensors, without a GELU."""

    def __init__(self) -> None:
        super().__init__()
        self.lin = nn.Linear(4, 4)
        self.act = nn.ReLU()
        self.mlp = nn.Sequential(nn.Linear(4, 4), nn.ReLU())


def _settings_warnings(model: type[nn.Module], path: Path, **kwargs: str) -> list[str]:
    """The ``LayerSettingsWarning`` messages (from the layers on) of a strict load of ``path``."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.from_pretrained(path, strict=True, model_kwargs=kwargs)  # type: ignore[attr-defined]
    return [str(w.message).split("differ: ", 1)[1] for w in caught if issubclass(w.category, LayerSettingsWarning)]


def _recorded(path: Path) -> dict[str, dict[str, object]]:
    with safe_open(str(path / "model.safetensors"), "np") as opened:
        return dict(json.loads(opened.metadata().get(SETTINGS_KEY) or "{}"))


def test_a_gelu_records_its_approximation() -> None:
    assert layer_settings(nn.GELU()) == {"gelu": "exact"}
    assert layer_settings(nn.GELU(approximate="tanh")) == {"gelu": "tanh"}
    assert layer_settings(nn.ReLU()) == {}


def test_a_tanh_gelu_file_loaded_into_an_exact_gelu_is_warned_of_naming_each_path(tmp_path: Path) -> None:
    Mlp("tanh").save_pretrained(tmp_path)
    assert _recorded(tmp_path) == {"act": {"gelu": "tanh"}, "mlp.1": {"gelu": "tanh"}}
    found = _settings_warnings(Mlp, tmp_path, approximate="none")
    assert found == ["act: gelu 'exact' here, 'tanh' saved; mlp.1: gelu 'exact' here, 'tanh' saved"]
    assert _settings_warnings(Mlp, tmp_path, approximate="tanh") == []


def test_files_without_gelu_settings_and_models_without_gelus_are_not_compared(tmp_path: Path) -> None:
    Mlp("tanh").save_pretrained(tmp_path)
    assert _settings_warnings(Relu, tmp_path) == []  # no GELU here: nothing to compare
    older = tmp_path / "older"
    older.mkdir()
    (older / "config.json").write_text((tmp_path / "config.json").read_text())
    save_file(load_file(tmp_path / "model.safetensors"), older / "model.safetensors", metadata={"format": "pt"})
    assert _settings_warnings(Mlp, older, approximate="none") == []  # written before GELUs were recorded
    Relu().save_pretrained(tmp_path / "relu")
    assert _recorded(tmp_path / "relu") == {}
    assert _settings_warnings(Mlp, tmp_path / "relu", approximate="none") == []


class SharedGelu(nn.Module, PyTorchModelHubMixin):
    """One ``nn.GELU`` held at two paths (reg25b #2)."""

    def __init__(self, approximate: str = "none") -> None:
        super().__init__()
        self.lin = nn.Linear(4, 4)
        self.act = self.act2 = nn.GELU(approximate=approximate)


def test_a_gelu_held_at_two_paths_is_recorded_under_each(tmp_path: Path) -> None:
    SharedGelu().save_pretrained(tmp_path)
    assert _recorded(tmp_path) == {"act": {"gelu": "exact"}, "act2": {"gelu": "exact"}}
    assert _settings_warnings(SharedGelu, tmp_path, approximate="tanh") == [
        "act: gelu 'tanh' here, 'exact' saved; act2: gelu 'tanh' here, 'exact' saved"
    ]


class SharedNorm(nn.Module, PyTorchModelHubMixin):
    """One weightless ``nn.LayerNorm`` held by every block (reg25c #1)."""

    def __init__(self, eps: float = 1e-6) -> None:
        super().__init__()
        norm = nn.LayerNorm(4, eps=eps, elementwise_affine=False)
        self.blocks = nn.ModuleList([nn.Sequential(norm, nn.Linear(4, 4)) for _ in range(2)])


def test_a_layer_held_at_two_paths_is_compared_at_each(tmp_path: Path) -> None:
    SharedNorm().save_pretrained(tmp_path)
    assert _recorded(tmp_path) == {
        "blocks.0.0": {"eps": 1e-6, "norm": "layer"},
        "blocks.1.0": {"eps": 1e-6, "norm": "layer"},
    }
    found = _settings_warnings(SharedNorm, tmp_path, eps=1e-5)  # type: ignore[arg-type]
    assert found == ["blocks.0.0: eps 1e-05 here, 1e-06 saved; blocks.1.0: eps 1e-05 here, 1e-06 saved"]
