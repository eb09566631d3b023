"""A model ``from_pretrained(dtype=...)`` built comes back the same through Keras' own saving and ``clone_model``:
its layers under the policy it was built under, built plainly as Keras does (a value ``build`` assigns is kept);
where Keras cannot build under it (LSTM and GRU under ``bfloat16``), a typed error says to use ``from_pretrained``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import keras
import numpy as np
import pytest

from hubmixin_core.errors import HubMixinValueError
from hubmixin_keras import KerasModelHubMixin

X = np.linspace(-1.0, 1.0, 2 * 5 * 3, dtype="float32").reshape(2, 5, 3)


class Block(keras.layers.Layer):  # type: ignore[misc]
    """Makes its ``Dense`` in ``build``: it takes the global policy of the build, not of ``__init__``."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.norm = keras.layers.LayerNormalization()

    def build(self, input_shape: Any) -> None:
        self.proj = keras.layers.Dense(4)
        self.proj.build(input_shape)
        self.norm.build((*input_shape[:-1], 4))

    def call(self, x: Any) -> Any:
        return self.norm(self.proj(x))


class Recurrent(keras.Model, KerasModelHubMixin):  # type: ignore[misc]
    def __init__(self, units: int = 4, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.lstm = keras.layers.LSTM(units, return_sequences=True)
        self.gru = keras.layers.GRU(units, return_sequences=True)
        self.block = Block()
        self.head = keras.layers.Dense(2)

    def call(self, x: Any) -> Any:
        return self.head(self.block(self.gru(self.lstm(x))))


class Plain(keras.Model, KerasModelHubMixin):  # type: ignore[misc]
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.block = Block()
        self.head = keras.layers.Dense(2)

    def call(self, x: Any) -> Any:
        return self.head(self.block(x))


class Scaled(keras.layers.Layer):  # type: ignore[misc]
    """Fills its variable in ``build`` (as a constant table is): the value, not the initialiser's zeros, is kept."""

    def build(self, input_shape: Any) -> None:
        self.scale = self.add_weight(shape=(input_shape[-1],), initializer="zeros", trainable=False, name="scale")
        self.scale.assign(keras.ops.full((input_shape[-1],), 2.0))

    def call(self, x: Any) -> Any:
        return x * self.scale


class Assigned(keras.Model, KerasModelHubMixin):  # type: ignore[misc]
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.dense = keras.layers.Dense(3)
        self.scaled = Scaled()

    def call(self, x: Any) -> Any:
        return self.scaled(self.dense(x))


class BufferInBuild(keras.layers.Layer):  # type: ignore[misc]
    def build(self, input_shape: Any) -> None:
        self.offset = keras.Variable(np.ones(input_shape[-1], "float32"), trainable=False, name="offset")

    def call(self, x: Any) -> Any:
        return x + self.offset


class Buffered(keras.Model, KerasModelHubMixin):  # type: ignore[misc]
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.dense = keras.layers.Dense(3)
        self.buffer = BufferInBuild()

    def call(self, x: Any) -> Any:
        return self.buffer(self.dense(x))


CUSTOM = {"Recurrent": Recurrent, "Plain": Plain, "Block": Block, "Buffered": Buffered}


def _policies(model: keras.Layer) -> list[tuple[str, str]]:
    return [(type(layer).__name__, layer.dtype_policy.name) for layer in model._flatten_layers()]


def _dtypes(model: keras.Layer) -> list[tuple[str, str]]:
    return [(variable.name, str(variable.dtype)) for variable in model.weights]


def _numpy(x: Any) -> np.ndarray[Any, Any]:
    return np.asarray(keras.ops.convert_to_numpy(keras.ops.cast(x, "float32")))


@pytest.fixture
def saved(tmp_path: Path) -> Path:
    model = Recurrent()
    model(X)
    model.save_pretrained(tmp_path / "hub")
    return tmp_path / "hub"


@pytest.mark.parametrize(("cls", "policy"), [(Plain, "bfloat16"), (Recurrent, "mixed_bfloat16")])
def test_keras_file_and_clone_keep_the_policy_from_pretrained_built_under(
    tmp_path: Path, cls: type[keras.Model], policy: str
) -> None:
    model = cls()
    model(X)
    model.save_pretrained(tmp_path / "hub")
    loaded = cls.from_pretrained(tmp_path / "hub", dtype=policy)
    assert {name for _, name in _policies(loaded)} == {policy}
    expected = _numpy(loaded(X))
    loaded.save(tmp_path / "m.keras")

    again = keras.saving.load_model(tmp_path / "m.keras", custom_objects=CUSTOM)

    assert _policies(again) == _policies(loaded)
    assert _dtypes(again) == _dtypes(loaded)
    for mine, theirs in zip(again.weights, loaded.weights, strict=True):
        np.testing.assert_array_equal(_numpy(mine), _numpy(theirs))
    np.testing.assert_array_equal(_numpy(again(X)), expected)
    assert again.get_config()["hubmixin_dtype_policy"] == policy  # kept for the next save

    clone = keras.models.clone_model(loaded)
    assert _policies(clone) == _policies(loaded) and _dtypes(clone) == _dtypes(loaded)


def test_lstm_under_bfloat16_keras_cannot_build_is_a_typed_error(saved: Path) -> None:
    loaded = Recurrent.from_pretrained(saved, dtype="bfloat16")  # built from the checkpoint: no initialiser run
    assert _numpy(loaded(X)).shape == (2, 5, 2)

    with pytest.raises(HubMixinValueError, match=r"Recurrent.*'bfloat16'.*from_pretrained\(dtype='bfloat16'\)"):
        keras.models.clone_model(loaded)  # Keras' build runs Orthogonal's QR: no bfloat16 kernel on CPU


@pytest.mark.parametrize("policy", ["bfloat16", "float16"])
def test_a_value_assigned_in_build_is_kept_by_a_clone(tmp_path: Path, policy: str) -> None:
    model = Assigned()
    model(X)
    model.save_pretrained(tmp_path / "hub")

    clone = keras.models.clone_model(Assigned.from_pretrained(tmp_path / "hub", dtype=policy))

    assert str(clone.scaled.scale.dtype) == policy
    np.testing.assert_array_equal(_numpy(clone.scaled.scale), [2.0, 2.0, 2.0])


def test_a_model_from_pretrained_without_dtype_records_no_policy(saved: Path) -> None:
    assert "hubmixin_dtype_policy" not in Recurrent.from_pretrained(saved).get_config()


def test_a_bad_policy_in_the_keras_config_is_a_typed_error(saved: Path) -> None:
    config = Recurrent.from_pretrained(saved, dtype="bfloat16").get_config()
    with pytest.raises(HubMixinValueError, match="float99"):
        Recurrent.from_config({**config, "hubmixin_dtype_policy": "float99"})


def test_a_variable_from_a_value_in_build_under_bfloat16_loads_as_keras_builds_it(tmp_path: Path) -> None:
    model = Buffered()
    model(X)
    model.save_pretrained(tmp_path / "hub")
    loaded = Buffered.from_pretrained(tmp_path / "hub", dtype="bfloat16")
    loaded.save(tmp_path / "m.keras")

    again = keras.saving.load_model(tmp_path / "m.keras", custom_objects=CUSTOM)

    np.testing.assert_array_equal(_numpy(again.buffer.offset), np.ones(3))
    if keras.backend.backend() != "tensorflow":  # Keras' build keeps the value's float32, which TensorFlow will
        np.testing.assert_array_equal(_numpy(again(X)), _numpy(loaded(X)))  # not add to bfloat16 (Keras' own)
