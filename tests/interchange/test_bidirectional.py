"""Bidirectional RNNs: torch's ``nn.LSTM``/``nn.GRU(bidirectional=True)`` exchange checkpoints with Keras'
``Bidirectional`` and Flax's ``nnx.Bidirectional`` (the backward RNN's tensors suffixed ``_reverse``), both ways,
with ``strict=True``. Keras runs under this process' backend."""

from __future__ import annotations

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

from hubmixin_flax import FlaxModelHubMixin
from hubmixin_keras import KerasModelHubMixin
from hubmixin_torch import PyTorchModelHubMixin

D_IN, HIDDEN = 3, 5
X = np.random.default_rng(0).standard_normal((2, 6, D_IN)).astype(np.float32)


class TorchBi(nn.Module, PyTorchModelHubMixin):
    def __init__(self, kind: str = "lstm") -> None:
        super().__init__()
        rnn = nn.LSTM if kind == "lstm" else nn.GRU
        self.rnn = rnn(D_IN, HIDDEN, batch_first=True, bidirectional=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.rnn(x)[0]
        return out


class KerasBi(keras.Model, KerasModelHubMixin):  # type: ignore[misc]
    def __init__(self, kind: str = "lstm", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        rnn = keras.layers.LSTM if kind == "lstm" else keras.layers.GRU
        self.rnn = keras.layers.Bidirectional(rnn(HIDDEN, return_sequences=True))

    def call(self, x: Any) -> Any:
        return self.rnn(x)


class FlaxBi(nnx.Module, FlaxModelHubMixin):
    def __init__(self, kind: str = "lstm", *, rngs: nnx.Rngs) -> None:
        cell = nnx.OptimizedLSTMCell if kind == "lstm" else nnx.GRUCell
        forward = nnx.RNN(cell(D_IN, HIDDEN, rngs=rngs))
        backward = nnx.RNN(cell(D_IN, HIDDEN, rngs=rngs), reverse=True, keep_order=True)
        self.rnn = nnx.Bidirectional(forward, backward, rngs=rngs)

    def __call__(self, x: jnp.ndarray) -> jnp.ndarray:
        out = self.rnn(x)  # outputs only: no return_carry
        assert isinstance(out, jnp.ndarray)
        return out


def _torch_out(model: TorchBi) -> np.ndarray[Any, Any]:
    with torch.no_grad():
        out: np.ndarray[Any, Any] = model(torch.from_numpy(X)).numpy()
    return out


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_a_torch_bidirectional_rnn_loads_into_keras_and_flax(kind: str, tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = TorchBi(kind)
    model.save_pretrained(tmp_path)
    with safe_open(str(tmp_path / "model.safetensors"), "np") as f:
        keys: list[str] = f.keys()
    assert "rnn.weight_hh_l0_reverse" in keys
    expected = _torch_out(model)
    keras_port = KerasBi.from_pretrained(tmp_path, strict=True)  # its kind from config.json; built from the shapes
    np.testing.assert_allclose(keras.ops.convert_to_numpy(keras_port(X)), expected, rtol=0, atol=1e-5)
    if kind == "gru":  # nnx.GRUCell has no b_hn (see test_layers): torch's non-zero one is refused, named
        return
    flax_port = FlaxBi.from_pretrained(tmp_path, strict=True)
    np.testing.assert_allclose(np.asarray(flax_port(jnp.asarray(X))), expected, rtol=0, atol=1e-5)


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_keras_and_flax_bidirectional_rnns_load_into_torch(kind: str, tmp_path: Path) -> None:
    keras_model = KerasBi(kind)
    keras_out = keras.ops.convert_to_numpy(keras_model(X))
    keras_model.save_pretrained(tmp_path / "keras")
    from_keras = _torch_out(TorchBi.from_pretrained(tmp_path / "keras", strict=True))
    np.testing.assert_allclose(from_keras, keras_out, rtol=0, atol=1e-5)
    flax_model = FlaxBi(kind, rngs=nnx.Rngs(0))
    flax_model.save_pretrained(tmp_path / "flax")
    from_flax = _torch_out(TorchBi.from_pretrained(tmp_path / "flax", strict=True))
    np.testing.assert_allclose(from_flax, np.asarray(flax_model(jnp.asarray(X))), rtol=0, atol=1e-5)


def test_bidirectional_rnns_round_trip_in_their_own_framework(tmp_path: Path) -> None:
    keras_model = KerasBi("lstm")
    expected = keras.ops.convert_to_numpy(keras_model(X))
    keras_model.save_pretrained(tmp_path / "keras")
    again = KerasBi.from_pretrained(tmp_path / "keras", strict=True)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(again(X)), expected)
    flax_model = FlaxBi("gru", rngs=nnx.Rngs(1))
    flax_model.save_pretrained(tmp_path / "flax")
    flax_again = FlaxBi.from_pretrained(tmp_path / "flax", strict=True)
    np.testing.assert_array_equal(np.asarray(flax_again(jnp.asarray(X))), np.asarray(flax_model(jnp.asarray(X))))
