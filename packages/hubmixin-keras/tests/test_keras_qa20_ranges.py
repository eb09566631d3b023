"""An int64 value loaded into an int32 variable that cannot hold it is refused, strict or not (a non-strict load
converts the dtype, and wrapped it around: int64 2**40 became 0)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import keras
import numpy as np
import pytest
from safetensors import safe_open
from safetensors.numpy import save_file

from hubmixin_core.errors import WeightsDtypeError
from hubmixin_keras import KerasModelHubMixin


class Narrow(keras.layers.Layer):  # type: ignore[misc]
    def build(self, input_shape: Any) -> None:
        self.seen = self.add_weight(shape=(2,), dtype="int32", initializer="zeros", trainable=False, name="seen")
        self.total = self.add_weight(shape=(2,), dtype="float32", initializer="zeros", trainable=False, name="total")

    def call(self, x: Any) -> Any:
        return x


class Holding(keras.Model, KerasModelHubMixin):  # type: ignore[misc]
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.narrow = Narrow()

    def call(self, x: Any) -> Any:
        return self.narrow(x)


def _checkpoint(folder: Path, seen: np.ndarray[Any, Any], total: np.ndarray[Any, Any]) -> Path:
    """``Holding``'s checkpoint with 64-bit tensors (as PyTorch writes them)."""
    model = Holding()
    model(np.zeros((1, 2), np.float32))
    model.save_pretrained(folder)
    file = folder / "model.safetensors"
    with safe_open(str(file), "np") as handle:
        metadata = handle.metadata()
    save_file({"narrow.seen": seen, "narrow.total": total}, str(file), metadata)
    return folder


@pytest.mark.parametrize("strict", [False, True])
def test_values_out_of_the_variables_range_are_refused(tmp_path: Path, strict: bool) -> None:
    folder = _checkpoint(tmp_path, np.array([7, 2**40], np.int64), np.array([1.5, 2.5]))
    with pytest.raises(WeightsDtypeError, match=r"narrow\.seen.*I64.*I32"):
        Holding.from_pretrained(folder, strict=strict)
    if strict:
        return
    folder = _checkpoint(tmp_path, np.array([7, 8], np.int64), np.array([1.5, 1e300]))
    with np.errstate(over="ignore"):  # a float64 beyond float32's range: infinite, as PyTorch's copy makes it
        loaded = Holding.from_pretrained(folder, strict=False)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(loaded.narrow.total), np.array([1.5, np.inf], np.float32))


def test_values_in_range_load_converted_when_not_strict(tmp_path: Path) -> None:
    folder = _checkpoint(tmp_path, np.array([7, -(2**31)], np.int64), np.array([1.5, -3e38]))
    loaded = Holding.from_pretrained(folder, strict=False)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(loaded.narrow.seen), [7, -(2**31)])
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(loaded.narrow.total), np.array([1.5, -3e38], np.float32))
