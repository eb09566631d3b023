"""Every tensor of another shape or dtype named in one error, with the missing and unexpected keys, as torch's
``load_state_dict`` lists them (``check_tensors``, ``check_checkpoint`` and ``mismatch_error``)."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from safetensors.numpy import save_file

from hubmixin_core.errors import WeightsDtypeError, WeightsKeyError, WeightsShapeError
from hubmixin_core.weights import TensorInfo, check_checkpoint, check_tensors, mismatch_error, open_checkpoint

EXPECTED = {
    "a": TensorInfo((2,), "F32"),
    "b": TensorInfo((3, 2), "F32"),
    "c": TensorInfo((2,), "F32"),
    "d": TensorInfo((4,), "F32"),
}
FOUND = {
    "a": TensorInfo((2,), "BF16"),
    "b": TensorInfo((2, 3), "F32"),
    "c": TensorInfo((5,), "F32"),
    "e": TensorInfo((1,), "F32"),
}


def test_check_tensors_names_every_mismatch_and_with_strict_the_keys() -> None:
    with pytest.raises(WeightsShapeError) as info:
        check_tensors(EXPECTED, FOUND, source="ckpt")
    error = info.value
    assert isinstance(error, RuntimeError)
    assert (error.key, error.expected, error.found) == ("b", (3, 2), (2, 3))  # shapes first, then by name
    assert [(type(m), m.key, m.expected, m.found) for m in error.mismatches] == [
        (WeightsShapeError, "b", (3, 2), (2, 3)),
        (WeightsShapeError, "c", (2,), (5,)),
        (WeightsDtypeError, "a", "F32", "BF16"),
    ]
    assert (error.missing, error.unexpected) == (["d"], ["e"])
    assert str(error) == (
        "ckpt: tensor 'b' has shape (2, 3), the model expects (3, 2); 4 more:\n"
        "  tensor 'c' has shape (5,), the model expects (2,)\n"
        "  tensor 'a' has dtype BF16, the model expects F32\n"
        "  missing keys ['d']\n"
        "  unexpected keys ['e']"
    )


def test_without_strict_the_keys_are_not_errors_and_not_named() -> None:
    with pytest.raises(WeightsShapeError) as info:
        check_tensors(EXPECTED, FOUND, source="ckpt", strict=False, check_dtype=False)
    assert [m.key for m in info.value.mismatches] == ["b", "c"]
    assert (info.value.missing, info.value.unexpected) == ([], [])
    assert "keys" not in str(info.value)


def test_dtype_mismatches_alone_are_one_dtype_error() -> None:
    found = {**EXPECTED, "a": TensorInfo((2,), "F16"), "d": TensorInfo((4,), "I64")}
    with pytest.raises(WeightsDtypeError) as info:
        check_tensors(EXPECTED, found, source="ckpt")
    assert [(m.key, m.found) for m in info.value.mismatches] == [("a", "F16"), ("d", "I64")]
    assert isinstance(info.value, RuntimeError) and isinstance(info.value, TypeError)


def test_one_mismatch_keeps_its_message() -> None:
    single = WeightsShapeError("shard-1.safetensors", "w", (2,), (3,))
    assert mismatch_error([single]) is single
    with pytest.raises(ValueError, match="at least one"):
        mismatch_error([])
    assert str(single) == "shard-1.safetensors: tensor 'w' has shape (3,), the model expects (2,)"
    assert single.mismatches == [single] and (single.missing, single.unexpected) == ([], [])
    with pytest.raises(WeightsKeyError):  # keys alone are still a WeightsKeyError
        check_tensors({"a": EXPECTED["a"]}, {"e": FOUND["e"]}, source="ckpt")


def test_the_error_names_each_tensors_file_and_keeps_the_first_detail() -> None:
    errors = [
        WeightsDtypeError("shard-1.safetensors", "y", "F32", "F16"),
        WeightsDtypeError("shard-2.safetensors", "x", "F32", "I8", detail="never converted"),
        WeightsDtypeError("shard-2.safetensors", "z", "F32", "F16"),
    ]
    combined = mismatch_error(errors)
    assert isinstance(combined, WeightsDtypeError)
    assert (combined.key, combined.detail, combined.source) == ("x", "never converted", "shard-2.safetensors")
    assert str(combined) == (
        "shard-2.safetensors: tensor 'x' has dtype I8, the model expects F32 (never converted); 2 more:\n"
        "  shard-1.safetensors: tensor 'y' has dtype F16, the model expects F32\n"
        "  tensor 'z' has dtype F16, the model expects F32"
    )


def test_an_error_naming_several_survives_pickling() -> None:
    with pytest.raises(WeightsShapeError) as info:
        check_tensors(EXPECTED, FOUND, source="ckpt")
    again = pickle.loads(pickle.dumps(info.value))  # noqa: S301  (our own bytes)
    assert type(again) is WeightsShapeError and str(again) == str(info.value)
    assert [(m.key, m.found) for m in again.mismatches] == [("b", (2, 3)), ("c", (5,)), ("a", "BF16")]
    assert (again.key, again.missing, again.unexpected) == ("b", ["d"], ["e"])


@pytest.mark.parametrize("strict", [False, True])
def test_check_checkpoint_names_every_mismatch_for_every_framework(tmp_path: Path, strict: bool) -> None:
    tensors: dict[str, np.ndarray[Any, Any]] = {
        "a": np.zeros(2, np.float16),  # another floating dtype: an error with strict only
        "b": np.zeros((2, 3), np.float32),
        "c": np.zeros(5, np.float32),
        "i": np.zeros(2, np.float32),  # floating where the model holds integers: always refused
        "e": np.zeros(1, np.float32),
    }
    save_file(tensors, str(tmp_path / "model.safetensors"))
    expected = {**EXPECTED, "i": TensorInfo((2,), "I64")}
    with pytest.raises(WeightsShapeError) as info:
        check_checkpoint(expected, open_checkpoint(tmp_path), strict=strict)
    error = info.value
    assert [m.key for m in error.mismatches] == ["b", "c", *(["a"] if strict else []), "i"]
    assert (error.missing, error.unexpected) == ((["d"], ["e"]) if strict else ([], []))
