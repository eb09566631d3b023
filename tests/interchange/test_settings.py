"""The layer settings each framework records mean what ``SETTING_NAMES`` says, and a port that differs in one
loads with a warning naming it. A transposed convolution's ``crop`` is checked against the layer itself: its
output is its full output (the same kernel without padding) cut or extended by the recorded crop."""

from __future__ import annotations

import re
import warnings
from pathlib import Path
from typing import Any

import jax.numpy as jnp
import keras
import numpy as np
import pytest
import torch
from flax import nnx
from torch import nn

from hubmixin_core.errors import LayerSettingsWarning
from hubmixin_flax import FlaxModelHubMixin
from hubmixin_flax._settings import layer_settings as flax_settings
from hubmixin_keras import KerasModelHubMixin
from hubmixin_keras._settings import layer_settings as keras_settings
from hubmixin_torch import PyTorchModelHubMixin
from hubmixin_torch._settings import layer_settings as torch_settings

Array = np.ndarray[Any, Any]
RNG = np.random.default_rng(0)


def _cropped(full: Array, bias: Array, crop: list[list[int]], first_spatial: int) -> Array:
    """``full`` (a transposed convolution's output without padding) cut by ``crop``: a negative crop adds
    positions holding only the bias."""
    out = full - bias
    for axis, (before, after) in enumerate(crop, start=first_spatial):
        pad = [(0, 0)] * out.ndim
        pad[axis] = (max(-before, 0), max(-after, 0))
        out = np.pad(out, pad)
        index = [slice(None)] * out.ndim
        index[axis] = slice(max(before, 0), out.shape[axis] - max(after, 0))
        out = out[tuple(index)]
    return out + bias


TORCH_CASES = [  # (kernel, stride, padding, output_padding, dilation)
    (3, 2, 1, 1, 1),
    (4, 2, 1, 0, 1),
    (2, 3, 0, 2, 1),
    (3, 1, 2, 0, 2),
    ((3, 2), (2, 1), (1, 0), (1, 0), (1, 1)),
]


@pytest.mark.parametrize("case", TORCH_CASES, ids=str)
def test_torch_transposed_convolution_crop(case: tuple[Any, ...]) -> None:
    kernel, stride, padding, extra, dilation = case
    two_d = isinstance(kernel, tuple)
    conv = nn.ConvTranspose2d if two_d else nn.ConvTranspose1d
    layer = conv(2, 3, kernel, stride=stride, padding=padding, output_padding=extra, dilation=dilation)
    full = conv(2, 3, kernel, stride=stride, dilation=dilation)
    full.load_state_dict(layer.state_dict())
    x = torch.from_numpy(RNG.standard_normal((1, 2, 5, 4) if two_d else (1, 2, 5)).astype(np.float32))
    with torch.no_grad():
        out, whole = layer(x).numpy(), full(x).numpy()
    assert layer.bias is not None
    bias = layer.bias.detach().numpy().reshape((3, 1, 1) if two_d else (3, 1))
    np.testing.assert_allclose(out, _cropped(whole, bias, torch_settings(layer)["crop"], 2), atol=1e-5)


FLAX_CASES = [  # (kernel, strides, padding, dilation)
    ((3,), 2, "SAME", 1),
    ((4,), 2, "SAME", 1),
    ((2,), 3, "SAME", 1),
    ((2,), 3, "VALID", 1),
    ((3,), 2, "VALID", 1),
    ((3,), 2, ((1, 2),), 1),
    ((3,), 2, 1, 1),
    ((3,), 1, "SAME", 2),
    ((3, 2), (2, 1), "SAME", 1),
]


@pytest.mark.parametrize("case", FLAX_CASES, ids=str)
def test_flax_transposed_convolution_crop(case: tuple[Any, ...]) -> None:
    kernel, strides, padding, dilation = case
    layer = nnx.ConvTranspose(
        2, 3, kernel, strides=strides, padding=padding, kernel_dilation=dilation, rngs=nnx.Rngs(0)
    )
    assert layer.bias is not None
    layer.bias.set_value(jnp.asarray(RNG.standard_normal(3).astype(np.float32)))
    none = [(dilation * (k - 1), dilation * (k - 1)) for k in kernel]  # lax pads of the full output
    full = nnx.ConvTranspose(2, 3, kernel, strides=strides, padding=none, kernel_dilation=dilation, rngs=nnx.Rngs(0))
    full.kernel.set_value(layer.kernel.get_value())
    assert full.bias is not None
    full.bias.set_value(layer.bias.get_value())
    x = jnp.asarray(RNG.standard_normal((1, 5, 4, 2) if len(kernel) == 2 else (1, 5, 2)).astype(np.float32))
    out, whole = np.asarray(layer(x)), np.asarray(full(x))
    bias = np.asarray(layer.bias.get_value())
    np.testing.assert_allclose(out, _cropped(whole, bias, flax_settings(layer)["crop"], 1), atol=1e-5)


KERAS_CASES = [  # (kernel, strides, padding, output_padding, dilation)
    (3, 2, "same", None, 1),
    (4, 2, "same", None, 1),
    (3, 2, "same", 1, 1),
    (3, 2, "valid", None, 1),
    (2, 3, "valid", None, 1),
    (3, 2, "valid", 1, 1),
    (3, 1, "same", None, 2),
    ((3, 2), (2, 1), "same", None, 1),
]


@pytest.mark.parametrize("case", KERAS_CASES, ids=str)
def test_keras_transposed_convolution_crop(case: tuple[Any, ...]) -> None:
    kernel, strides, padding, extra, dilation = case
    two_d = isinstance(kernel, tuple)
    conv = keras.layers.Conv2DTranspose if two_d else keras.layers.Conv1DTranspose
    options = {"strides": strides, "dilation_rate": dilation, "bias_initializer": "random_normal"}
    layer = conv(3, kernel, padding=padding, output_padding=extra, **options)
    full = conv(3, kernel, padding="valid", output_padding=0 if not two_d else (0, 0), **options)
    x = RNG.standard_normal((1, 5, 4, 2) if two_d else (1, 5, 2)).astype(np.float32)
    out = keras.ops.convert_to_numpy(layer(x))
    full(x)
    full.set_weights(layer.get_weights())
    whole = keras.ops.convert_to_numpy(full(x))
    bias = keras.ops.convert_to_numpy(layer.bias)
    np.testing.assert_allclose(out, _cropped(whole, bias, keras_settings(layer)["crop"], 1), atol=1e-5)


class TorchUp(nn.Module, PyTorchModelHubMixin):
    """A decoder's upsampling (``padding=1, output_padding=1``: twice the length), an RMS norm with torch's
    default epsilon (the input dtype's) and a ReLU RNN."""

    def __init__(self, nonlinearity: str = "relu") -> None:
        super().__init__()
        self.up = nn.ConvTranspose1d(4, 4, 3, stride=2, padding=1, output_padding=1)
        self.norm = nn.RMSNorm(4)
        self.rnn = nn.RNN(4, 4, nonlinearity=nonlinearity, batch_first=True)


class FlaxUp(nnx.Module, FlaxModelHubMixin):
    def __init__(self, padding: Any = ((1, 2),), eps: float = 1e-6, *, rngs: nnx.Rngs) -> None:
        self.up = nnx.ConvTranspose(4, 4, (3,), strides=2, padding=padding, transpose_kernel=True, rngs=rngs)
        self.norm = nnx.RMSNorm(4, epsilon=eps, rngs=rngs)
        self.rnn = nnx.RNN(nnx.SimpleCell(4, 4, activation_fn=nnx.relu, rngs=rngs))


class KerasUp(keras.Model, KerasModelHubMixin):  # type: ignore[misc]
    def __init__(self, activation: str = "relu", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.up = keras.layers.Conv1DTranspose(4, 3, strides=2, padding="same")
        self.norm = keras.layers.RMSNormalization()
        self.rnn = keras.layers.SimpleRNN(4, activation=activation, return_sequences=True)

    def call(self, x: Any) -> Any:
        return self.rnn(self.norm(self.up(x)))


def test_a_port_differing_in_crop_epsilon_or_activation_is_warned_of(tmp_path: Path) -> None:
    settings = torch_settings(TorchUp().norm)
    assert settings == {"eps": pytest.approx(float(torch.finfo(torch.float32).eps)), "norm": "rms"}
    TorchUp().save_pretrained(tmp_path)

    with pytest.warns(LayerSettingsWarning) as caught:
        FlaxUp.from_pretrained(tmp_path, strict=True)
    assert [str(w.message).split(": ", 1)[1] for w in caught] == [f"norm: eps 1e-06 here, {settings['eps']!r} saved"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        FlaxUp.from_pretrained(tmp_path, model_kwargs={"eps": float(torch.finfo(torch.float32).eps)}, strict=True)

    with pytest.warns(LayerSettingsWarning) as caught:
        KerasUp.from_pretrained(tmp_path, model_kwargs={"activation": "tanh"}, strict=True)
    message = str(caught[0].message)
    assert "up: crop [[0, 1]] here, [[1, 0]] saved" in message  # "same" puts the extra position first
    assert "rnn: activation 'tanh' here, 'relu' saved" in message
    assert re.search(r"norm: eps 1e-06 here", message)


def test_torchs_default_rms_epsilon_follows_the_dtype_and_is_not_warned_of_between_torch_dtypes(tmp_path: Path) -> None:
    bf16 = float(torch.finfo(torch.bfloat16).eps)
    TorchUp().save_pretrained(tmp_path / "bf16", dtype=torch.bfloat16)
    assert TorchUp.from_pretrained(tmp_path / "bf16", dtype=torch.bfloat16).norm.weight.dtype == torch.bfloat16
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the same class, in the dtype it was saved in: the same epsilon
        TorchUp.from_pretrained(tmp_path / "bf16", dtype=torch.bfloat16)
        FlaxUp.from_pretrained(tmp_path / "bf16", model_kwargs={"eps": bf16})
    TorchUp().save_pretrained(tmp_path / "f32")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # both take the input dtype's epsilon: another dtype sets nothing differently
        TorchUp.from_pretrained(tmp_path / "f32", dtype=torch.bfloat16)
        TorchUp.from_pretrained(tmp_path / "bf16")


class TorchGrouped(nn.Module, PyTorchModelHubMixin):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv1d(8, 8, 3, groups=2)  # weight (8, 4, 3)


class FlaxGrouped(nnx.Module, FlaxModelHubMixin):
    def __init__(self, *, rngs: nnx.Rngs) -> None:
        self.conv = nnx.Conv(8, 8, (3,), feature_group_count=2, padding="VALID", rngs=rngs)


class KerasGrouped(keras.Model, KerasModelHubMixin):  # type: ignore[misc]
    def __init__(self, groups: int = 2, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.conv = keras.layers.Conv1D(8, 3, groups=groups)  # built from the file's kernel: (3, 4, 8)

    def call(self, x: Any) -> Any:
        return self.conv(x)


def test_convolution_groups_are_compared(tmp_path: Path) -> None:
    TorchGrouped().save_pretrained(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        FlaxGrouped.from_pretrained(tmp_path, strict=True)
        KerasGrouped.from_pretrained(tmp_path, strict=True)
    # groups=4 builds for 16 input channels from the file's kernel: only the first call would fail, unexplained
    with pytest.warns(LayerSettingsWarning, match=re.escape("conv: groups 4 here, 2 saved")):
        KerasGrouped.from_pretrained(tmp_path, model_kwargs={"groups": 4}, strict=True)
