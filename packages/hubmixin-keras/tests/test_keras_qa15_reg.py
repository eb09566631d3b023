"""A repeated variable name that no retried build explains is saved; a variable tied across layouts is saved
under each path in its own layout."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pytest
from safetensors import safe_open
from safetensors.numpy import save_file

from hubmixin_core.errors import WeightsError
from hubmixin_keras import KerasModelHubMixin

X = np.ones((1, 4), "float32")


def _tensors(file: Path) -> dict[str, np.ndarray[Any, Any]]:
    with safe_open(str(file), "np") as handle:
        keys: list[str] = handle.keys()
        return {key: handle.get_tensor(key) for key in keys}


class Scaled(keras.layers.Layer):  # type: ignore[misc]
    """Two variables named ``w``: one held by an attribute, one its call reads through ``self.weights``."""

    def build(self, input_shape: Any) -> None:
        self.scale = self.add_weight(shape=(4,), name="w", initializer="random_normal")
        self.add_weight(shape=(4,), name="w", initializer="random_normal")

    def call(self, x: Any) -> Any:
        return x * self.scale + self.weights[1]


class UsesWeights(keras.Model, KerasModelHubMixin):  # type: ignore[misc]
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.l = Scaled()

    def call(self, x: Any) -> Any:
        return self.l(x)


def test_a_same_named_variable_reached_only_through_weights_is_saved(tmp_path: Path) -> None:
    model = UsesWeights()
    model(X)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.save_pretrained(tmp_path / "m")
    tensors = _tensors(tmp_path / "m" / "model.safetensors")
    assert sorted(tensors) == ["l.scale", "l.w"]
    np.testing.assert_array_equal(tensors["l.w"], keras.ops.convert_to_numpy(model.l.weights[1]))
    loaded = UsesWeights.from_pretrained(tmp_path / "m", strict=True)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(loaded(X)), keras.ops.convert_to_numpy(model(X)))


class RawShared(keras.layers.Layer):  # type: ignore[misc]
    """Computes ``x @ kernel`` with another layer's ``Dense`` kernel, held raw (``[in, out]``, no adapter)."""

    def __init__(self, source: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.source = source

    def build(self, input_shape: Any) -> None:
        if not self.source.built:
            self.source.build(input_shape)
        self.tied = self.source.kernel

    def call(self, x: Any) -> Any:
        return x @ self.tied


class TiedAcrossLayouts(keras.Model, KerasModelHubMixin):  # type: ignore[misc]
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.a = keras.layers.Dense(4, use_bias=False)
        self.b = RawShared(self.a)

    def call(self, x: Any) -> Any:
        return self.b(self.a(x))


def test_a_variable_tied_across_layouts_is_saved_under_each_path_in_its_layout(tmp_path: Path) -> None:
    model = TiedAcrossLayouts()
    x = np.random.default_rng(0).normal(size=(2, 4)).astype("float32")
    model(x)
    model.save_pretrained(tmp_path / "m")
    with safe_open(str(tmp_path / "m" / "model.safetensors"), "np") as handle:
        metadata = handle.metadata()
    tensors = _tensors(tmp_path / "m" / "model.safetensors")
    kernel = keras.ops.convert_to_numpy(model.a.kernel)
    np.testing.assert_array_equal(tensors["a.weight"], kernel.T)  # PyTorch's Linear layout
    np.testing.assert_array_equal(tensors["b.tied"], kernel)  # the raw variable's own
    assert metadata.get("b.tied") is None
    loaded = TiedAcrossLayouts.from_pretrained(tmp_path / "m", strict=True)
    assert loaded.b.tied is loaded.a.kernel
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(loaded(x)), keras.ops.convert_to_numpy(model(x)))


def test_copies_of_a_tied_variable_holding_other_values_are_refused_strictly(tmp_path: Path) -> None:
    model = TiedAcrossLayouts()
    model(X)
    model.save_pretrained(tmp_path / "m")
    file = tmp_path / "m" / "model.safetensors"
    with safe_open(str(file), "np") as handle:
        metadata = handle.metadata()
    save_file({**_tensors(file), "b.tied": np.zeros((4, 4), "float32")}, str(file), metadata=metadata)
    with pytest.raises(WeightsError, match=r"'a\.weight', 'b\.tied' are one variable"):
        TiedAcrossLayouts.from_pretrained(tmp_path / "m", strict=True)
    loaded = TiedAcrossLayouts.from_pretrained(tmp_path / "m")
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(loaded.a.kernel), keras.ops.convert_to_numpy(model.a.kernel)
    )
