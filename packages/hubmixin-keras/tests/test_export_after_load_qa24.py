"""A loaded model is built as Keras' first call builds it (QA round 24, kbackend #1 #2): it keeps the input shape
that call recorded, which ``model.export`` and TensorFlow's serving signature read. Its state is left open, as
before (reg24c: a model may make state at its first call, or take a new head after the load).

``save_pretrained`` records that shape in ``hubmixin.build`` for the layers built from their layers (a model
without a ``build`` of its own, a custom layer holding layers, a ``Sequential``); ``from_pretrained`` marks them
built with it. On the PyTorch backend Keras' own export fails for the built model too: there the two must fail
alike.
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pytest
from safetensors import safe_open
from safetensors.numpy import save_file

from hubmixin_core.weights import BUILD_KEY
from hubmixin_keras import KerasModelHubMixin

X = np.random.default_rng(0).normal(size=(2, 3)).astype(np.float32)
X5 = np.random.default_rng(1).normal(size=(2, 5)).astype(np.float32)
_TF = importlib.util.find_spec("tensorflow") is not None


class Flat(keras.Model, KerasModelHubMixin):  # type: ignore[misc]
    """No ``build`` of its own: its first call records its input shape."""

    def __init__(self, units: int = 4, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.fc = keras.layers.Dense(units)

    def call(self, x: Any) -> Any:
        return self.fc(x)


class Block(keras.layers.Layer):  # type: ignore[misc]
    """A custom layer holding layers, without a ``build`` of its own."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.a = keras.layers.Dense(3)
        self.b = keras.layers.Dense(3)

    def call(self, x: Any) -> Any:
        return self.b(self.a(x))


class Nested(keras.Model, KerasModelHubMixin):  # type: ignore[misc]
    """Containers inside: custom blocks and a ``Sequential``, each built by the model's call."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.blocks = [Block(), Block()]
        self.head = keras.Sequential([keras.layers.Dense(5), keras.layers.Dense(2)])

    def call(self, x: Any) -> Any:
        for block in self.blocks:
            x = block(x)
        return self.head(x)


class TwoInputs(keras.Model, KerasModelHubMixin):  # type: ignore[misc]
    """A dict of inputs: Keras records a structure of shapes."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.fa = keras.layers.Dense(4)
        self.fb = keras.layers.Dense(4)

    def call(self, inputs: Any) -> Any:
        return self.fa(inputs["a"]) + self.fb(inputs["b"])


class Stack(keras.Sequential, KerasModelHubMixin):  # type: ignore[misc]
    """A ``Sequential`` built by its first call (no ``Input``): its build makes its graph, which export reads."""

    def __init__(self, units: int = 4, **kwargs: Any) -> None:
        super().__init__([keras.layers.Dense(units), keras.layers.Dense(2)], **kwargs)


MODELS: list[tuple[Callable[[], Any], Any]] = [
    (Flat, X),
    (Nested, X),
    (TwoInputs, {"a": X, "b": X5}),
    (Stack, X),
]
IDS = ["flat", "nested", "dict-inputs", "sequential"]


def _numpy(value: Any) -> np.ndarray[Any, Any]:
    return np.asarray(keras.ops.convert_to_numpy(value))


def _built_and_loaded(cls: Any, inputs: Any, directory: Path) -> tuple[Any, Any]:
    """``cls`` built by a call and saved, and loaded from ``directory``."""
    built = cls()
    built(inputs)
    built.save_pretrained(directory)
    return built, cls.from_pretrained(directory)


def _export(model: Any, path: Path) -> str | None:
    """``model.export(path)``: ``None`` where it succeeds, else the error's type."""
    try:
        model.export(str(path), verbose=False)
    except Exception as error:
        return type(error).__name__
    return None


def _served(path: Path, inputs: Any) -> np.ndarray[Any, Any]:
    import tensorflow as tf

    restored = tf.saved_model.load(str(path))  # (held: its function reads its variables)
    return np.asarray(restored.serve(inputs))


@pytest.mark.parametrize(("cls", "inputs"), MODELS, ids=IDS)
def test_a_loaded_model_exports_as_the_built_one(tmp_path: Path, cls: Any, inputs: Any) -> None:
    built, loaded = _built_and_loaded(cls, inputs, tmp_path / "model")
    recorded = json.loads(json.dumps(built.get_build_config()["input_shape"]))  # (as JSON gives it back: lists)
    assert loaded.get_build_config()["input_shape"] == recorded
    expected = _numpy(built(inputs))
    np.testing.assert_array_equal(_numpy(loaded(inputs)), expected)  # (export wants a model called, as Keras')

    failure = _export(built, tmp_path / "built")
    assert _export(loaded, tmp_path / "loaded") == failure
    if failure is None and _TF:
        np.testing.assert_allclose(_served(tmp_path / "loaded", inputs), expected, rtol=1e-6, atol=1e-6)
        np.testing.assert_array_equal(_served(tmp_path / "loaded", inputs), _served(tmp_path / "built", inputs))


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="TensorFlow's SavedModel of a Keras model")
@pytest.mark.parametrize(("cls", "inputs"), MODELS, ids=IDS)
def test_tf_saved_model_of_a_loaded_model_has_the_serving_signature(tmp_path: Path, cls: Any, inputs: Any) -> None:
    import tensorflow as tf

    built, loaded = _built_and_loaded(cls, inputs, tmp_path / "model")
    served = {}
    for name, model in (("built", built), ("loaded", loaded)):
        tf.saved_model.save(model, str(tmp_path / name))
        restored = tf.saved_model.load(str(tmp_path / name))  # (held: its functions read its variables)
        signatures = restored.signatures
        assert list(signatures) == ["serving_default"], name
        outputs = signatures["serving_default"](**_signature_inputs(signatures["serving_default"], inputs))
        served[name] = [np.asarray(value) for value in outputs.values()]
    np.testing.assert_array_equal(served["loaded"], served["built"])
    np.testing.assert_array_equal(served["loaded"][0], _numpy(built(inputs)))


def _signature_inputs(signature: Any, inputs: Any) -> dict[str, Any]:
    """``inputs`` by the names of the serving signature's arguments: ``inputs``, ``inputs_1``, ... in the order
    Keras flattens them (a dict's by its sorted keys)."""
    names = sorted(signature.structured_input_signature[1], key=lambda name: (len(name), name))
    flat = [inputs[key] for key in sorted(inputs)] if isinstance(inputs, dict) else [inputs]
    return dict(zip(names, flat, strict=True))


def test_a_checkpoint_recording_no_input_shape_loads_built_without_one(tmp_path: Path) -> None:
    """Written before the shape was recorded, or by another framework: the load cannot guess it; the model is
    built all the same."""
    directory = tmp_path / "model"
    built, _ = _built_and_loaded(Flat, X, directory)
    _rewrite_metadata(directory, lambda metadata: metadata.pop(BUILD_KEY))
    loaded = Flat.from_pretrained(directory)
    assert loaded.built
    assert "input_shape" not in (loaded.get_build_config() or {})
    np.testing.assert_array_equal(_numpy(loaded(X)), _numpy(built(X)))


@pytest.mark.parametrize("record", ['{"":{"input_shape":"x"}}', '{"":{"shapes_dict":[1]}}', '{"":{}}'])
def test_a_malformed_input_shape_record_is_ignored(tmp_path: Path, record: str) -> None:
    """The file's metadata can hold anything: a record of no shapes is left out (the weights all load)."""
    directory = tmp_path / "model"
    built, _ = _built_and_loaded(Flat, X, directory)
    _rewrite_metadata(directory, lambda metadata: metadata.update({BUILD_KEY: record}))
    loaded = Flat.from_pretrained(directory)
    assert loaded.built and loaded._build_shapes_dict is None
    np.testing.assert_array_equal(_numpy(loaded(X)), _numpy(built(X)))


def test_a_model_saved_unbuilt_loads_unbuilt(tmp_path: Path) -> None:
    with pytest.warns(UserWarning, match="never called"):
        Flat().save_pretrained(tmp_path)
    with safe_open(str(tmp_path / "model.safetensors"), framework="numpy") as f:
        assert BUILD_KEY not in (f.metadata() or {})
    loaded = Flat.from_pretrained(tmp_path)
    assert not loaded.built
    loaded(X)
    assert _export(loaded, tmp_path / "exported") == _export(_called(Flat(), X), tmp_path / "built")


def _called(model: Any, inputs: Any) -> Any:
    model(inputs)
    return model


def _rewrite_metadata(directory: Path, change: Callable[[dict[str, str]], Any]) -> None:
    path = directory / "model.safetensors"
    with safe_open(str(path), framework="numpy") as f:
        tensors = {key: f.get_tensor(key) for key in f.keys()}  # noqa: SIM118 (safe_open is no dict)
        metadata = dict(f.metadata() or {})
    change(metadata)
    save_file(tensors, str(path), metadata=metadata)


class Lazy(keras.Model, KerasModelHubMixin):  # type: ignore[misc]
    """Makes a sub-layer at its first call (no ``build`` of its own): a lock at load would refuse it."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.fc = keras.layers.Dense(3)
        self.act: keras.Layer | None = None

    def call(self, x: Any) -> Any:
        if self.act is None:
            self.act = keras.layers.Activation("tanh")
        return self.act(self.fc(x))


def test_a_loaded_model_takes_state_made_at_its_first_call_and_a_new_head(tmp_path: Path) -> None:
    built, loaded = _built_and_loaded(Lazy, X, tmp_path)
    np.testing.assert_array_equal(_numpy(loaded(X)), _numpy(built(X)))
    loaded.head = keras.layers.Dense(2)  # (fine-tuning: a head added after the load)
    assert _numpy(loaded.head(loaded(X))).shape == (2, 2)
