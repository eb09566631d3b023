"""The settings recorded for Keras' separable convolutions, bidirectional and stacked RNNs, and ``hubmixin
convert`` of a weights file into a model whose call leaves layers unbuilt."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pytest

from hubmixin_core.cli import main
from hubmixin_keras import KerasModelHubMixin
from hubmixin_keras._settings import layer_settings, model_settings

_TO_TORCH = pytest.mark.skipif(importlib.util.find_spec("hubmixin_torch") is None, reason="converts --to torch")

L = keras.layers


def _built(layer: Any, shape: tuple[int, ...]) -> Any:
    layer(np.zeros(shape, np.float32))
    return layer


def test_a_separable_convolution_records_its_two_convolutions_settings() -> None:
    sep = _built(L.SeparableConv1D(4, 3, strides=2, padding="valid"), (1, 9, 3))
    dilated = _built(L.SeparableConv2D(4, 3, padding="same", dilation_rate=2, depth_multiplier=2), (1, 8, 8, 3))
    assert model_settings([("a", sep), ("b.sep", dilated), ("norm", L.LayerNormalization(epsilon=1e-3))]) == {
        "a.depthwise": {"stride": [2], "dilation": [1], "padding": [[0, 0]]},
        "a.pointwise": {"stride": [1], "dilation": [1], "padding": [[0, 0]], "groups": 1},
        "b.sep.depthwise": {"stride": [1, 1], "dilation": [2, 2], "padding": [[2, 2], [2, 2]]},
        "b.sep.pointwise": {"stride": [1, 1], "dilation": [1, 1], "padding": [[0, 0], [0, 0]], "groups": 1},
        "norm": {"eps": 1e-3, "norm": "layer"},
    }
    assert model_settings([("", L.Dense(2)), ("sep", sep)])["sep.depthwise"] == {
        "stride": [2],
        "dilation": [1],
        "padding": [[0, 0]],
    }


def test_bidirectional_and_stacked_rnns_record_their_activations() -> None:
    bidirectional = L.Bidirectional(L.LSTM(4, activation="relu"))
    assert layer_settings(bidirectional) == {"activation": "relu", "recurrent_activation": "sigmoid"}
    apart = L.Bidirectional(L.SimpleRNN(4), backward_layer=L.SimpleRNN(4, activation="relu", go_backwards=True))
    assert layer_settings(apart) == {"activation": ["tanh", "relu"], "residual": False}  # no torch RNN: warned
    stacked = L.RNN(L.StackedRNNCells([L.GRUCell(4), L.GRUCell(4, recurrent_activation="hard_sigmoid")]))
    assert layer_settings(stacked) == {"activation": "tanh", "recurrent_activation": ["sigmoid", "hard_sigmoid"]}
    assert layer_settings(L.RNN(L.StackedRNNCells([L.SimpleRNNCell(4, activation="relu")] * 2))) == {
        "activation": "relu",
        "residual": False,
    }


class Two(keras.Model, KerasModelHubMixin):  # type: ignore[misc]
    """``call`` uses ``fc`` only, which ``build`` builds; ``lstm`` is used by another method."""

    def __init__(self, width: int = 6, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.fc = L.Dense(5)
        self.lstm = L.LSTM(4)

    def build(self, input_shape: Any) -> None:
        self.fc.build(input_shape)

    def call(self, x: Any) -> Any:
        return self.fc(x)

    def encode(self, sequence: Any) -> Any:
        return self.lstm(sequence)


@_TO_TORCH
def test_convert_names_the_layers_the_dummy_call_left_unbuilt(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = Two()
    model(np.ones((1, 6), np.float32))
    model.encode(np.ones((1, 5, 3), np.float32))
    model.save_weights(str(tmp_path / "two.weights.h5"))
    (tmp_path / "config.json").write_text(json.dumps({"width": 6}))
    src, out = str(tmp_path / "two.weights.h5"), str(tmp_path / "out")
    args = ["convert", src, out, "--to", "torch", "--model", f"{__name__}:Two", "--input-shape", "1,6", "--quiet"]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "another model" not in err
    assert "layers 'lstm' are not built after calling it on zeros of shape (1, 6)" in err
    assert "give the model a build() that builds every layer" in err
    assert not (tmp_path / "out").exists()
