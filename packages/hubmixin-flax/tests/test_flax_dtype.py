"""``dtype=`` on load and on save: floating variables converted, integer ones left as they are; ``__init__``
arguments that are dtypes saved by name."""

from __future__ import annotations

import dataclasses
import json
import warnings
from pathlib import Path
from typing import Any

import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx
from flax.typing import Dtype
from flax_models import IDS, Net, persistent
from jax.typing import DTypeLike
from safetensors import safe_open

from hubmixin_core.errors import WeightsDtypeError
from hubmixin_flax import FlaxModelHubMixin

FLOATING = {"blocks.0.linear.kernel", "blocks.1.norm.scale", "bn.var", "conv.kernel", "embed.embedding"}


def _file_dtypes(directory: Path) -> dict[str, Any]:
    with safe_open(str(directory / "model.safetensors"), framework="numpy") as f:
        keys: list[str] = f.keys()
        return {k: f.get_tensor(k).dtype for k in keys}


@pytest.mark.parametrize(("dtype", "expected"), [(jnp.bfloat16, jnp.bfloat16), ("float16", jnp.float16)])
def test_load_converts_floating_variables_only(net: Net, saved: Path, dtype: Any, expected: Any) -> None:
    loaded = Net.from_pretrained(saved, dtype=dtype)
    original = persistent(net)
    for path, variable in persistent(loaded).items():
        value = np.asarray(variable.get_value())
        before = np.asarray(original[path].get_value())
        if np.issubdtype(before.dtype, np.integer):
            assert value.dtype == np.int32, path
            np.testing.assert_array_equal(value, before)
        else:
            assert value.dtype == np.dtype(expected), path
            assert value.tobytes() == before.astype(expected).tobytes(), path
    assert persistent(loaded).keys() >= FLOATING
    logits, features = loaded(IDS)  # the converted model runs
    assert bool(jnp.isfinite(logits.astype(jnp.float32)).all() & jnp.isfinite(features).all())


def test_load_with_a_dtype_is_strict_about_keys_not_floating_dtypes(net: Net, saved: Path) -> None:
    loaded = Net.from_pretrained(saved, dtype=jnp.bfloat16, strict=True)
    assert loaded.blocks[0].linear.kernel.get_value().dtype == jnp.bfloat16


def test_an_integer_dtype_is_a_type_error(saved: Path, tmp_path: Path, net: Net) -> None:
    with pytest.raises(TypeError, match="floating"):
        Net.from_pretrained(saved, dtype=jnp.int32)
    with pytest.raises(TypeError, match="floating"):
        net.save_pretrained(tmp_path / "out", dtype=jnp.int8)
    assert not (tmp_path / "out").exists()


def test_save_converts_floating_tensors_only(net: Net, tmp_path: Path) -> None:
    net.save_pretrained(tmp_path, dtype=jnp.bfloat16)
    dtypes = _file_dtypes(tmp_path)
    assert dtypes["blocks.0.linear.weight"] == np.dtype(jnp.bfloat16)
    assert dtypes["bn.running_var"] == np.dtype(jnp.bfloat16)
    assert dtypes["blocks.0.offsets"] == np.int32
    assert dtypes["blocks.0.calls"] == np.int32
    assert {str(d) for d in dtypes.values()} == {"bfloat16", "int32"}
    assert net.blocks[0].linear.kernel.get_value().dtype == jnp.float32  # the model itself is not converted


def test_a_checkpoint_saved_in_bfloat16_loads_back(net: Net, tmp_path: Path) -> None:
    net.save_pretrained(tmp_path, dtype=jnp.bfloat16)
    with pytest.raises(WeightsDtypeError) as info:
        Net.from_pretrained(tmp_path, strict=True)  # strict: the model's float32 is not what the file holds
    assert info.value.found == "BF16" and info.value.expected == "F32"
    assert info.value.key in str(info.value) and str(tmp_path / "model.safetensors") in str(info.value)
    loaded = Net.from_pretrained(tmp_path)  # not strict: converted to the model's dtypes
    kernel = loaded.blocks[0].linear.kernel.get_value()
    assert kernel.dtype == jnp.float32
    rounded = np.asarray(net.blocks[0].linear.kernel.get_value()).astype(jnp.bfloat16).astype(np.float32)
    np.testing.assert_array_equal(np.asarray(kernel), rounded)
    strict = Net.from_pretrained(tmp_path, strict=True, dtype=jnp.bfloat16)
    assert strict.bn.var.get_value().dtype == jnp.bfloat16


FLOAT32 = jnp.dtype("float32")


class DtypeArgs(nnx.Module, FlaxModelHubMixin):
    """Flax's usual ``dtype`` / ``param_dtype`` arguments, annotated loosely, precisely, or not at all."""

    def __init__(  # type: ignore[no-untyped-def]  # param_dtype: no annotation, as in much Flax code
        self,
        dim: int = 4,
        *,
        param_dtype=jnp.float32,
        dtype: Dtype = jnp.float32,
        accumulate: jnp.dtype = FLOAT32,
        scalar=np.float32,
        rngs: nnx.Rngs,
    ) -> None:
        self.settings = (param_dtype, dtype, accumulate, scalar)
        self.linear = nnx.Linear(dim, dim, param_dtype=param_dtype, dtype=dtype, rngs=rngs)


def test_dtype_arguments_round_trip(tmp_path: Path) -> None:
    model = DtypeArgs(
        param_dtype=jnp.bfloat16,
        dtype=jnp.float16,
        accumulate=jnp.dtype("bfloat16"),
        scalar=np.float16,
        rngs=nnx.Rngs(0),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no ConfigEncodingWarning: the dtypes are saved
        model.save_pretrained(tmp_path)
    assert json.loads((tmp_path / "config.json").read_text()) == {
        "dim": 4,
        "param_dtype": "bfloat16",
        "dtype": "float16",
        "accumulate": "bfloat16",
        "scalar": "float16",
    }
    loaded = DtypeArgs.from_pretrained(tmp_path, strict=True)
    assert loaded.settings == (jnp.bfloat16, jnp.float16, jnp.bfloat16, np.float16)
    assert all(isinstance(setting, np.dtype) for setting in loaded.settings)
    assert loaded.linear.kernel.get_value().dtype == jnp.bfloat16
    np.testing.assert_array_equal(
        np.asarray(loaded.linear.kernel.get_value()), np.asarray(model.linear.kernel.get_value())
    )


class DefaultNoneDtype(nnx.Module, FlaxModelHubMixin):
    """``dtype=None`` as Flax's own modules declare it: unannotated, or ``Dtype | None``."""

    def __init__(  # type: ignore[no-untyped-def]
        self, dtype=None, compute_dtype: Dtype | None = None, name: str = "float32", *, rngs: nnx.Rngs
    ) -> None:
        self.settings = (dtype, compute_dtype, name)
        self.linear = nnx.Linear(2, 2, dtype=dtype, rngs=rngs)


def test_a_dtype_argument_defaulting_to_none_comes_back_a_dtype(tmp_path: Path) -> None:
    DefaultNoneDtype(jnp.bfloat16, jnp.float16, rngs=nnx.Rngs(0)).save_pretrained(tmp_path)
    loaded = DefaultNoneDtype.from_pretrained(tmp_path)
    assert loaded.settings == (jnp.bfloat16, jnp.float16, "float32")
    assert [isinstance(setting, np.dtype) for setting in loaded.settings] == [True, True, False]  # str stays str


@dataclasses.dataclass(frozen=True)
class Precision:
    """Dtype fields annotated as Flax's modules (``Dtype | None``) and JAX (``DTypeLike``) annotate them."""

    dtype: Dtype | None = None
    param_dtype: DTypeLike = jnp.float32
    name: str = "float32"


@dataclasses.dataclass(frozen=True)
class DtypeConfig:
    dim: int = 2
    dtype: Dtype | None = None
    precision: Precision = Precision()


class DataclassDtypes(nnx.Module, FlaxModelHubMixin):
    def __init__(self, config: DtypeConfig, *, rngs: nnx.Rngs) -> None:
        self.config = config
        self.linear = nnx.Linear(config.dim, 2, param_dtype=config.precision.param_dtype, rngs=rngs)


class DataclassArgument(nnx.Module, FlaxModelHubMixin):
    def __init__(self, precision: Precision | None = None) -> None:
        self.precision = precision


def test_dtype_fields_of_a_dataclass_config_come_back_as_dtypes(tmp_path: Path) -> None:
    precision = Precision(jnp.float16, jnp.bfloat16, "float16")
    config = DtypeConfig(dtype=jnp.bfloat16, precision=precision)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no ConfigEncodingWarning: the fields come back as they were given
        DataclassDtypes(config, rngs=nnx.Rngs(0)).save_pretrained(tmp_path / "config")
        DataclassArgument(precision).save_pretrained(tmp_path / "argument")
    loaded = DataclassDtypes.from_pretrained(tmp_path / "config", strict=True)
    assert loaded.config == config
    assert isinstance(loaded.config.dtype, np.dtype)
    assert isinstance(loaded.config.precision.param_dtype, np.dtype)
    assert loaded.linear.kernel.get_value().dtype == jnp.bfloat16
    argument = DataclassArgument.from_pretrained(tmp_path / "argument").precision
    assert argument == precision
    assert argument is not None and isinstance(argument.dtype, np.dtype)
    assert argument.name == "float16"  # a str field stays a str
