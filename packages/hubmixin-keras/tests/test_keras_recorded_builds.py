"""Layers no adapter can build from their tensors' shapes (``EinsumDense``, ``PReLU``, a custom layer creating its
variables in ``build``) are built at load from the build config recorded in the checkpoint, so their tensors load."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pytest
from keras_models import numpy, randomize_weights

from hubmixin_core.errors import WeightsKeyError
from hubmixin_core.weights import BUILD_KEY, read_header
from hubmixin_keras import LAYOUTS, KerasAdapter, KerasModelHubMixin

pytest.importorskip("torch")
pytest.importorskip("hubmixin_torch")

import torch

from hubmixin_torch import PyTorchModelHubMixin

X = np.random.default_rng(0).standard_normal((2, 5, 6)).astype(np.float32)


class Gate(keras.layers.Layer):  # type: ignore[misc]
    """Creates its variable in ``build``, with no adapter registered."""

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        self.gate = self.add_weight(shape=(input_shape[-1],), name="gate")

    def call(self, x: Any) -> Any:
        return x * keras.ops.sigmoid(self.gate)


class Mixer(keras.Model, KerasModelHubMixin):  # type: ignore[misc]
    def __init__(self, heads: int = 2, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.proj = keras.layers.EinsumDense("abc,cde->abde", output_shape=(None, heads, 4), bias_axes="de")
        self.act = keras.layers.PReLU()
        self.blocks = [Gate()]
        self.head = keras.layers.Dense(3)

    def call(self, x: Any) -> Any:
        y = self.act(self.proj(x))
        return self.head(self.blocks[0](keras.ops.reshape(y, (*y.shape[:2], -1))))


def _trained() -> Mixer:
    model = Mixer()
    model(X)
    randomize_weights(model, seed=4)
    return model


def test_layers_built_in_build_load_from_their_recorded_build(tmp_path: Path) -> None:
    model = _trained()
    model.save_pretrained(tmp_path)
    recorded = json.loads(read_header(tmp_path / "model.safetensors").metadata[BUILD_KEY])
    assert recorded == {
        "": {"input_shape": [2, 5, 6]},  # the model's own, recorded by its call (kbackend #1)
        "proj": {"input_shape": [2, 5, 6]},
        "act": {"input_shape": [2, 5, 2, 4]},
        "blocks.0": {"input_shape": [2, 5, 8]},
    }

    loaded = Mixer.from_pretrained(tmp_path, strict=True)

    assert loaded.proj.built and loaded.act.built and loaded.blocks[0].built
    for mine, theirs in zip(loaded.weights, model.weights, strict=True):
        assert numpy(mine).tobytes() == numpy(theirs).tobytes(), theirs.path
    np.testing.assert_array_equal(numpy(loaded(X)), numpy(model(X)))


def test_recorded_builds_follow_key_mapping(tmp_path: Path) -> None:
    model = _trained()
    model.save_pretrained(tmp_path)

    class Renamed(Mixer):
        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.projection = self.proj  # the same layer under the name a later release uses
            del self.proj

        def call(self, x: Any) -> Any:
            y = self.act(self.projection(x))
            return self.head(self.blocks[0](keras.ops.reshape(y, (*y.shape[:2], -1))))

    loaded = Renamed.from_pretrained(tmp_path, strict=True, key_mapping={r"^proj\.": "projection."})
    np.testing.assert_array_equal(numpy(loaded(X)), numpy(model(X)))


def test_a_malformed_record_is_ignored_with_a_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from safetensors.numpy import load_file, save_file

    model = _trained()
    model.save_pretrained(tmp_path)
    file = tmp_path / "model.safetensors"
    metadata = {**read_header(file).metadata, BUILD_KEY: "[1, 2"}
    save_file(load_file(file), str(file), metadata=metadata)
    with caplog.at_level(logging.WARNING, logger="hubmixin_keras"):
        loaded = Mixer.from_pretrained(tmp_path)
    assert BUILD_KEY in caplog.text and not loaded.proj.built  # left to be built at its first call


class Residual(keras.layers.Layer):  # type: ignore[misc]
    """Makes its sub-layers in ``build`` (as keras-hub's layers do), sized by the input."""

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        width = int(input_shape[-1] or 0)
        self.up = keras.layers.Dense(width * 2)
        self.down = keras.layers.Dense(width)
        self.up.build(input_shape)  # `down` is left to be built at its first call

    def call(self, x: Any) -> Any:
        return x + self.down(keras.ops.relu(self.up(x)))


class BuildsLayers(keras.Model, KerasModelHubMixin):  # type: ignore[misc]
    """Holds a layer making its sub-layers in ``build``, and makes its own head in its ``build``."""

    def __init__(self, classes: int = 3, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.classes = classes
        self.block = Residual()

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        self.head = keras.layers.Dense(self.classes)

    def call(self, x: Any) -> Any:
        return self.head(self.block(x))


def test_layers_made_in_build_load(tmp_path: Path) -> None:
    model = BuildsLayers()
    model(X)
    randomize_weights(model, seed=5)
    model.save_pretrained(tmp_path)
    recorded = json.loads(read_header(tmp_path / "model.safetensors").metadata[BUILD_KEY])
    assert recorded == {"": {"input_shape": [2, 5, 6]}, "block": {"input_shape": [2, 5, 6]}}

    loaded = BuildsLayers.from_pretrained(tmp_path, strict=True)

    assert loaded.head.built and loaded.block.down.built  # before any call
    for mine, theirs in zip(loaded.weights, model.weights, strict=True):
        assert numpy(mine).tobytes() == numpy(theirs).tobytes(), theirs.path
    np.testing.assert_array_equal(numpy(loaded(X)), numpy(model(X)))


class Axial(keras.Model, KerasModelHubMixin):  # type: ignore[misc]
    def __init__(self, axes: tuple[int, ...] | None = (1,), **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.attention = keras.layers.MultiHeadAttention(num_heads=2, key_dim=3, attention_axes=axes)

    def call(self, x: Any) -> Any:
        return self.attention(x, x)


@pytest.mark.parametrize("axes", [(1,), None])
def test_attention_on_rank_4_inputs_loads_for_them(tmp_path: Path, axes: tuple[int, ...] | None) -> None:
    images = np.random.default_rng(1).standard_normal((2, 3, 4, 6)).astype(np.float32)
    model = Axial(axes)
    expected = numpy(model(images))
    model.save_pretrained(tmp_path)

    loaded = Axial.from_pretrained(tmp_path, strict=True)

    np.testing.assert_array_equal(numpy(loaded(images)), expected)


def test_attention_on_rank_3_inputs_records_nothing(tmp_path: Path) -> None:
    model = Axial(None)
    model(X)
    model.save_pretrained(tmp_path)
    recorded = json.loads(read_header(tmp_path / "model.safetensors").metadata[BUILD_KEY])
    assert recorded == {"": {"input_shape": [2, 5, 6]}}  # the model's own (kbackend #1), none of the attention's


class PortedResidual(Residual):
    """``Residual`` for a PyTorch port (its own class, so registering its adapter touches no other test)."""


class Ported(keras.Model, KerasModelHubMixin):  # type: ignore[misc]
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.block = PortedResidual()
        self.head = keras.layers.Dense(3)

    def call(self, x: Any) -> Any:
        return self.head(self.block(x))


class TorchResidual(torch.nn.Module):
    def __init__(self, width: int) -> None:
        super().__init__()
        self.up = torch.nn.Linear(width, 2 * width)
        self.down = torch.nn.Linear(2 * width, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = x + self.down(torch.relu(self.up(x)))
        return out


class TorchPorted(torch.nn.Module, PyTorchModelHubMixin):
    def __init__(self, width: int = 6) -> None:
        super().__init__()
        self.block = TorchResidual(width)
        self.head = torch.nn.Linear(width, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.head(self.block(x))
        return out


def test_a_layer_making_sub_layers_in_build_from_another_framework_needs_an_adapter(tmp_path: Path) -> None:
    source = TorchPorted()
    source.save_pretrained(tmp_path)
    with pytest.raises(WeightsKeyError, match=r"layers 'block' make their variables or sub-layers in their own build"):
        Ported.from_pretrained(tmp_path, strict=True)

    LAYOUTS.register(
        PortedResidual, KerasAdapter(input_shape=lambda layer, tensors: (None, tensors["up.weight"].shape[1]))
    )
    loaded = Ported.from_pretrained(tmp_path, strict=True)

    with torch.no_grad():
        expected = source(torch.from_numpy(X)).numpy()
    np.testing.assert_allclose(numpy(loaded(X)), expected, rtol=1e-5, atol=1e-6)


@keras.saving.register_keras_serializable("hubmixin_tests")  # Bidirectional copies its layer by config
class MinimalRNNCell(keras.layers.Layer):  # type: ignore[misc]
    """Keras' guide's custom RNN cell: no adapter knows it."""

    def __init__(self, units: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.units = self.state_size = units

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "units": self.units}

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        self.kernel = self.add_weight(shape=(input_shape[-1], self.units), name="kernel")
        self.recurrent_kernel = self.add_weight(shape=(self.units, self.units), name="recurrent_kernel")

    def call(self, inputs: Any, states: Any) -> tuple[Any, list[Any]]:
        out = keras.ops.matmul(inputs, self.kernel) + keras.ops.matmul(states[0], self.recurrent_kernel)
        return out, [out]


class Recurrent(keras.Model, KerasModelHubMixin):  # type: ignore[misc]
    def __init__(self, kind: str = "custom") -> None:
        super().__init__()
        self.kind = kind
        if kind == "custom":
            self.rnn = keras.layers.RNN(MinimalRNNCell(4))
        elif kind == "bidirectional":
            self.rnn = keras.layers.Bidirectional(keras.layers.RNN(MinimalRNNCell(3)))
        elif kind == "convlstm":
            self.rnn = keras.layers.ConvLSTM2D(2, 3)
        else:  # a stateful LSTM: Keras builds it only for a fixed batch size
            self.rnn = keras.layers.LSTM(4, stateful=True)

    def call(self, x: Any) -> Any:
        return self.rnn(x)


@pytest.mark.parametrize("kind", ["custom", "bidirectional", "convlstm", "stateful"])
def test_recurrent_layers_shapes_cannot_build_load_from_their_recorded_build(tmp_path: Path, kind: str) -> None:
    x = np.random.default_rng(1).standard_normal((2, 3, 5, 5, 1) if kind == "convlstm" else (2, 5, 6))
    model = Recurrent(kind)
    model(x.astype(np.float32))
    randomize_weights(model)
    model.save_pretrained(tmp_path)
    assert "rnn" in json.loads(read_header(tmp_path / "model.safetensors").metadata[BUILD_KEY])
    loaded = Recurrent.from_pretrained(tmp_path, strict=True)
    assert [numpy(v).tobytes() for v in loaded.weights] == [numpy(v).tobytes() for v in model.weights]
    if kind != "stateful":  # the model's state moved on at its call
        np.testing.assert_array_equal(numpy(loaded(x.astype(np.float32))), numpy(model(x.astype(np.float32))))


class Grouped(keras.Model, KerasModelHubMixin):  # type: ignore[misc]
    """Keras' own GroupQueryAttention makes its sub-layers in ``build``, without an adapter."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.attention = keras.layers.GroupQueryAttention(head_dim=4, num_query_heads=4, num_key_value_heads=2)

    def call(self, x: Any) -> Any:
        return self.attention(x, x)


def test_keras_layers_made_in_build_load(tmp_path: Path) -> None:
    x = np.random.default_rng(0).random((2, 4, 8)).astype(np.float32)
    model = Grouped()
    expected = numpy(model(x))
    model.save_pretrained(tmp_path)
    loaded = Grouped.from_pretrained(tmp_path, strict=True)
    np.testing.assert_array_equal(numpy(loaded(x)), expected)


class TorchLSTM(torch.nn.Module, PyTorchModelHubMixin):
    def __init__(self) -> None:
        super().__init__()
        self.rnn = torch.nn.LSTM(3, 4, batch_first=True)


class StatefulPort(keras.Model, KerasModelHubMixin):  # type: ignore[misc]
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.rnn = keras.layers.LSTM(4, stateful=True, return_sequences=True)

    def call(self, x: Any) -> Any:
        return self.rnn(x)


def test_a_stateful_rnn_without_a_recorded_build_is_named(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    TorchLSTM().save_pretrained(tmp_path)  # no build record: the batch size is in no tensor
    with pytest.raises(WeightsKeyError, match="layers 'rnn'"):
        StatefulPort.from_pretrained(tmp_path, strict=True)
    with caplog.at_level(logging.WARNING, logger="hubmixin_keras"):
        loaded = StatefulPort.from_pretrained(tmp_path)  # left to be built by its first call, said so
    assert not loaded.rnn.built and "'rnn'" in caplog.text
