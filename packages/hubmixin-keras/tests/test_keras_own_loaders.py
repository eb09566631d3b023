"""A layer overriding ``load_own_variables`` to derive state from its variables gets it called after a load, as
Keras' ``load_weights`` does: an adapted ``Normalization`` computes with the statistics it was saved with."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import keras
import numpy as np
import pytest
from keras_models import numpy

from hubmixin_keras import KerasModelHubMixin

X = (np.random.default_rng(0).standard_normal((16, 3)) * 5 + 10).astype(np.float32)


class Standardized(keras.Model, KerasModelHubMixin):  # type: ignore[misc]
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.norm = keras.layers.Normalization()
        self.head = keras.layers.Dense(2)

    def call(self, x: Any) -> Any:
        return self.head(self.norm(x))


def test_an_adapted_normalization_computes_with_its_loaded_statistics(tmp_path: Path) -> None:
    model = Standardized()
    model.norm.adapt(X)
    expected = numpy(model(X))
    model.save_pretrained(tmp_path)

    loaded = Standardized.from_pretrained(tmp_path, strict=True)

    np.testing.assert_array_equal(numpy(loaded.norm.mean), numpy(model.norm.mean))
    np.testing.assert_array_equal(numpy(loaded(X)), expected)


class Counted(keras.layers.Layer):  # type: ignore[misc]
    """Derives ``total`` from its variable in ``load_own_variables``, and refuses negative values."""

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        self.w = self.add_weight(shape=(input_shape[-1],), initializer="ones", name="w")
        self.total = 0.0

    def load_own_variables(self, store: dict[str, Any]) -> None:
        super().load_own_variables(store)
        value = numpy(self.w)
        if (value < 0).any():
            raise ValueError("negative weights")
        self.total = float(value.sum())

    def call(self, x: Any) -> Any:
        return x * self.w + self.total


class UsesCounted(keras.Model, KerasModelHubMixin):  # type: ignore[misc]
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.counted = Counted()

    def call(self, x: Any) -> Any:
        return self.counted(x)


def test_a_custom_load_own_variables_runs_and_its_errors_name_the_layer(tmp_path: Path) -> None:
    model = UsesCounted()
    model(X)
    model.counted.w.assign(np.array([1.0, 2.0, 3.0], np.float32))
    model.save_pretrained(tmp_path / "good")
    assert UsesCounted.from_pretrained(tmp_path / "good", strict=True).counted.total == 6.0

    model.counted.w.assign(np.array([1.0, -2.0, 3.0], np.float32))
    model.save_pretrained(tmp_path / "bad")
    with pytest.raises(ValueError, match="negative weights") as raised:
        UsesCounted.from_pretrained(tmp_path / "bad")
    assert "layer 'counted'" in "".join(raised.value.__notes__)
