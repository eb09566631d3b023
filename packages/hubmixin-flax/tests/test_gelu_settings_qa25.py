"""QA round 25 (issue 11): a module's attribute holding a GELU function (``nnx.gelu``, approximate by default, or
a ``functools.partial`` of it giving ``approximate``) records its approximation (``gelu``) at its attribute path,
as a PyTorch port's ``nn.GELU`` does, so a model loading a file saved with the other one is warned, naming it."""

from __future__ import annotations

import functools
import json
import warnings
from pathlib import Path
from typing import Any

import jax
from flax import nnx
from safetensors import safe_open

from hubmixin_core.errors import LayerSettingsWarning
from hubmixin_core.weights import SETTINGS_KEY
from hubmixin_flax import FlaxModelHubMixin
from hubmixin_flax._settings import model_settings


def _gelu(approximate: bool | None) -> Any:
    """``nnx.gelu`` as it is (``None``: its default, the tanh approximation), or a partial giving ``approximate``."""
    return nnx.gelu if approximate is None else functools.partial(nnx.gelu, approximate=approximate)


class Mlp(nnx.Module, FlaxModelHubMixin):
    """A GELU as an attribute (``act``) and one inside an ``nnx.Sequential`` (``mlp.1``)."""

    def __init__(self, approximate: bool | None = None, *, rngs: nnx.Rngs) -> None:
        self.lin = nnx.Linear(4, 4, rngs=rngs)
        self.act = _gelu(approximate)
        self.mlp = nnx.Sequential(nnx.Linear(4, 4, rngs=rngs), _gelu(approximate))


class Block(nnx.Module):
    def __init__(self, approximate: bool | None, *, rngs: nnx.Rngs) -> None:
        self.linear = nnx.Linear(4, 4, rngs=rngs)
        self.act = _gelu(approximate)


class Stacked(nnx.Module, FlaxModelHubMixin, stacked_layers=["blocks"]):
    """Blocks stacked by ``nnx.vmap``, each holding a GELU: a PyTorch port's are ``blocks.0.act``, ..."""

    def __init__(self, approximate: bool | None = None, *, rngs: nnx.Rngs) -> None:
        @nnx.split_rngs(splits=2)
        @nnx.vmap(in_axes=(0,), out_axes=0)
        def create(rngs: nnx.Rngs) -> Block:
            return Block(approximate, rngs=rngs)

        self.blocks = create(rngs)


def _settings_warnings(model: Any, path: Path, **kwargs: Any) -> list[str]:
    """The ``LayerSettingsWarning`` messages (from the layers on) of a strict load of ``path``."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.from_pretrained(path, strict=True, model_kwargs=kwargs)
    return [str(w.message).split("differ: ", 1)[1] for w in caught if issubclass(w.category, LayerSettingsWarning)]


def _recorded(path: Path) -> dict[str, Any]:
    with safe_open(str(path / "model.safetensors"), "np") as opened:
        return dict(json.loads(opened.metadata().get(SETTINGS_KEY) or "{}"))


def test_gelu_functions_record_the_approximation_they_compute() -> None:
    rngs = nnx.Rngs(0)
    tanh = {"act": {"gelu": "tanh"}, "mlp.1": {"gelu": "tanh"}}
    assert model_settings(Mlp(rngs=rngs), []) == tanh  # JAX's default
    assert model_settings(Mlp(True, rngs=rngs), []) == tanh
    assert model_settings(Mlp(False, rngs=rngs), []) == {"act": {"gelu": "exact"}, "mlp.1": {"gelu": "exact"}}
    assert jax.nn.gelu is nnx.gelu


def test_a_file_of_the_other_approximation_is_warned_of_naming_each_path(tmp_path: Path) -> None:
    Mlp(rngs=nnx.Rngs(0)).save_pretrained(tmp_path)
    assert _recorded(tmp_path) == {"act": {"gelu": "tanh"}, "mlp.1": {"gelu": "tanh"}}
    found = _settings_warnings(Mlp, tmp_path, approximate=False)
    assert found == ["act: gelu 'exact' here, 'tanh' saved; mlp.1: gelu 'exact' here, 'tanh' saved"]
    assert _settings_warnings(Mlp, tmp_path, approximate=True) == []
    assert _settings_warnings(Mlp, tmp_path, approximate=None) == []


def test_a_stacked_modules_gelu_is_recorded_once_per_layer(tmp_path: Path) -> None:
    Stacked(rngs=nnx.Rngs(0)).save_pretrained(tmp_path)
    assert _recorded(tmp_path) == {"blocks.0.act": {"gelu": "tanh"}, "blocks.1.act": {"gelu": "tanh"}}
    found = _settings_warnings(Stacked, tmp_path, approximate=False)
    assert found == ["blocks.0.act: gelu 'exact' here, 'tanh' saved; blocks.1.act: gelu 'exact' here, 'tanh' saved"]


def test_other_functions_record_nothing(tmp_path: Path) -> None:
    class Relu(nnx.Module, FlaxModelHubMixin):
        def __init__(self, *, rngs: nnx.Rngs) -> None:
            self.lin = nnx.Linear(4, 4, rngs=rngs)  # holds functions of its own: dot_general, promote_dtype
            self.act = nnx.relu

    Relu(rngs=nnx.Rngs(0)).save_pretrained(tmp_path)
    assert _recorded(tmp_path) == {}


class AttrDict(dict[str, Any]):
    """A config whose attribute lookup raises ``KeyError`` (reg25b #1)."""

    __getattr__ = dict.__getitem__


class WithAttrDict(nnx.Module, FlaxModelHubMixin):
    def __init__(self, *, rngs: nnx.Rngs) -> None:
        self.lin = nnx.Linear(4, 4, rngs=rngs)
        self.cfg = AttrDict(hidden=4)


def test_an_attribute_whose_getattr_raises_other_errors_is_no_gelu(tmp_path: Path) -> None:
    WithAttrDict(rngs=nnx.Rngs(0)).save_pretrained(tmp_path)
    loaded = WithAttrDict.from_pretrained(tmp_path)
    assert loaded.cfg == {"hidden": 4} and loaded.lin.kernel.shape == (4, 4)
