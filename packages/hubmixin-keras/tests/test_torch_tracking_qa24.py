"""On the PyTorch backend, a loaded model's variables are torch parameters as a built model's are (QA round 24,
keras10 #1): ``state_dict()`` holds them under the same keys, ``.double()`` reaches them, ``load_state_dict``
takes a built model's. ``from_pretrained`` builds the layers inside a stateless scope, where Keras registers none.

Each model is built by a call in one Keras session and loaded in a fresh one (``keras.backend.clear_session()``),
as in another process: Keras names layers and seed generators by process-wide counters, and the ``state_dict``
keys are the variables' paths. Seed generators' states are drawn afresh at each construction (never saved).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
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
    """No ``build`` of its own: a call builds its layers symbolically (only the model and the ``Dropout``, built at
    construction, register their variables)."""

    def __init__(self, units: int = 4, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.fc1 = keras.layers.Dense(units)
        self.drop = keras.layers.Dropout(0.1)
        self.bn = keras.layers.BatchNormalization()
        self.fc2 = keras.layers.Dense(2)

    def call(self, x: Any) -> Any:
        return self.fc2(self.bn(self.drop(self.fc1(x))))


class Block(keras.layers.Layer):  # type: ignore[misc]
    """Builds its sub-layers in its own ``build``."""

    def __init__(self, units: int = 3, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.units = units
        self.a = keras.layers.Dense(units)
        self.b = keras.layers.Dense(units)

    def build(self, input_shape: Any) -> None:
        self.a.build(input_shape)
        self.b.build((None, self.units))

    def call(self, x: Any) -> Any:
        return self.b(self.a(x))

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "units": self.units}


class Inner(keras.Model):  # type: ignore[misc]
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.dense = keras.layers.Dense(3)
        self.block = Block(3)

    def call(self, x: Any) -> Any:
        return self.block(self.dense(x))


class Nested(keras.Model, KerasModelHubMixin):  # type: ignore[misc]
    """A nested model, a ``Sequential`` attribute, an embedding, a batch norm and an LSTM."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.inner = Inner()
        self.seq = keras.Sequential([keras.layers.Dense(3), keras.layers.BatchNormalization()])
        self.embed = keras.layers.Embedding(10, 3)
        self.lstm = keras.layers.LSTM(3)

    def call(self, x: Any) -> Any:
        h = self.seq(self.inner(x))
        ids = keras.ops.cast(keras.ops.abs(h) * 3, "int32") % 10
        return self.lstm(self.embed(ids)) + h


class OwnBuild(keras.Model, KerasModelHubMixin):  # type: ignore[misc]
    """Its ``build`` builds one layer and makes a weight; the others are built at its (eager) first call, each
    registering its own variables, not in the model's."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.fc1 = keras.layers.Dense(4)
        self.block = Block(4)
        self.fc2 = keras.layers.Dense(2)

    def build(self, input_shape: Any) -> None:
        self.fc1.build(input_shape)
        self.shift = self.add_weight(shape=(4,), initializer="ones", name="shift")

    def call(self, x: Any) -> Any:
        return self.fc2(self.block(self.fc1(x) + self.shift))


class WithInput(keras.Sequential, KerasModelHubMixin):  # type: ignore[misc]
    """Built at construction: its layers register their variables then."""

    def __init__(self, units: int = 4, **kwargs: Any) -> None:
        super().__init__([keras.Input((3,)), keras.layers.Dense(units), keras.layers.Dense(2)], **kwargs)


class WrapsATorchModule(keras.Model, KerasModelHubMixin):  # type: ignore[misc]
    """A ``TorchModuleWrapper``, marked built at construction without a build: Keras registers none for it (the
    torch module's own parameters and buffers are in ``state_dict()`` as a sub-module's)."""

    def __init__(self, **kwargs: Any) -> None:
        import torch

        super().__init__(**kwargs)
        self.torch = keras.layers.TorchModuleWrapper(
            torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4))
        )
        self.fc = keras.layers.Dense(2)

    def call(self, x: Any) -> Any:
        return self.fc(self.torch(x))


class Part(keras.Model, KerasModelHubMixin):  # type: ignore[misc]
    def __init__(self, units: int = 3, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.dense = keras.layers.Dense(units)
        self.drop = keras.layers.Dropout(0.2)

    def call(self, x: Any) -> Any:
        return self.drop(self.dense(x))


class LoadsPart(keras.Model, KerasModelHubMixin):  # type: ignore[misc]
    """Its ``__init__`` loads a part of itself: a load inside the enclosing load's stateless scope."""

    def __init__(self, part_dir: str = "", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.part = Part.from_pretrained(part_dir) if part_dir else Part()
        self.head = keras.layers.Dense(2)

    def call(self, x: Any) -> Any:
        return self.head(self.part(x))


class FromValue(keras.Model, KerasModelHubMixin):  # type: ignore[misc]
    """Makes a variable from a value, which Keras refuses to defer: the load constructs it outside the scope."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.offset = keras.Variable(np.ones(3, "float32"), name="offset")
        self.fc = keras.layers.Dense(3)

    def call(self, x: Any) -> Any:
        return self.fc(x) + self.offset


class WithBody(keras.Model, KerasModelHubMixin):  # type: ignore[misc]
    def __init__(self, units: int = 3, body: keras.Layer | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.body = body if body is not None else keras.layers.Dense(4)
        self.fc = keras.layers.Dense(units)

    def call(self, x: Any) -> Any:
        return self.fc(self.body(x))


def _seedless(key: str) -> str:
    return re.sub(r"seed_generator(_\d+)?", "seed_generator", key)


def _state(model: keras.Layer) -> dict[str, np.ndarray[Any, Any]]:
    """``model.state_dict()`` as arrays, seed generators' states left out."""
    return {k: v.detach().cpu().numpy() for k, v in model.state_dict().items() if "seed_generator" not in k}


def _built_then_loaded(make: Callable[[], keras.Layer], tmp_path: Path) -> tuple[keras.Layer, keras.Layer]:
    """``make()`` built by a call and saved, then loaded in a fresh Keras session."""
    keras.backend.clear_session()
    built = make()
    built(X)
    built.save_pretrained(tmp_path / "model")
    keras.backend.clear_session()
    return built, type(built).from_pretrained(tmp_path / "model")


def _part_dir(tmp_path: Path) -> str:
    keras.backend.clear_session()
    part = Part()
    part(X)
    part.save_pretrained(tmp_path / "part")
    return str(tmp_path / "part")


MODELS: dict[str, Callable[[Path], Callable[[], keras.Layer]]] = {
    "flat": lambda _: Flat,
    "nested": lambda _: Nested,
    "own_build": lambda _: OwnBuild,
    "sequential_with_input": lambda _: WithInput,
    "torch_module": lambda _: WrapsATorchModule,
    "loads_a_part": lambda tmp_path: functools.partial(LoadsPart, _part_dir(tmp_path)),
    "variable_from_a_value": lambda _: FromValue,
}


@pytest.mark.parametrize("kind", MODELS)
def test_a_loaded_models_state_dict_is_a_built_ones(kind: str, tmp_path: Path) -> None:
    built, loaded = _built_then_loaded(MODELS[kind](tmp_path), tmp_path)
    assert sorted(map(_seedless, built.state_dict())) == sorted(map(_seedless, loaded.state_dict()))
    ours, theirs = _state(built), _state(loaded)
    assert ours, "the built model registers its variables"
    for key, value in ours.items():
        np.testing.assert_array_equal(theirs[key], value, err_msg=key)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(loaded(X)), keras.ops.convert_to_numpy(built(X)), atol=1e-6)


@pytest.mark.parametrize("kind", ["flat", "nested"])
def test_load_state_dict_takes_a_built_models_and_gives_it_back(kind: str, tmp_path: Path) -> None:
    built, loaded = _built_then_loaded(MODELS[kind](tmp_path), tmp_path)
    seeds = {_seedless(key): key for key in loaded.state_dict()}
    loaded.load_state_dict({seeds[_seedless(key)]: value for key, value in built.state_dict().items()})
    for variable in loaded.weights:  # (other values to give back)
        if variable.dtype == "float32":
            variable.assign(variable + 1)
    back = {_seedless(key): key for key in built.state_dict()}
    built.load_state_dict({back[_seedless(key)]: value for key, value in loaded.state_dict().items()})
    np.testing.assert_allclose(keras.ops.convert_to_numpy(built(X)), keras.ops.convert_to_numpy(loaded(X)), atol=1e-6)


def test_double_reaches_a_loaded_models_weights(tmp_path: Path) -> None:
    built, loaded = _built_then_loaded(Nested, tmp_path)
    built.double()
    loaded.double()
    dtypes = {str(v.value.dtype) for v in loaded.weights if v.value.is_floating_point()}
    assert dtypes == {str(v.value.dtype) for v in built.weights if v.value.is_floating_point()} == {"torch.float64"}


def test_a_failed_load_registers_nothing(tmp_path: Path) -> None:
    built, _ = _built_then_loaded(WithBody, tmp_path)
    body = keras.layers.Dense(4)
    body(X)
    registered = body._torch_params
    keys = list(registered)
    with pytest.raises(WeightsShapeError):
        WithBody.from_pretrained(tmp_path / "model", model_kwargs={"units": 5, "body": body})
    assert body._torch_params is registered and list(registered) == keys
    loaded = WithBody.from_pretrained(tmp_path / "model", model_kwargs={"body": body})  # a load that succeeds
    assert body._torch_params is registered
    assert {k.split(".", 1)[0] for k in loaded.state_dict()} == {"_torch_params", "body"}
    assert len(loaded.state_dict()) == len(built.state_dict()) + len(keys)  # the model's, and the given layer's


def test_a_load_inside_a_stateless_scope_registers_nothing(tmp_path: Path) -> None:
    """As Keras registers nothing for a model built inside one."""
    directory = _part_dir(tmp_path)
    with keras.StatelessScope():
        loaded = Part.from_pretrained(directory)
    assert not [layer for layer in loaded.modules() if hasattr(layer, "_torch_params")]
