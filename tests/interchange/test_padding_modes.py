"""Convolution padding other than zeros (PyTorch's ``padding_mode``, Flax's ``"CIRCULAR"``/``"REFLECT"``) is
recorded with the amount it pads, so ports that pad differently are warned of, ports that pad alike (or not at
all, in any mode) are not, and files that recorded only the mode still compare."""

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
from safetensors.numpy import load_file, save_file
from torch import nn

from hubmixin_core.errors import LayerSettingsWarning
from hubmixin_core.weights import SETTINGS_KEY
from hubmixin_flax import FlaxModelHubMixin
from hubmixin_flax._settings import layer_settings as flax_settings
from hubmixin_keras import KerasModelHubMixin
from hubmixin_torch import PyTorchModelHubMixin
from hubmixin_torch._settings import layer_settings as torch_settings

Array = np.ndarray[Any, Any]
X = np.random.default_rng(0).standard_normal((1, 8, 2)).astype(np.float32)  # NLC
NUMPY_MODE = {"circular": "wrap", "reflect": "reflect", "replicate": "edge"}


def _padded(x: Array, padding: dict[str, Any], first_spatial: int) -> Array:
    """``x`` padded as a recorded non-zero ``padding`` says."""
    pads = [(0, 0)] * x.ndim
    for axis, (before, after) in enumerate(padding["padding"], start=first_spatial):
        pads[axis] = (before, after)
    padded: Array = np.pad(x, pads, mode=NUMPY_MODE[padding["mode"]])  # type: ignore[call-overload]
    return padded


@pytest.mark.parametrize("mode", ["circular", "reflect", "replicate"])
@pytest.mark.parametrize(("kernel", "padding", "dilation"), [(3, 1, 1), (4, 2, 1), (3, 2, 2), (4, "same", 1)])
def test_torch_records_the_pads_of_its_mode(mode: str, kernel: int, padding: Any, dilation: int) -> None:
    layer = nn.Conv1d(2, 3, kernel, padding=padding, dilation=dilation, padding_mode=mode)  # type: ignore[arg-type]
    valid = nn.Conv1d(2, 3, kernel, dilation=dilation)
    valid.load_state_dict(layer.state_dict())
    recorded = torch_settings(layer)["padding"]
    assert recorded["mode"] == mode
    x = torch.from_numpy(X.transpose(0, 2, 1).copy())
    with torch.no_grad():
        expected = valid(torch.from_numpy(_padded(x.numpy(), recorded, 2))).numpy()
        np.testing.assert_allclose(layer(x).numpy(), expected, atol=1e-6)


@pytest.mark.parametrize("mode", ["CIRCULAR", "REFLECT"])
@pytest.mark.parametrize(("kernel", "stride", "dilation"), [(2, 1, 1), (3, 1, 1), (4, 2, 1), (3, 2, 2)])
def test_flax_records_the_pads_of_its_mode(mode: str, kernel: int, stride: int, dilation: int) -> None:
    options: dict[str, Any] = {"strides": stride, "kernel_dilation": dilation, "rngs": nnx.Rngs(0)}
    layer = nnx.Conv(2, 3, (kernel,), padding=mode, **options)
    valid = nnx.Conv(2, 3, (kernel,), padding="VALID", **options)
    valid.kernel.set_value(layer.kernel.get_value())
    recorded = flax_settings(layer)["padding"]
    assert recorded["mode"] == mode.lower()
    expected = np.asarray(valid(jnp.asarray(_padded(X, recorded, 1))))
    np.testing.assert_allclose(np.asarray(layer(jnp.asarray(X))), expected, atol=1e-6)


class TorchConv(nn.Module, PyTorchModelHubMixin):
    def __init__(self, kernel: int = 3, padding: int = 1, mode: str = "circular") -> None:
        super().__init__()
        self.conv = nn.Conv1d(2, 3, kernel, padding=padding, padding_mode=mode)  # type: ignore[arg-type]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.conv(x.transpose(1, 2)).transpose(1, 2)
        return out


class FlaxConv(nnx.Module, FlaxModelHubMixin):
    def __init__(self, kernel: int = 3, padding: Any = 1, mode: str = "CIRCULAR", *, rngs: nnx.Rngs) -> None:
        self.conv = nnx.Conv(2, 3, (kernel,), padding=mode, rngs=rngs)

    def __call__(self, x: jnp.ndarray) -> jnp.ndarray:
        out: jnp.ndarray = self.conv(x)
        return out


class KerasConv(keras.Model, KerasModelHubMixin):  # type: ignore[misc]
    def __init__(self, kernel: int = 3, padding: Any = 0, mode: str = "valid", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.conv = keras.layers.Conv1D(3, kernel, padding=mode)

    def call(self, x: Any) -> Any:
        return self.conv(x)


def _load(cls: type[Any], path: Path, **model_kwargs: Any) -> tuple[Any, list[str]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = cls.from_pretrained(path, model_kwargs=model_kwargs, strict=True)
    said = [str(w.message).split("will differ: ", 1)[1] for w in caught if w.category is LayerSettingsWarning]
    return model, said


def _saved(path: Path, kernel: int, padding: int, mode: str) -> Array:
    """A ``TorchConv`` saved at ``path``: its output on ``X``."""
    torch.manual_seed(0)
    model = TorchConv(kernel, padding, mode).eval()
    model.save_pretrained(path)
    with torch.no_grad():
        out: Array = model(torch.from_numpy(X)).numpy()
    return out


AGREE = [  # (kernel, torch padding, torch mode, port class, port mode): the same outputs
    (3, 1, "circular", FlaxConv, "CIRCULAR"),
    (3, 1, "reflect", FlaxConv, "REFLECT"),
    (3, 0, "reflect", FlaxConv, "VALID"),  # no padding in any mode
    (3, 0, "replicate", KerasConv, "valid"),
    (1, 0, "circular", FlaxConv, "CIRCULAR"),  # Flax's "same" pads of a 1-wide kernel: none
]


@pytest.mark.parametrize(("kernel", "padding", "mode", "port", "port_mode"), AGREE, ids=str)
def test_ports_that_pad_alike_load_without_a_warning(
    tmp_path: Path, kernel: int, padding: int, mode: str, port: type[Any], port_mode: str
) -> None:
    expected = _saved(tmp_path, kernel, padding, mode)
    model, said = _load(port, tmp_path, mode=port_mode)
    assert said == []
    out = model(jnp.asarray(X)) if port is FlaxConv else model(X)
    np.testing.assert_allclose(np.asarray(keras.ops.convert_to_numpy(out)), expected, atol=1e-5)


DIFFER = [  # (kernel, torch padding, torch mode, port mode, message)
    (
        4,
        2,
        "circular",
        "CIRCULAR",
        "conv: padding {'mode': 'circular', 'padding': [[1, 2]]} here, {'mode': 'circular', 'padding': [[2, 2]]} saved",
    ),
    (
        4,
        1,
        "reflect",
        "REFLECT",
        "conv: padding {'mode': 'reflect', 'padding': [[1, 2]]} here, {'mode': 'reflect', 'padding': [[1, 1]]} saved",
    ),
    (3, 1, "circular", "SAME", "conv: padding [[1, 1]] here, {'mode': 'circular', 'padding': [[1, 1]]} saved"),
    (
        3,
        1,
        "replicate",
        "REFLECT",
        "conv: padding {'mode': 'reflect', 'padding': [[1, 1]]} here, {'mode': 'replicate', 'padding': [[1, 1]]} saved",
    ),
]


@pytest.mark.parametrize(("kernel", "padding", "mode", "port_mode", "message"), DIFFER, ids=str)
def test_ports_that_pad_otherwise_are_warned_of(
    tmp_path: Path, kernel: int, padding: int, mode: str, port_mode: str, message: str
) -> None:
    expected = _saved(tmp_path, kernel, padding, mode)
    model, said = _load(FlaxConv, tmp_path, mode=port_mode)
    assert said == [message]
    out = np.asarray(model(jnp.asarray(X)))
    assert out.shape != expected.shape or not np.allclose(out, expected, atol=1e-5)


def test_a_file_recording_only_the_mode_compares_by_mode(tmp_path: Path) -> None:
    _saved(tmp_path, 3, 1, "circular")
    file = tmp_path / "model.safetensors"
    with safe_open(file, "np") as handle:
        metadata = dict(handle.metadata())
    settings = json.loads(metadata[SETTINGS_KEY])
    settings["conv"]["padding"] = "circular"  # what files written before the pads were recorded hold
    save_file(load_file(file), file, {**metadata, SETTINGS_KEY: json.dumps(settings)})
    assert _load(TorchConv, tmp_path)[1] == []
    assert _load(FlaxConv, tmp_path, mode="CIRCULAR")[1] == []
    assert _load(FlaxConv, tmp_path, mode="VALID")[1] == ["conv: padding [[0, 0]] here, 'circular' saved"]
