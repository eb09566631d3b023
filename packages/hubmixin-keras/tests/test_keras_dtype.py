"""bfloat16 models, ``dtype=`` on load and on save: floating variables converted, integer ones left as they are."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import keras
import ml_dtypes
import numpy as np
import pytest
from keras_models import Net, assert_same_variables, canonical, keras_variables, make_net, numpy, outputs
from safetensors import safe_open

from hubmixin_core.errors import HubMixinTypeError, HubMixinValueError, WeightsDtypeError


def _file_dtypes(directory: Path) -> dict[str, Any]:
    with safe_open(str(directory / "model.safetensors"), framework="numpy") as f:
        keys: list[str] = f.keys()
        return {k: f.get_tensor(k).dtype for k in keys}


@pytest.fixture(scope="module")
def bf16_net() -> Net:
    """A ``Net`` built under the ``"bfloat16"`` dtype policy: bfloat16 variables and computations."""
    return make_net(seed=3, policy="bfloat16")


def test_a_bfloat16_model_round_trips_bit_exact(bf16_net: Net, tmp_path: Path) -> None:
    assert str(bf16_net.blocks[0].dense.kernel.dtype) == "bfloat16"
    bf16_net.save_pretrained(tmp_path)
    dtypes = _file_dtypes(tmp_path)
    assert {str(d) for d in dtypes.values()} == {"bfloat16", "int32"}
    assert dtypes["scale.steps"] == np.int32
    loaded = Net.from_pretrained(tmp_path, dtype="bfloat16", strict=True)
    assert keras.config.dtype_policy().name == "float32"  # the global policy is restored
    assert loaded.dtype_policy.name == "bfloat16"
    assert_same_variables(bf16_net, loaded)
    for ours, theirs in zip(outputs(bf16_net), outputs(loaded), strict=True):
        np.testing.assert_array_equal(ours, theirs)


def test_a_bfloat16_checkpoint_is_strict_about_float32_models(bf16_net: Net, tmp_path: Path) -> None:
    bf16_net.save_pretrained(tmp_path)
    with pytest.raises(WeightsDtypeError) as info:
        Net.from_pretrained(tmp_path, strict=True)  # strict: the model's float32 is not what the file holds
    assert info.value.found == "BF16" and info.value.expected == "F32"
    assert info.value.key in str(info.value) and str(tmp_path / "model.safetensors") in str(info.value)
    loaded = Net.from_pretrained(tmp_path)  # not strict: converted to the model's float32
    kernel = numpy(loaded.blocks[0].dense.kernel)
    assert kernel.dtype == np.float32
    np.testing.assert_array_equal(kernel, numpy(bf16_net.blocks[0].dense.kernel).astype(np.float32))


@pytest.mark.parametrize(("dtype", "expected"), [("bfloat16", ml_dtypes.bfloat16), ("float16", np.float16)])
def test_load_converts_floating_variables_only(net: Net, saved: Path, dtype: str, expected: Any) -> None:
    loaded = Net.from_pretrained(saved, dtype=dtype, strict=True)
    original = keras_variables(net)
    for key, variable in keras_variables(loaded).items():
        value, before = numpy(variable), numpy(original[key])
        if before.dtype == np.int32:
            assert value.dtype == np.int32, key
            np.testing.assert_array_equal(value, before)
        else:
            assert value.dtype == np.dtype(expected), key
            assert value.tobytes() == before.astype(expected).tobytes(), key
    if dtype == "bfloat16":  # the converted model runs (float16 would only cost jax another round of compiles)
        assert all(np.isfinite(out).all() for out in outputs(loaded))


def test_save_converts_floating_tensors_only(net: Net, tmp_path: Path) -> None:
    net.save_pretrained(tmp_path, dtype="bfloat16")
    dtypes = _file_dtypes(tmp_path)
    assert {str(d) for d in dtypes.values()} == {"bfloat16", "int32"}
    assert dtypes["blocks.0.dense.weight"] == ml_dtypes.bfloat16 and dtypes["scale.steps"] == np.int32
    assert str(net.blocks[0].dense.kernel.dtype) == "float32"  # the model itself is not converted
    loaded = Net.from_pretrained(tmp_path, dtype="bfloat16", strict=True)
    for key, value in canonical(net).items():
        expected = value if value.dtype == np.int32 else value.astype(ml_dtypes.bfloat16)
        assert canonical(loaded)[key].tobytes() == expected.tobytes(), key


def test_an_integer_dtype_is_a_type_error(net: Net, saved: Path, tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="floating"):
        Net.from_pretrained(saved, dtype="int32")
    with pytest.raises(TypeError, match="floating"):
        net.save_pretrained(tmp_path / "out", dtype="int8")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("dtype", ["int8", "string", "bool"])  # "int8": Keras reads it as a quantization mode
def test_a_dtype_that_is_not_floating_is_a_typed_error(saved: Path, dtype: str) -> None:
    with pytest.raises(HubMixinTypeError, match=f"floating.*got '{dtype}'"):
        Net.from_pretrained(saved, dtype=dtype)


def test_the_backends_own_dtype_is_taken_on_save_as_on_load(net: Net, saved: Path, tmp_path: Path) -> None:
    half = keras.ops.convert_to_tensor(np.zeros(1, "float16")).dtype  # torch.float16 on torch, tf.float16 on TF
    net.save_pretrained(tmp_path / "half", dtype=half)
    dtypes = set(_file_dtypes(tmp_path / "half").values())
    assert np.dtype("float16") in dtypes and np.dtype("float32") not in dtypes
    assert str(Net.from_pretrained(saved, dtype=half).blocks[0].dense.kernel.dtype) == "float16"


def test_a_mixed_precision_policy_keeps_float32_variables(net: Net, saved: Path) -> None:
    loaded = Net.from_pretrained(saved, dtype="mixed_bfloat16", strict=True)
    assert keras.config.dtype_policy().name == "float32"  # the global policy is restored
    assert loaded.dtype_policy.name == "mixed_bfloat16"
    dense = loaded.blocks[0].dense
    assert (str(dense.kernel.dtype), dense.compute_dtype) == ("float32", "bfloat16")
    assert_same_variables(net, loaded)  # float32 variables hold the file's float32 tensors, unconverted
    assert all(np.isfinite(out).all() for out in outputs(loaded))


@pytest.mark.parametrize("dtype", ["mixed_bfloat17", "int8_from_float32"])
def test_a_dtype_keras_has_no_policy_for_is_named(saved: Path, dtype: str) -> None:
    with pytest.raises(HubMixinValueError, match=dtype):
        Net.from_pretrained(saved, dtype=dtype)
