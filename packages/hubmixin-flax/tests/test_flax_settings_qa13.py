"""The activations an ``nnx.Bidirectional`` records, and torch's two recurrent biases folded into a cell's one
in float32 whatever the file's dtypes."""

from __future__ import annotations

import warnings
from pathlib import Path

import ml_dtypes
import numpy as np
import pytest
from flax import nnx
from safetensors.numpy import save_file

from hubmixin_core.errors import LayerSettingsWarning
from hubmixin_flax import FlaxModelHubMixin
from hubmixin_flax._settings import layer_settings


def _bidirectional(forward: nnx.RNNCellBase, backward: nnx.RNNCellBase) -> nnx.Bidirectional:
    return nnx.Bidirectional(nnx.RNN(forward), nnx.RNN(backward, reverse=True, keep_order=True), rngs=nnx.Rngs(0))


def test_a_bidirectional_rnn_records_its_activations() -> None:
    rngs = nnx.Rngs(0)
    lstm = _bidirectional(nnx.LSTMCell(3, 4, rngs=rngs), nnx.LSTMCell(3, 4, rngs=rngs))
    assert layer_settings(lstm) == {"activation": "tanh", "recurrent_activation": "sigmoid"}
    relu = _bidirectional(*(nnx.SimpleCell(3, 4, activation_fn=nnx.relu, rngs=rngs) for _ in range(2)))
    assert layer_settings(relu) == {"activation": "relu", "residual": False}
    apart = _bidirectional(nnx.SimpleCell(3, 4, rngs=rngs), nnx.SimpleCell(3, 4, activation_fn=nnx.relu, rngs=rngs))
    assert layer_settings(apart) == {"activation": ["tanh", "relu"], "residual": False}  # no torch RNN: warned


class Bidirectional(nnx.Module, FlaxModelHubMixin):
    def __init__(self, relu: bool = False, *, rngs: nnx.Rngs) -> None:
        function = nnx.relu if relu else nnx.tanh
        cells = [nnx.SimpleCell(3, 4, activation_fn=function, rngs=rngs) for _ in range(2)]
        self.rnn = _bidirectional(*cells)


def test_a_bidirectional_port_set_differently_is_warned_of(tmp_path: Path) -> None:
    Bidirectional(relu=True, rngs=nnx.Rngs(0)).save_pretrained(tmp_path)
    with pytest.warns(LayerSettingsWarning, match="rnn: activation 'tanh' here, 'relu' saved"):
        Bidirectional.from_pretrained(tmp_path, model_kwargs={"relu": False}, strict=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error", LayerSettingsWarning)
        Bidirectional.from_pretrained(tmp_path, strict=True)


class Lstm(nnx.Module, FlaxModelHubMixin):
    def __init__(self, *, rngs: nnx.Rngs) -> None:
        self.lstm = nnx.RNN(nnx.LSTMCell(3, 4, rngs=rngs))


def _torch_lstm(directory: Path, bias_dtypes: tuple[type, type]) -> np.ndarray:
    """A torch LSTM's canonical file, its biases in the given dtypes; returns their exact float32 sum."""
    rng = np.random.default_rng(0)
    tensors = {name: rng.standard_normal((16, width)).astype(np.float32) for name, width in (("ih", 3), ("hh", 4))}
    files = {f"lstm.weight_{name}_l0": tensor for name, tensor in tensors.items()}
    biases: list[np.ndarray] = [rng.standard_normal(16).astype(dtype) for dtype in bias_dtypes]
    files.update({"lstm.bias_ih_l0": biases[0], "lstm.bias_hh_l0": biases[1]})
    directory.mkdir()
    save_file(files, directory / "model.safetensors", metadata={"format": "pt"})
    return biases[0].astype(np.float32) + biases[1].astype(np.float32)


@pytest.mark.parametrize(
    "dtypes",
    [(ml_dtypes.bfloat16, ml_dtypes.bfloat16), (np.float16, np.float16), (np.float32, ml_dtypes.bfloat16)],
    ids=["bf16", "f16", "f32+bf16"],
)
def test_torchs_biases_are_added_in_float32(tmp_path: Path, dtypes: tuple[type, type]) -> None:
    exact = _torch_lstm(tmp_path / "file", dtypes)
    cell = Lstm.from_pretrained(tmp_path / "file").lstm.cell
    bias = np.concatenate([np.asarray(getattr(cell, gate).bias[...]) for gate in ("hi", "hf", "hg", "ho")])
    assert bias.dtype == np.float32
    np.testing.assert_array_equal(bias, exact)
