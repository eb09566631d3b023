"""Variables and layers Keras' retried first build leaves behind are neither saved nor named; 64-bit values the
variable's storage cannot hold are refused; a functional model given its graph is refused at save."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pytest
from safetensors import safe_open
from safetensors.numpy import save_file

from hubmixin_core.errors import ConfigError, WeightsDtypeError
from hubmixin_keras import KerasModelHubMixin

X = np.ones((2, 3), "float32")


class PosBias(keras.layers.Layer):  # type: ignore[misc]
    """Makes a fixed buffer from a value in ``build``: Keras' symbolic first build fails there, and runs it again."""

    def build(self, input_shape: Any) -> None:
        self.scale = self.add_weight(shape=(input_shape[-1],), initializer="zeros", name="scale")
        self.offset = keras.Variable(np.arange(input_shape[-1], dtype="float32"), name="offset", trainable=False)

    def call(self, x: Any) -> Any:
        return x * self.scale + self.offset


class NormCached(keras.layers.Layer):  # type: ignore[misc]
    """Reads its variable as numpy in ``build``: the symbolic first build fails there too."""

    def build(self, input_shape: Any) -> None:
        self.w = self.add_weight(shape=(input_shape[-1],), initializer="ones", name="w")
        self.initial_norm = float(np.linalg.norm(keras.ops.convert_to_numpy(self.w)))

    def call(self, x: Any) -> Any:
        return x * self.w


class InnerBuilt(keras.layers.Layer):  # type: ignore[misc]
    """Makes a sub-layer in ``build`` before a buffer from a value: the first attempt's ``Dense`` stays tracked."""

    def build(self, input_shape: Any) -> None:
        self.inner = keras.layers.Dense(3)
        self.inner.build(input_shape)
        self.buf = keras.Variable(np.ones((3,), "float32"), trainable=False, name="buf")

    def call(self, x: Any) -> Any:
        return self.inner(x) + self.buf


class Retried(keras.Model, KerasModelHubMixin):  # type: ignore[misc]
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.a = PosBias()
        self.s = NormCached()
        self.b = InnerBuilt()

    def call(self, x: Any) -> Any:
        return self.b(self.s(self.a(x)))


def _tensors(file: Path) -> dict[str, np.ndarray[Any, Any]]:
    with safe_open(str(file), "np") as handle:
        keys: list[str] = handle.keys()
        return {key: handle.get_tensor(key) for key in keys}


def test_retried_build_leftovers_are_not_saved_and_the_live_variables_load_strictly(tmp_path: Path) -> None:
    model = Retried()
    model(X)
    model.a.scale.assign(np.array([5.0, 6.0, 7.0], "float32"))  # trained: the leftovers keep their zeros (ones)
    model.s.w.assign(np.array([2.0, 3.0, 4.0], "float32"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "held by layers hubmixin does not walk" for the leftover Dense
        model.save_pretrained(tmp_path / "m")
    tensors = _tensors(tmp_path / "m" / "model.safetensors")
    assert sorted(tensors) == ["a.offset", "a.scale", "b.buf", "b.inner.bias", "b.inner.weight", "s.w"]
    np.testing.assert_array_equal(tensors["a.scale"], [5.0, 6.0, 7.0])
    np.testing.assert_array_equal(tensors["s.w"], [2.0, 3.0, 4.0])
    loaded = Retried.from_pretrained(tmp_path / "m", strict=True)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(loaded(X)), keras.ops.convert_to_numpy(model(X)))


class Counter(keras.layers.Layer):  # type: ignore[misc]
    def build(self, input_shape: Any) -> None:
        self.seen = self.add_weight(shape=(), dtype="int64", initializer="zeros", trainable=False, name="seen")
        self.total = self.add_weight(shape=(), dtype="float64", initializer="zeros", trainable=False, name="total")

    def call(self, x: Any) -> Any:
        return x


class Counting(keras.Model, KerasModelHubMixin):  # type: ignore[misc]
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.counter = Counter()

    def call(self, x: Any) -> Any:
        return self.counter(x)


@pytest.mark.filterwarnings("ignore:Explicitly requested dtype:UserWarning")  # (JAX's, making the variables)
@pytest.mark.parametrize(
    ("key", "value"), [("counter.seen", np.array(2**40 + 5, np.int64)), ("counter.total", np.array(1e300))]
)
def test_a_64_bit_value_the_variable_cannot_hold_is_refused(tmp_path: Path, key: str, value: Any) -> None:
    """As PyTorch or TensorFlow write it: on JAX without x64 the variable holds 32 bits, and would wrap it."""
    model = Counting()
    model(X)
    model.save_pretrained(tmp_path / "m")
    file = tmp_path / "m" / "model.safetensors"
    with safe_open(str(file), "np") as handle:
        metadata = handle.metadata()
    save_file({**_tensors(file), key: value}, str(file), metadata=metadata)
    if keras.backend.backend() == "jax":
        with pytest.raises(WeightsDtypeError, match=f"{key}.*range.*jax_enable_x64"):
            Counting.from_pretrained(tmp_path / "m", strict=True)
        return
    loaded = Counting.from_pretrained(tmp_path / "m", strict=True)
    variable = loaded.counter.seen if key == "counter.seen" else loaded.counter.total
    assert keras.ops.convert_to_numpy(variable) == value


class FS(keras.Model, KerasModelHubMixin):  # type: ignore[misc]
    pass


def _graph() -> tuple[Any, Any]:
    inputs = keras.Input((8,))
    return inputs, keras.layers.Dense(2)(inputs)


@pytest.mark.parametrize("by_name", [True, False])
def test_a_functional_model_given_its_graph_is_refused_at_save(tmp_path: Path, by_name: bool) -> None:
    inputs, outputs = _graph()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # (the graph is not JSON: named at construction)
        model = FS(inputs=inputs, outputs=outputs) if by_name else FS(inputs, outputs)
    with pytest.raises(ConfigError, match=r"FS is a functional model .*FS\.__init__.*super\(\)\.__init__\(inputs="):
        model.save_pretrained(tmp_path / "fs")
    assert not (tmp_path / "fs").exists()


class OwnGraph(keras.Model, KerasModelHubMixin):  # type: ignore[misc]
    def __init__(self, units: int = 2, **kwargs: Any) -> None:
        inputs = keras.Input((8,))
        super().__init__(inputs=inputs, outputs=keras.layers.Dense(units)(inputs), **kwargs)


def test_a_functional_model_building_its_graph_saves_and_loads(tmp_path: Path) -> None:
    model = OwnGraph(units=3)
    model.save_pretrained(tmp_path / "own")
    loaded = OwnGraph.from_pretrained(tmp_path / "own", strict=True)
    x = np.ones((1, 8), "float32")
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(loaded(x)), keras.ops.convert_to_numpy(model(x)))
