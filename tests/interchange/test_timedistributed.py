"""Keras' ``TimeDistributed(layer)`` is saved with the wrapped layer's tensors and settings at the wrapper's path,
as an ``RNN``'s cell's are: a tagger's ``tagger = TimeDistributed(Dense(n))`` is PyTorch's and Flax's ``tagger =
Linear(h, n)`` (``tagger.weight``), which apply to every step as they are. A wrapped layer hubmixin has no adapter
for (a custom block) is walked as a layer of its own under ``layer``, as before."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import jax.numpy as jnp
import keras
import numpy as np
import pytest
import torch
from flax import nnx
from safetensors import safe_open
from torch import nn

from hubmixin_core.errors import LayerSettingsWarning
from hubmixin_core.weights import BUILD_KEY, SETTINGS_KEY
from hubmixin_flax import FlaxModelHubMixin
from hubmixin_keras import KerasModelHubMixin
from hubmixin_torch import PyTorchModelHubMixin

X = np.random.default_rng(0).standard_normal((2, 6, 3)).astype(np.float32)


def _numpy(value: Any) -> np.ndarray[Any, Any]:
    return np.asarray(keras.ops.convert_to_numpy(value))


class KerasTagger(keras.Model, KerasModelHubMixin):  # type: ignore[misc]
    def __init__(self, hidden: int = 5, tags: int = 4, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.lstm = keras.layers.LSTM(hidden, return_sequences=True)
        self.tagger = keras.layers.TimeDistributed(keras.layers.Dense(tags))

    def call(self, x: Any) -> Any:
        return self.tagger(self.lstm(x))


class TorchTagger(nn.Module, PyTorchModelHubMixin):
    def __init__(self, hidden: int = 5, tags: int = 4) -> None:
        super().__init__()
        self.lstm = nn.LSTM(3, hidden, batch_first=True)
        self.tagger = nn.Linear(hidden, tags)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.tagger(self.lstm(x)[0])
        return out


class FlaxTagger(nnx.Module, FlaxModelHubMixin):
    def __init__(self, hidden: int = 5, tags: int = 4, *, rngs: nnx.Rngs) -> None:
        self.lstm = nnx.RNN(nnx.LSTMCell(3, hidden, rngs=rngs))
        self.tagger = nnx.Linear(hidden, tags, rngs=rngs)

    def __call__(self, x: jnp.ndarray) -> jnp.ndarray:
        out: jnp.ndarray = self.tagger(self.lstm(x))
        return out


def _keys_and_metadata(path: Path) -> tuple[list[str], dict[str, str]]:
    with safe_open(str(path / "model.safetensors"), "np") as opened:
        return sorted(opened.keys()), dict(opened.metadata())


def test_the_wrapped_layer_is_saved_at_the_wrappers_path(tmp_path: Path) -> None:
    model = KerasTagger()
    model(X)
    model.save_pretrained(tmp_path)
    keys, metadata = _keys_and_metadata(tmp_path)
    assert [key for key in keys if key.startswith("tagger")] == ["tagger.bias", "tagger.weight"]
    assert "tagger" not in json.loads(metadata.get(BUILD_KEY, "{}"))  # built from the tensors' shapes
    loaded = KerasTagger.from_pretrained(tmp_path, strict=True)
    np.testing.assert_array_equal(_numpy(loaded(X)), _numpy(model(X)))


@pytest.mark.parametrize("port", ["torch", "flax"])
def test_a_keras_tagger_and_its_ports_exchange_weights(tmp_path: Path, port: str) -> None:
    model = KerasTagger()
    expected = _numpy(model(X))
    model.save_pretrained(tmp_path / "keras")
    if port == "torch":
        torch_port = TorchTagger.from_pretrained(tmp_path / "keras", strict=True)
        found = torch_port(torch.from_numpy(X)).detach().numpy()
        torch_port.save_pretrained(tmp_path / "back")
    else:
        flax_port = FlaxTagger.from_pretrained(tmp_path / "keras", strict=True)
        found = np.asarray(flax_port(jnp.asarray(X)))
        flax_port.save_pretrained(tmp_path / "back")
    np.testing.assert_allclose(found, expected, atol=1e-5)
    back = KerasTagger.from_pretrained(tmp_path / "back", strict=True)
    np.testing.assert_allclose(_numpy(back(X)), expected, atol=1e-5)


class KerasFrames(keras.Model, KerasModelHubMixin):  # type: ignore[misc]
    def __init__(self, same: bool = True, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.frames = keras.layers.TimeDistributed(keras.layers.Conv2D(4, 3, padding="same" if same else "valid"))

    def call(self, x: Any) -> Any:
        return self.frames(x)


class TorchFrames(nn.Module, PyTorchModelHubMixin):
    def __init__(self, same: bool = True) -> None:
        super().__init__()
        self.frames = nn.Conv2d(2, 4, 3, padding=1 if same else 0)


def test_the_wrapped_layers_settings_are_recorded_and_compared_at_the_wrappers_path(tmp_path: Path) -> None:
    model = KerasFrames()
    model(np.zeros((1, 3, 5, 5, 2), np.float32))
    model.save_pretrained(tmp_path / "keras")
    keys, metadata = _keys_and_metadata(tmp_path / "keras")
    assert keys == ["frames.bias", "frames.weight"]
    assert json.loads(metadata[SETTINGS_KEY])["frames"]["padding"] == [[1, 1], [1, 1]]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        TorchFrames.from_pretrained(tmp_path / "keras", strict=True)
        TorchFrames.from_pretrained(tmp_path / "keras", strict=True, model_kwargs={"same": False})
    found = [str(w.message).split("differ: ", 1)[1] for w in caught if issubclass(w.category, LayerSettingsWarning)]
    assert found == ["frames: padding [[0, 0], [0, 0]] here, [[1, 1], [1, 1]] saved"]
    TorchFrames().save_pretrained(tmp_path / "torch")
    loaded = KerasFrames.from_pretrained(tmp_path / "torch", strict=True)  # built from the torch file's shapes
    assert loaded.frames.layer.kernel.shape == (3, 3, 2, 4)


@keras.saving.register_keras_serializable("test_timedistributed")
class Block(keras.layers.Layer):  # type: ignore[misc]
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.inner = keras.layers.Dense(2)

    def build(self, input_shape: Any) -> None:
        self.inner.build(input_shape)

    def call(self, x: Any) -> Any:
        return self.inner(x)


class KerasBlocks(keras.Model, KerasModelHubMixin):  # type: ignore[misc]
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.blocks = keras.layers.TimeDistributed(Block())

    def call(self, x: Any) -> Any:
        return self.blocks(x)


def test_a_wrapped_layer_without_an_adapter_is_walked_under_layer_as_before(tmp_path: Path) -> None:
    model = KerasBlocks()
    expected = _numpy(model(X))
    model.save_pretrained(tmp_path)
    assert _keys_and_metadata(tmp_path)[0] == ["blocks.layer.inner.bias", "blocks.layer.inner.weight"]
    loaded = KerasBlocks.from_pretrained(tmp_path, strict=True)
    np.testing.assert_array_equal(_numpy(loaded(X)), expected)
