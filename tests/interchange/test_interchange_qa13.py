"""Recurrent checkpoints across frameworks: torch's two biases summed exactly into a Flax or Keras cell's one
whatever the file's dtypes, and the activations of bidirectional and stacked RNNs compared in both directions.
Also the settings a Keras separable convolution records, against those of torch's two convolutions. Keras runs
under this process' backend."""

from __future__ import annotations

import re
import warnings
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pytest
import torch
from flax import nnx
from safetensors.torch import load_file, save_file
from torch import nn

from hubmixin_core.errors import LayerSettingsWarning, WeightsDtypeError
from hubmixin_flax import FlaxModelHubMixin
from hubmixin_keras import KerasModelHubMixin
from hubmixin_keras._settings import model_settings as keras_model_settings
from hubmixin_torch import PyTorchModelHubMixin
from hubmixin_torch._settings import model_settings as torch_model_settings

X = np.random.default_rng(0).standard_normal((2, 5, 3)).astype(np.float32)


class TorchRecurrent(nn.Module, PyTorchModelHubMixin):
    """A bidirectional RNN (``"rnn"``) or LSTM (``"bilstm"``), or a two-layer LSTM (``"stacked"``)."""

    def __init__(self, kind: str = "stacked", nonlinearity: str = "tanh") -> None:
        super().__init__()
        self.rnn: nn.RNNBase
        if kind == "rnn":
            self.rnn = nn.RNN(3, 4, nonlinearity=nonlinearity, batch_first=True, bidirectional=True)
        else:
            bidirectional = kind == "bilstm"
            self.rnn = nn.LSTM(3, 4, batch_first=True, bidirectional=bidirectional, num_layers=1 + (not bidirectional))


class FlaxRecurrent(nnx.Module, FlaxModelHubMixin):
    def __init__(self, kind: str = "lstm", *, rngs: nnx.Rngs) -> None:
        cell = {"lstm": nnx.LSTMCell, "gru": nnx.GRUCell}[kind]
        self.rnn = nnx.RNN(cell(3, 4, rngs=rngs))


class KerasRecurrent(keras.Model, KerasModelHubMixin):  # type: ignore[misc]
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.rnn = keras.layers.LSTM(4, return_sequences=True)

    def call(self, x: Any) -> Any:
        return self.rnn(x)


class TorchOneLayer(nn.Module, PyTorchModelHubMixin):
    def __init__(self, kind: str = "lstm") -> None:
        super().__init__()
        self.rnn = (nn.LSTM if kind == "lstm" else nn.GRU)(3, 4, batch_first=True)


def _bf16_checkpoint(tmp_path: Path, kind: str) -> tuple[Path, dict[str, torch.Tensor]]:
    torch.manual_seed(0)
    TorchOneLayer(kind).save_pretrained(tmp_path, dtype=torch.bfloat16)
    return tmp_path, load_file(tmp_path / "model.safetensors")


def _flax_bias(model: FlaxRecurrent, kind: str) -> np.ndarray[Any, Any]:
    gates = ("dense_i",) if kind == "gru" else ("hi", "hf", "hg", "ho")
    return np.concatenate([np.asarray(getattr(model.rnn.cell, gate).bias[...]) for gate in gates])


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_a_half_precision_file_gives_a_float32_flax_cell_the_exact_bias_sum(tmp_path: Path, kind: str) -> None:
    directory, tensors = _bf16_checkpoint(tmp_path, kind)
    b_ih, b_hh = tensors["rnn.bias_ih_l0"].float().numpy(), tensors["rnn.bias_hh_l0"].float().numpy()
    if kind == "gru":
        b_hh[8:] = 0  # b_hn: Flax's GRU cell cannot hold it; the file below has none
        tensors["rnn.bias_hh_l0"][8:] = 0
        save_file(tensors, directory / "model.safetensors", metadata={"format": "pt"})
    model = FlaxRecurrent.from_pretrained(directory, model_kwargs={"kind": kind})
    bias = _flax_bias(model, kind)
    assert bias.dtype == np.float32
    np.testing.assert_array_equal(bias, b_ih + b_hh)  # as the float32 torch model adds them: exact


def test_a_half_precision_file_gives_a_float32_keras_cell_the_exact_bias_sum(tmp_path: Path) -> None:
    directory, tensors = _bf16_checkpoint(tmp_path, "lstm")
    exact = tensors["rnn.bias_ih_l0"].float().numpy() + tensors["rnn.bias_hh_l0"].float().numpy()
    model = KerasRecurrent.from_pretrained(directory)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(model.rnn.cell.bias), exact)
    reference = TorchOneLayer.from_pretrained(directory)  # float32, from the same file
    with torch.no_grad():
        expected = reference.rnn(torch.from_numpy(X))[0].numpy()
    np.testing.assert_allclose(keras.ops.convert_to_numpy(model(X)), expected, atol=1e-6)


def test_a_bfloat16_port_rounds_the_sum_once_and_saves_it_back_unchanged(tmp_path: Path) -> None:
    directory, tensors = _bf16_checkpoint(tmp_path / "torch", "lstm")
    exact = tensors["rnn.bias_ih_l0"].float() + tensors["rnn.bias_hh_l0"].float()
    model = KerasRecurrent.from_pretrained(directory, dtype="bfloat16", strict=True)
    model.save_pretrained(tmp_path / "keras")
    saved = load_file(tmp_path / "keras" / "model.safetensors")
    assert saved["rnn.bias_ih_l0"].dtype == torch.bfloat16
    assert torch.equal(saved["rnn.bias_ih_l0"], exact.to(torch.bfloat16))
    assert not saved["rnn.bias_hh_l0"].any()
    again = KerasRecurrent.from_pretrained(tmp_path / "keras", dtype="bfloat16", strict=True)
    again.save_pretrained(tmp_path / "again")
    for name, tensor in load_file(tmp_path / "again" / "model.safetensors").items():
        assert torch.equal(tensor, saved[name]), name  # bias + 0: bit-exact round trip


def test_torchs_two_biases_in_two_dtypes_load_converted_or_refused_strictly(tmp_path: Path) -> None:
    torch.manual_seed(0)
    TorchOneLayer().save_pretrained(tmp_path)
    tensors = load_file(tmp_path / "model.safetensors")
    tensors["rnn.bias_hh_l0"] = tensors["rnn.bias_hh_l0"].to(torch.bfloat16)
    save_file(tensors, tmp_path / "model.safetensors", metadata={"format": "pt"})
    exact = tensors["rnn.bias_ih_l0"].numpy() + tensors["rnn.bias_hh_l0"].float().numpy()
    flax_model = FlaxRecurrent.from_pretrained(tmp_path)
    np.testing.assert_array_equal(_flax_bias(flax_model, "lstm"), exact)
    keras_model = KerasRecurrent.from_pretrained(tmp_path)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(keras_model.rnn.cell.bias), exact)
    for cls in (FlaxRecurrent, KerasRecurrent):
        with pytest.raises(WeightsDtypeError, match=r"'rnn\.bias_hh_l0' has dtype BF16, the model expects F32"):
            cls.from_pretrained(tmp_path, strict=True)


class KerasGru(keras.Model, KerasModelHubMixin):  # type: ignore[misc]
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.rnn = keras.layers.GRU(4, return_sequences=True)

    def call(self, x: Any) -> Any:
        return self.rnn(x)


def test_a_gru_file_with_biases_in_two_dtypes_loads_into_a_keras_gru(tmp_path: Path) -> None:
    torch.manual_seed(0)
    TorchOneLayer("gru").save_pretrained(tmp_path)
    tensors = load_file(tmp_path / "model.safetensors")
    tensors["rnn.bias_hh_l0"] = tensors["rnn.bias_hh_l0"].to(torch.bfloat16)
    save_file(tensors, tmp_path / "model.safetensors", metadata={"format": "pt"})
    model = KerasGru.from_pretrained(tmp_path)  # Keras' GRU holds both biases: joined, not added
    reference = TorchOneLayer.from_pretrained(tmp_path, model_kwargs={"kind": "gru"})
    with torch.no_grad():
        expected = reference.rnn(torch.from_numpy(X))[0].numpy()
    np.testing.assert_allclose(keras.ops.convert_to_numpy(model(X)), expected, atol=1e-6)


class KerasBidirectional(keras.Model, KerasModelHubMixin):  # type: ignore[misc]
    def __init__(self, kind: str = "rnn", activation: str = "tanh", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        layer = {"rnn": keras.layers.SimpleRNN, "lstm": keras.layers.LSTM}[kind]
        self.rnn = keras.layers.Bidirectional(layer(4, activation=activation, return_sequences=True))

    def call(self, x: Any) -> Any:
        return self.rnn(x)


class KerasStacked(keras.Model, KerasModelHubMixin):  # type: ignore[misc]
    def __init__(self, activations: tuple[str, str] = ("tanh", "tanh"), **kwargs: Any) -> None:
        super().__init__(**kwargs)
        cells = [keras.layers.LSTMCell(4, activation=activation) for activation in activations]
        self.rnn = keras.layers.RNN(keras.layers.StackedRNNCells(cells), return_sequences=True)

    def call(self, x: Any) -> Any:
        return self.rnn(x)


class FlaxBidirectional(nnx.Module, FlaxModelHubMixin):
    def __init__(self, activation: str = "tanh", *, rngs: nnx.Rngs) -> None:
        function = getattr(nnx, activation)
        forward = nnx.RNN(nnx.SimpleCell(3, 4, activation_fn=function, rngs=rngs))
        backward = nnx.RNN(nnx.SimpleCell(3, 4, activation_fn=function, rngs=rngs), reverse=True, keep_order=True)
        self.rnn = nnx.Bidirectional(forward, backward, rngs=rngs)


def _messages(caught: Any) -> list[str]:
    return [str(w.message).split("outputs will differ: ", 1)[1] for w in caught]


def _silently(load: Any, *args: Any, **kwargs: Any) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("error", LayerSettingsWarning)
        return load(*args, **kwargs)


def test_bidirectional_activations_are_compared_from_torch(tmp_path: Path) -> None:
    TorchRecurrent("rnn", "relu").save_pretrained(tmp_path / "rnn")
    TorchRecurrent("bilstm").save_pretrained(tmp_path / "lstm")
    with pytest.warns(LayerSettingsWarning) as caught:
        KerasBidirectional.from_pretrained(tmp_path / "rnn", strict=True)
    assert _messages(caught) == ["rnn: activation 'tanh' here, 'relu' saved"]
    with pytest.warns(LayerSettingsWarning) as caught:
        FlaxBidirectional.from_pretrained(tmp_path / "rnn", strict=True)
    assert _messages(caught) == ["rnn: activation 'tanh' here, 'relu' saved"]
    with pytest.warns(LayerSettingsWarning) as caught:
        KerasBidirectional.from_pretrained(tmp_path / "lstm", model_kwargs={"kind": "lstm", "activation": "relu"})
    assert _messages(caught) == ["rnn: activation 'relu' here, 'tanh' saved"]
    _silently(KerasBidirectional.from_pretrained, tmp_path / "rnn", model_kwargs={"activation": "relu"}, strict=True)
    _silently(FlaxBidirectional.from_pretrained, tmp_path / "rnn", model_kwargs={"activation": "relu"}, strict=True)
    _silently(KerasBidirectional.from_pretrained, tmp_path / "lstm", model_kwargs={"kind": "lstm"}, strict=True)


def test_bidirectional_activations_are_recorded_for_torch(tmp_path: Path) -> None:
    keras_model = KerasBidirectional(activation="relu")
    keras_model(X)
    keras_model.save_pretrained(tmp_path / "keras")
    FlaxBidirectional(activation="relu", rngs=nnx.Rngs(0)).save_pretrained(tmp_path / "flax")
    for directory in (tmp_path / "keras", tmp_path / "flax"):
        with pytest.warns(LayerSettingsWarning) as caught:
            TorchRecurrent.from_pretrained(directory, model_kwargs={"kind": "rnn"}, strict=True)
        assert _messages(caught) == ["rnn: activation 'tanh' here, 'relu' saved"]
        _silently(TorchRecurrent.from_pretrained, directory, model_kwargs={"kind": "rnn", "nonlinearity": "relu"})


def test_stacked_cells_activations_are_compared_both_ways(tmp_path: Path) -> None:
    TorchRecurrent().save_pretrained(tmp_path / "torch")  # nn.LSTM(num_layers=2)
    with pytest.warns(LayerSettingsWarning) as caught:
        KerasStacked.from_pretrained(tmp_path / "torch", model_kwargs={"activations": ("relu", "relu")}, strict=True)
    assert _messages(caught) == ["rnn: activation 'relu' here, 'tanh' saved"]
    with pytest.warns(LayerSettingsWarning) as caught:  # cells set apart: no torch LSTM computes that
        KerasStacked.from_pretrained(tmp_path / "torch", model_kwargs={"activations": ("tanh", "relu")}, strict=True)
    assert _messages(caught) == ["rnn: activation ['tanh', 'relu'] here, 'tanh' saved"]
    _silently(KerasStacked.from_pretrained, tmp_path / "torch", strict=True)

    stacked = KerasStacked(activations=("relu", "relu"))
    stacked(X)
    stacked.save_pretrained(tmp_path / "keras")
    with pytest.warns(LayerSettingsWarning, match=re.escape("rnn: activation 'tanh' here, 'relu' saved")):
        TorchRecurrent.from_pretrained(tmp_path / "keras", strict=True)


class TorchSeparable(nn.Module):
    def __init__(self, dilation: int = 2, stride: int = 1) -> None:
        super().__init__()
        self.depthwise = nn.Conv2d(3, 6, 3, groups=3, padding=dilation, dilation=dilation, stride=stride, bias=False)
        self.pointwise = nn.Conv2d(6, 4, 1)


@pytest.mark.parametrize(
    ("options", "dilation", "stride"),
    [({"padding": "same", "dilation_rate": 2}, 2, 1), ({"padding": "valid", "strides": 2}, 0, 2)],
    ids=["same-dilated", "valid-strided"],
)
def test_a_keras_separable_convolution_records_what_torchs_two_convolutions_do(
    options: dict[str, Any], dilation: int, stride: int
) -> None:
    layer = keras.layers.SeparableConv2D(4, 3, depth_multiplier=2, **options)
    layer(np.zeros((1, 8, 8, 3), np.float32))
    ours = keras_model_settings([("sep", layer)])
    torch_port = TorchSeparable(max(dilation, 1), stride)
    if not dilation:
        torch_port.depthwise.padding = (0, 0)
    theirs = {f"sep.{path}": values for path, values in torch_model_settings(torch_port).items()}
    assert set(ours) == set(theirs) == {"sep.depthwise", "sep.pointwise"}
    for path, values in ours.items():
        assert values == {name: theirs[path][name] for name in values}, path
    assert set(theirs["sep.depthwise"]) - set(ours["sep.depthwise"]) == {"groups"}  # as for DepthwiseConv2D
