"""Bad input for Flax: variables of dtypes safetensors lacks, deeply nested layer settings, float8 FNUZ dtypes."""

from __future__ import annotations

from pathlib import Path

import jax.numpy as jnp
import ml_dtypes
import numpy as np
import pytest
from flax import nnx
from safetensors.numpy import load_file, save_file

from hubmixin_core.errors import WeightsError
from hubmixin_core.weights import read_header
from hubmixin_core.weights._settings import SETTINGS_KEY
from hubmixin_flax import FlaxModelHubMixin


class Holder(nnx.Module, FlaxModelHubMixin):
    """A linear layer and a parameter of the dtype its config names."""

    def __init__(self, kind: str = "float32", *, rngs: nnx.Rngs) -> None:
        self.fc = nnx.Linear(2, 2, rngs=rngs)
        self.scale = nnx.Param(jnp.asarray(np.array([0.5, -1.0, 2.0, 0.0]).astype(getattr(ml_dtypes, kind, kind))))


def _holder(kind: str = "float32") -> Holder:
    return Holder(kind, rngs=nnx.Rngs(0))


def test_a_variable_of_a_dtype_safetensors_lacks_is_named(tmp_path: Path) -> None:
    with pytest.raises(WeightsError) as info:  # as hubmixin-torch raises it (was a HubMixinKeyError)
        _holder("int4").save_pretrained(tmp_path / "model")
    assert "'scale'" in str(info.value) and "int4" in str(info.value)
    assert not (tmp_path / "model").exists()


@pytest.mark.parametrize(("kind", "name"), [("float8_e4m3fnuz", "F8_E4M3FNUZ"), ("float8_e5m2fnuz", "F8_E5M2FNUZ")])
def test_fnuz_float8_variables_round_trip(tmp_path: Path, kind: str, name: str) -> None:
    model = _holder(kind)
    model.save_pretrained(tmp_path)
    assert read_header(tmp_path / "model.safetensors").tensors["scale"].dtype == name
    loaded = Holder.from_pretrained(tmp_path)
    value = loaded.scale.get_value()
    assert value.dtype == np.dtype(getattr(ml_dtypes, kind))
    assert np.array_equal(np.asarray(value, np.float32), np.asarray(model.scale.get_value(), np.float32))


def test_deeply_nested_settings_warn_at_load(tmp_path: Path) -> None:
    _holder().save_pretrained(tmp_path)
    path = tmp_path / "model.safetensors"
    deep = "[" * 100_000 + "]" * 100_000
    save_file(load_file(str(path)), str(path), {"format": "pt", SETTINGS_KEY: deep})
    with pytest.warns(UserWarning, match=SETTINGS_KEY):
        Holder.from_pretrained(tmp_path)
