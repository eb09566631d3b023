"""Round 21: loads of models computing from their parameters or loading themselves (``map_location="meta"``
too), values kept through builtin methods, and ``from_pretrained`` called on the mixin itself or on a library's
AutoModel base."""

from __future__ import annotations

import json
import types
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors.torch import save_file
from torch import nn

from hubmixin_core.errors import HubMixinTypeError, WeightsKeyError
from hubmixin_torch import PyTorchModelHubMixin

BUILT: list[bool] = []
"""Per construction of the models below: whether its parameters were real (a normal construction)."""


class PassThroughLinear(nn.Linear):
    """A layer loading itself (its ``_load_from_state_dict`` passes everything on)."""

    def _load_from_state_dict(self, *args: Any) -> None:
        super()._load_from_state_dict(*args)


class Sized(nn.Module, PyTorchModelHubMixin):
    """One ``width x width`` layer; ``kind`` picks what makes the load build it normally."""

    def __init__(self, width: int = 4, kind: str = "cache", extra: bool = False) -> None:
        super().__init__()
        self.fc = (PassThroughLinear if kind == "own_loader" else nn.Linear)(width, width)
        self.extra = nn.Linear(width, 2) if extra else None
        BUILT.append(not self.fc.weight.is_meta)
        if kind == "cache":  # computed from a parameter: the meta attempt is given up
            self.cache = self.fc.weight.detach().clone()
        elif kind == "post_hook":  # loads itself, but cannot reshape what it reads
            self.register_load_state_dict_post_hook(lambda module, keys: None)  # type: ignore[no-untyped-call]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.fc(x)
        return out


def test_an_init_computing_from_parameters_still_loads(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = Sized(kind="cache")
    model.save_pretrained(tmp_path)
    loaded = Sized.from_pretrained(tmp_path, strict=True)
    assert torch.equal(loaded.fc.weight, model.fc.weight) and not loaded.cache.is_meta


class Resampled(nn.Module, PyTorchModelHubMixin):
    """Resamples a stored position embedding to its own length as it loads (a pre-hook reshaping what it reads)."""

    def __init__(self, length: int = 4) -> None:
        super().__init__()
        self.pos = nn.Parameter(torch.zeros(length, 2))
        self._register_load_state_dict_pre_hook(self._resample)  # type: ignore[no-untyped-call]

    def _resample(self, state: dict[str, torch.Tensor], prefix: str, *args: Any) -> None:
        stored = state.get(prefix + "pos")
        if stored is not None and stored.shape != self.pos.shape:
            grid = stored.t().unsqueeze(0)
            state[prefix + "pos"] = nn.functional.interpolate(grid, size=self.pos.shape[0]).squeeze(0).t()


def test_a_loader_reshaping_what_it_reads_still_loads(tmp_path: Path) -> None:
    save_file({"pos": torch.arange(8.0).reshape(4, 2)}, tmp_path / "model.safetensors")
    (tmp_path / "config.json").write_text(json.dumps({"length": 8}))
    loaded = Resampled.from_pretrained(tmp_path, strict=True)
    assert loaded.pos.shape == (8, 2) and torch.equal(loaded.pos[::2], torch.arange(8.0).reshape(4, 2))


class SelfLoading(nn.Module, PyTorchModelHubMixin):
    """Loads itself: through a layer's ``_load_from_state_dict``, a post-hook, a pre-hook reading the values it is
    given, or its class's ``load_state_dict``."""

    def __init__(self, kind: str = "own_loader") -> None:
        super().__init__()
        self.fc = (PassThroughLinear if kind == "own_loader" else nn.Linear)(6, 6)
        self.register_buffer("scale", torch.ones(6))
        BUILT.append(not self.fc.weight.is_meta)
        if kind == "post_hook":
            self.register_load_state_dict_post_hook(lambda module, keys: None)  # type: ignore[no-untyped-call]
        elif kind == "reads_values":
            self._register_load_state_dict_pre_hook(self._check)  # type: ignore[no-untyped-call]

    def _check(self, state: dict[str, torch.Tensor], prefix: str, *args: Any) -> None:
        assert float(state[prefix + "fc.weight"].abs().sum().item()) >= 0  # fails on a meta tensor

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.fc(x) * self.scale
        return out


def test_map_location_meta_checks_a_model_loading_itself(tmp_path: Path) -> None:
    SelfLoading().save_pretrained(tmp_path)
    save_file({"fc.weight": torch.zeros(6, 6), "fc.bias": torch.zeros(6)}, tmp_path / "model.safetensors")
    with pytest.raises(WeightsKeyError, match="scale"):
        SelfLoading.from_pretrained(tmp_path, map_location="meta", strict=True)


def test_map_location_meta_of_a_loader_reading_values_builds_it_normally(tmp_path: Path) -> None:
    SelfLoading(kind="reads_values").save_pretrained(tmp_path)
    loaded = SelfLoading.from_pretrained(tmp_path, map_location="meta", strict=True)
    assert all(t.is_meta for t in [*loaded.parameters(), *loaded.buffers()])


class KeepsThroughBuiltins(nn.Module, PyTorchModelHubMixin):
    """Keeps a value computed from a parameter through a builtin bound method or a read-only mapping."""

    def __init__(self, kind: str = "bound_method") -> None:
        super().__init__()
        self.fc = nn.Linear(4, 3)
        mean = self.fc.weight.detach().abs().mean()
        self.kept: Any = {
            "bound_method": mean.mul,
            "dict_get": {"s": mean}.get,
            "mappingproxy": types.MappingProxyType({"s": mean}),
        }[kind]
        self.kind = kind

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y: torch.Tensor = self.fc(x)
        if self.kind == "bound_method":
            scaled: torch.Tensor = self.kept(y)
            return scaled
        scale: torch.Tensor = self.kept("s") if self.kind == "dict_get" else self.kept["s"]
        return y * scale


@pytest.mark.parametrize("kind", ["bound_method", "dict_get", "mappingproxy"])
def test_a_value_kept_through_a_builtin_makes_init_run_normally(tmp_path: Path, kind: str) -> None:
    torch.manual_seed(0)
    model = KeepsThroughBuiltins(kind)
    model.save_pretrained(tmp_path)
    torch.manual_seed(0)  # the normal construction draws what the first one drew: the same kept value
    loaded = KeepsThroughBuiltins.from_pretrained(tmp_path)
    x = torch.randn(2, 4)
    with torch.no_grad():
        assert torch.equal(loaded(x), model(x))


def test_from_pretrained_on_the_mixin_itself_says_what_to_do_before_fetching() -> None:
    with pytest.raises(HubMixinTypeError, match=r"model class.*class Net\(nn\.Module, PyTorchModelHubMixin\)"):
        PyTorchModelHubMixin.from_pretrained("someone/not-fetched", local_files_only=True)


ARCHITECTURES: dict[str, type[AutoBase]] = {}


class AutoBase(PyTorchModelHubMixin):
    """A library's AutoModel base (no ``nn.Module``): its own loader picks the class the save names."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        ARCHITECTURES[cls.__name__] = cls

    @classmethod
    def _from_pretrained(cls, *, model_id: str, **kwargs: Any) -> Any:
        if cls is AutoBase:
            architecture = json.loads((Path(model_id) / "config.json").read_text())["architecture"]
            return ARCHITECTURES[architecture].from_pretrained(model_id)
        return super()._from_pretrained(model_id=model_id, **kwargs)


class AutoNet(nn.Module, AutoBase):
    def __init__(self, architecture: str = "AutoNet") -> None:
        super().__init__()
        self.fc = nn.Linear(3, 3)


def test_an_automodel_base_whose_own_loader_dispatches_is_not_refused(tmp_path: Path) -> None:
    model = AutoNet()
    model.save_pretrained(tmp_path)
    loaded = AutoBase.from_pretrained(tmp_path)
    assert isinstance(loaded, AutoNet) and torch.equal(loaded.fc.weight, model.fc.weight)


class LazyLoadingItself(nn.Module, PyTorchModelHubMixin):
    def __init__(self) -> None:
        super().__init__()
        self.lazy = nn.LazyLinear(3)
        self.register_buffer("steps", torch.zeros((), dtype=torch.int64))
        self._register_load_state_dict_pre_hook(lambda *args: None)  # type: ignore[no-untyped-call]


def test_map_location_meta_of_a_lazy_model_loading_itself_takes_the_files_shapes(tmp_path: Path) -> None:
    model = LazyLoadingItself()
    model.lazy(torch.randn(2, 5))
    model.save_pretrained(tmp_path)
    loaded = LazyLoadingItself.from_pretrained(tmp_path, map_location="meta", strict=True)
    assert loaded.lazy.weight.is_meta and loaded.lazy.weight.shape == (3, 5) and loaded.steps.is_meta
