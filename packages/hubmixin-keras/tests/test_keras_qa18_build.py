"""QA round 18: loads leave no graph and no state behind; a keras-nlp preset is named as a preset; adapted
preprocessing state that is no Keras variable is named at save."""

from __future__ import annotations

import importlib.util
import json
import warnings
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pytest
from safetensors.numpy import save_file

from hubmixin_core.errors import WeightsNotFoundError
from hubmixin_keras import KerasModelHubMixin

L = keras.layers
_RNG = np.random.default_rng(0)

# Keras' preprocessing layers adapt through tf.data whatever the backend
_NEEDS_TENSORFLOW = pytest.mark.skipif(importlib.util.find_spec("tensorflow") is None, reason="needs tensorflow")


class TwoDense(keras.Model, KerasModelHubMixin):  # type: ignore[misc]
    def __init__(self, hidden: int = 8, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.fc1 = L.Dense(hidden)
        self.fc2 = L.Dense(2)

    def call(self, x: Any) -> Any:
        return self.fc2(self.fc1(x))


class Sequence(keras.Model, KerasModelHubMixin):  # type: ignore[misc]
    """Inputs of rank 3 where the first layer's build says rank 2."""

    def __init__(self, steps: int = 5, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.fc1 = L.Dense(4)
        self.conv = L.Conv1D(3, 2)
        self.fc2 = L.Dense(2)

    def call(self, x: Any) -> Any:
        return self.fc2(keras.ops.swapaxes(self.conv(self.fc1(x)), 1, 2))


def _write(directory: Path, tensors: dict[str, np.ndarray[Any, Any]], config: dict[str, Any]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "config.json").write_text(json.dumps(config))
    save_file(tensors, str(directory / "model.safetensors"))
    return directory


def _two_dense(fc2_in: int) -> dict[str, np.ndarray[Any, Any]]:
    return {
        "fc1.weight": _RNG.random((8, 6), dtype=np.float32),
        "fc1.bias": np.zeros(8, np.float32),
        "fc2.weight": _RNG.random((2, fc2_in), dtype=np.float32),
        "fc2.bias": np.zeros(2, np.float32),
    }


def test_consistent_checkpoints_load_and_leave_no_graph(tmp_path: Path) -> None:
    loaded = TwoDense.from_pretrained(_write(tmp_path / "ok", _two_dense(8), {"hidden": 8}), strict=True)
    assert not loaded.fc1._inbound_nodes and not loaded.fc2._inbound_nodes  # (no call traced)
    assert keras.ops.convert_to_numpy(loaded(np.ones((1, 6), "float32"))).shape == (1, 2)

    model = Sequence()
    x = _RNG.standard_normal((2, 5, 6)).astype("float32")
    model(x)
    model.save_pretrained(tmp_path / "seq")
    again = Sequence.from_pretrained(tmp_path / "seq", strict=True)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(again(x)), keras.ops.convert_to_numpy(model(x)))


@pytest.mark.parametrize(("library", "call"), [("keras_nlp", "keras_nlp.models"), ("keras_cv", "keras_cv.models")])
def test_keras_nlp_and_keras_cv_presets_are_named_as_presets(tmp_path: Path, library: str, call: str) -> None:
    directory = tmp_path / "preset"
    directory.mkdir()
    (directory / "config.json").write_text(
        json.dumps({"module": f"{library}.src.models.x", "class_name": "X", "config": {}, "registered_name": "X"})
    )
    (directory / "metadata.json").write_text(json.dumps({"keras_version": "3.0.5", f"{library}_version": "0.8.1"}))
    (directory / "model.weights.h5").write_bytes(b"")
    with pytest.raises(WeightsNotFoundError) as caught:
        TwoDense.from_pretrained(directory)
    message = str(caught.value)
    assert f'keras_hub.models.<Class>.from_preset("{directory}")' in message
    assert f"{call}.<Class>.from_preset" in message and "load_model" not in message


class Bucket(keras.Model, KerasModelHubMixin):  # type: ignore[misc]
    def __init__(self, boundaries: list[float] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        given = {"bin_boundaries": boundaries} if boundaries else {"num_bins": 4}
        self.disc = L.Discretization(**given)
        self.emb = L.Embedding(4, 3)

    def call(self, x: Any) -> Any:
        return self.emb(self.disc(x))


class Words(keras.Model, KerasModelHubMixin):  # type: ignore[misc]
    def __init__(self, vocabulary: list[str] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.lookup = L.StringLookup(vocabulary=vocabulary)
        self.text = L.TextVectorization(max_tokens=10)
        self.ids = L.IntegerLookup()
        self.emb = L.Embedding(10, 2)


def _save_warnings(model: keras.Model, directory: Path) -> list[str]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.save_pretrained(directory)
    return [str(w.message) for w in caught if issubclass(w.category, UserWarning)]


@_NEEDS_TENSORFLOW
def test_adapted_state_that_is_no_variable_is_named_at_save(tmp_path: Path) -> None:
    model = Bucket()
    model.disc.adapt(np.arange(100, dtype="float32").reshape(-1, 1))
    model(np.array([[5.0]], "float32"))
    (message,) = _save_warnings(model, tmp_path / "adapted")
    assert "'disc' (Discretization: its bin_boundaries)" in message and "is not saved" in message

    given = Bucket(boundaries=[1.0, 2.0, 3.0])
    given(np.array([[5.0]], "float32"))
    assert not _save_warnings(given, tmp_path / "given")


@_NEEDS_TENSORFLOW
def test_adapted_vocabularies_are_named_at_save(tmp_path: Path) -> None:
    model = Words()
    model.emb.build((None,))
    model.lookup.adapt(np.array(["a", "b", "a"]))
    model.text.adapt(np.array(["a b", "c"]))
    model.ids.adapt(np.array([3, 4, 3]))
    (message,) = _save_warnings(model, tmp_path / "adapted")
    for named in ("'lookup' (StringLookup", "'text' (TextVectorization", "'ids' (IntegerLookup"):
        assert named in message
    assert "_lookup_layer" not in message

    given = Words(vocabulary=["a", "b"])
    given.emb.build((None,))
    assert not _save_warnings(given, tmp_path / "given")


class WithLoss(keras.Model, KerasModelHubMixin):  # type: ignore[misc]
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.fc = L.Dense(3)
        self.bn = L.BatchNormalization()

    def call(self, x: Any) -> Any:
        y = self.bn(self.fc(x), training=True)
        self.add_loss(keras.ops.mean(y))
        return y


def test_a_load_changes_no_state(tmp_path: Path) -> None:
    model = WithLoss()
    model(np.ones((2, 4), "float32"))
    model.save_pretrained(tmp_path)
    loaded = WithLoss.from_pretrained(tmp_path, strict=True)
    assert not loaded.losses
    for mine, theirs in zip(loaded.weights, model.weights, strict=True):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(mine), keras.ops.convert_to_numpy(theirs))
