"""On the PyTorch backend, a loaded model's variables are torch parameters (QA round 24, keras10 #1):
``state_dict()`` holds every one, ``.double()`` reaches them, ``load_state_dict`` takes another load's.
``from_pretrained`` builds the layers inside a stateless scope, where Keras registers none; the loaded model
registers them as Keras registers a model's at the end of its build.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import keras
import numpy as np
import pytest

from hubmixin_core.errors import WeightsShapeError
from hubmixin_keras import KerasModelHubMixin

pytestmark = pytest.mark.skipif(
    keras.backend.backend() != "torch", reason="the PyTorch backend's own: only there is a Keras layer a torch module"
)

X = np.random.default_rng(0).normal(size=(2, 3)).astype(np.float32)


class Flat(keras.Model, KerasModelHubMixin):  # type: ignore[misc]
    """No ``build`` of its own: a call builds its layers symbolically, and only the model registers variables."""

    def __init__(self, units: int = 4, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.fc1 = keras.layers.Dense(units)
        self.bn = keras.layers.BatchNormalization()
        self.fc2 = keras.layers.Dense(2)

    def call(self, x: Any) -> Any:
        return self.fc2(self.bn(self.fc1(x)))


class Nested(keras.Model, KerasModelHubMixin):  # type: ignore[misc]
    """A ``Sequential`` attribute, an embedding, a dropout and an LSTM."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.seq = keras.Sequential([keras.layers.Dense(3), keras.layers.BatchNormalization()])
        self.drop = keras.layers.Dropout(0.1)
        self.embed = keras.layers.Embedding(10, 3)
        self.lstm = keras.layers.LSTM(3)

    def call(self, x: Any) -> Any:
        h = self.drop(self.seq(x))
        ids = keras.ops.cast(keras.ops.abs(h) * 3, "int32") % 10
        return self.lstm(self.embed(ids)) + h


class Scale(keras.layers.Layer):  # type: ignore[misc]
    """Defines ``__eq__``: not hashable."""

    def build(self, input_shape: Any) -> None:
        self.scale = self.add_weight(shape=(input_shape[-1],), initializer="ones", name="scale")

    def call(self, x: Any) -> Any:
        return x * self.scale

    def __eq__(self, other: object) -> bool:
        return self is other


class Unhashable(keras.Model, KerasModelHubMixin):  # type: ignore[misc]
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.scale = Scale()
        self.fc = keras.layers.Dense(2)

    def call(self, x: Any) -> Any:
        return self.fc(self.scale(x))


class WithBody(keras.Model, KerasModelHubMixin):  # type: ignore[misc]
    def __init__(self, units: int = 3, body: keras.Layer | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.body = body if body is not None else keras.layers.Dense(4)
        self.fc = keras.layers.Dense(units)

    def call(self, x: Any) -> Any:
        return self.fc(self.body(x))


def _saved(model: keras.Layer, path: Path) -> Path:
    model(X)
    model.save_pretrained(path)
    return path


def _state(model: keras.Layer) -> dict[str, np.ndarray[Any, Any]]:
    return {k: v.detach().cpu().numpy() for k, v in model.state_dict().items()}


@pytest.mark.parametrize("make", [Flat, Nested, Unhashable])
def test_state_dict_holds_every_variable_of_a_loaded_model(make: type[keras.Model], tmp_path: Path) -> None:
    built = make()
    loaded = make.from_pretrained(_saved(built, tmp_path / "model"))
    state = _state(loaded)
    for variable in loaded.weights:
        np.testing.assert_array_equal(state[f"_torch_params.{variable.path}"], keras.ops.convert_to_numpy(variable))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(loaded(X)), keras.ops.convert_to_numpy(built(X)), atol=1e-6)


def test_a_loaded_models_keys_are_a_built_ones_where_only_the_model_registers(tmp_path: Path) -> None:
    keras.backend.clear_session()  # (the keys are the variables' paths, named by process-wide counters)
    built = Flat()
    _saved(built, tmp_path / "model")
    keras.backend.clear_session()
    loaded = Flat.from_pretrained(tmp_path / "model")
    assert sorted(loaded.state_dict()) == sorted(built.state_dict())
    loaded.load_state_dict(built.state_dict())


def test_load_state_dict_takes_another_loads_and_double_reaches_the_weights(tmp_path: Path) -> None:
    directory = _saved(Nested(), tmp_path / "model")
    keras.backend.clear_session()  # (each load in a fresh session: the keys are the variables' paths)
    first = Nested.from_pretrained(directory)
    keras.backend.clear_session()
    second = Nested.from_pretrained(directory)
    for variable in first.weights:
        if variable.dtype == "float32":
            variable.assign(variable + 1)
    second.load_state_dict(first.state_dict())
    np.testing.assert_allclose(keras.ops.convert_to_numpy(second(X)), keras.ops.convert_to_numpy(first(X)), atol=1e-6)
    second.double()
    assert {str(v.value.dtype) for v in second.weights if v.value.is_floating_point()} == {"torch.float64"}


def test_a_failed_load_registers_nothing(tmp_path: Path) -> None:
    directory = _saved(WithBody(), tmp_path / "model")
    body = keras.layers.Dense(4)
    body(X)
    registered, keys = body._torch_params, list(body._torch_params)
    with pytest.raises(WeightsShapeError):
        WithBody.from_pretrained(directory, model_kwargs={"units": 5, "body": body})
    assert body._torch_params is registered and list(registered) == keys
    loaded = WithBody.from_pretrained(directory, model_kwargs={"body": body})
    assert body._torch_params is registered and hasattr(loaded, "_torch_params")


def test_a_load_inside_a_stateless_scope_registers_nothing(tmp_path: Path) -> None:
    """As Keras registers nothing for a model built inside one."""
    directory = _saved(Flat(), tmp_path / "model")
    with keras.StatelessScope():
        loaded = Flat.from_pretrained(directory)
    assert not [layer for layer in loaded.modules() if hasattr(layer, "_torch_params")]
