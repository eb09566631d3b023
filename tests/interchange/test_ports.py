"""Ports that differ from the model that saved: other attribute names (``key_mapping``), other layer settings
(a warning naming each layer). Keras runs under this process' backend."""

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

from hubmixin_core.errors import LayerSettingsWarning, WeightsKeyError
from hubmixin_flax import FlaxModelHubMixin
from hubmixin_keras import KerasModelHubMixin
from hubmixin_torch import PyTorchModelHubMixin

X = np.random.default_rng(0).standard_normal((2, 6, 3)).astype(np.float32)  # (batch, length, channels)
TO_FLAX = {r"^encoder\.fc\.": "enc.dense.", r"^encoder\.": "enc."}


class TorchNet(nn.Module, PyTorchModelHubMixin):
    def __init__(self, eps: float = 1e-5, padding: int = 1, heads: int = 2) -> None:
        super().__init__()
        self.encoder = nn.ModuleDict({"conv": nn.Conv1d(3, 4, 3, padding=padding), "fc": nn.Linear(4, 4)})
        self.norm = nn.LayerNorm(4, eps=eps)
        self.attn = nn.MultiheadAttention(4, heads, batch_first=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.encoder["fc"](self.encoder["conv"](x.transpose(1, 2)).transpose(1, 2))
        h = self.norm(h)
        out: torch.Tensor = self.attn(h, h, h, need_weights=False)[0]
        return out


class Encoder(nnx.Module):
    def __init__(self, padding: Any, *, rngs: nnx.Rngs) -> None:
        self.conv = nnx.Conv(3, 4, (3,), padding=padding, rngs=rngs)
        self.dense = nnx.Linear(4, 4, rngs=rngs)


class FlaxPort(nnx.Module, FlaxModelHubMixin):
    """TorchNet with ``encoder`` named ``enc`` and its ``fc`` named ``dense``."""

    def __init__(self, eps: float = 1e-5, padding: int = 1, heads: int = 2, *, rngs: nnx.Rngs) -> None:
        self.enc = Encoder("SAME" if padding == 1 else "VALID", rngs=rngs)
        self.norm = nnx.LayerNorm(4, epsilon=eps, rngs=rngs)
        self.attn = nnx.MultiHeadAttention(heads, 4, decode=False, rngs=rngs)

    def __call__(self, x: jnp.ndarray) -> jnp.ndarray:
        out: jnp.ndarray = self.attn(self.norm(self.enc.dense(self.enc.conv(x))))
        return out


class KerasPort(keras.Model, KerasModelHubMixin):  # type: ignore[misc]
    """TorchNet with Keras' default LayerNormalization epsilon (1e-3) unless told."""

    def __init__(self, eps: float = 1e-5, padding: int = 1, heads: int = 2, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.encoder = {"conv": keras.layers.Conv1D(4, 3, padding="same"), "fc": keras.layers.Dense(4)}
        self.norm = keras.layers.LayerNormalization()
        self.attn = keras.layers.MultiHeadAttention(heads, 4 // heads)

    def call(self, x: Any) -> Any:
        h = self.norm(self.encoder["fc"](self.encoder["conv"](x)))
        return self.attn(h, h)


def _torch_net(tmp_path: Path, **config: Any) -> tuple[Path, np.ndarray[Any, Any]]:
    torch.manual_seed(0)
    net = TorchNet(**config).eval()
    with torch.no_grad():
        for parameter in net.parameters():
            parameter.uniform_(-0.5, 0.5)
        out = net(torch.from_numpy(X)).numpy()
    net.save_pretrained(tmp_path / "torch")
    return tmp_path / "torch", out


def test_key_mapping_loads_a_port_with_other_attribute_names(tmp_path: Path) -> None:
    saved, expected = _torch_net(tmp_path)
    with pytest.raises(WeightsKeyError, match=r"enc\.dense\.weight"):
        FlaxPort.from_pretrained(saved, strict=True)
    port = FlaxPort.from_pretrained(saved, strict=True, key_mapping=TO_FLAX)
    np.testing.assert_allclose(np.asarray(port(jnp.asarray(X))), expected, rtol=0, atol=1e-5)

    port.save_pretrained(tmp_path / "flax")  # the port's own names; mapped back for torch
    back = TorchNet.from_pretrained(
        tmp_path / "flax", strict=True, key_mapping={r"^enc\.dense\.": "encoder.fc.", r"^enc\.": "encoder."}
    )
    for name, tensor in TorchNet.from_pretrained(saved).state_dict().items():
        assert torch.equal(back.state_dict()[name], tensor), name


def test_key_mapping_that_merges_two_names_is_refused(tmp_path: Path) -> None:
    saved, _ = _torch_net(tmp_path)
    with pytest.raises(
        WeightsKeyError, match=r"renames both 'encoder\.conv\.(\w+)' and 'encoder\.fc\.\1' to 'enc\.dense\.\1'$"
    ):
        FlaxPort.from_pretrained(saved, key_mapping={r"^encoder\.(conv|fc)\.": "enc.dense."})


def test_a_port_with_other_settings_loads_with_a_warning_naming_each_layer(tmp_path: Path) -> None:
    saved, _ = _torch_net(tmp_path)
    with pytest.warns(LayerSettingsWarning) as caught:
        FlaxPort.from_pretrained(saved, model_kwargs={"eps": 1e-6, "padding": 0, "heads": 1}, key_mapping=TO_FLAX)
    message = str(caught[0].message)
    assert message.startswith(f"FlaxPort loads {saved / 'model.safetensors'}, but layers are set differently")
    assert "enc.conv: padding [[0, 0]] here, [[1, 1]] saved" in message
    assert "norm: eps 1e-06 here, 1e-05 saved" in message
    assert "attn: heads 1 here, 2 saved" in message

    with pytest.warns(LayerSettingsWarning, match=re.escape("norm: eps 0.001 here, 1e-05 saved")) as caught:
        KerasPort.from_pretrained(saved, strict=True)
    assert "encoder.conv" not in str(caught[0].message)  # "same" at stride 1 is torch's padding=1


def test_torch_warns_of_a_keras_port_s_settings(tmp_path: Path) -> None:
    port = KerasPort()
    port(X)
    port.save_pretrained(tmp_path)
    with pytest.warns(LayerSettingsWarning, match=re.escape("norm: eps 1e-05 here, 0.001 saved")):
        TorchNet.from_pretrained(tmp_path, strict=True)


class TorchDown(nn.Module, PyTorchModelHubMixin):
    """A ResNet shortcut (1x1 convolution, stride 2) and a group norm."""

    def __init__(self, groups: int = 2) -> None:
        super().__init__()
        self.shortcut = nn.Conv2d(4, 4, 1, stride=2)
        self.norm = nn.GroupNorm(groups, 4)


class FlaxDown(nnx.Module, FlaxModelHubMixin):
    def __init__(self, groups: int = 2, *, rngs: nnx.Rngs) -> None:
        self.shortcut = nnx.Conv(4, 4, (1, 1), strides=2, rngs=rngs)  # padding "SAME": none for a 1x1 kernel
        self.norm = nnx.GroupNorm(4, num_groups=groups, epsilon=1e-5, rngs=rngs)


class KerasDown(keras.Model, KerasModelHubMixin):  # type: ignore[misc]
    def __init__(self, groups: int = 2, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.shortcut = keras.layers.Conv2D(4, 1, strides=2, padding="same")
        self.norm = keras.layers.GroupNormalization(groups, epsilon=1e-5)

    def call(self, x: Any) -> Any:
        return self.norm(self.shortcut(x))


def test_a_strided_1x1_same_convolution_is_no_setting_difference_but_group_counts_are(tmp_path: Path) -> None:
    TorchDown().save_pretrained(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "same" of a 1x1 kernel pads nothing, at stride 2 too
        FlaxDown.from_pretrained(tmp_path, strict=True)
        KerasDown.from_pretrained(tmp_path, strict=True)
    for port in (FlaxDown, KerasDown):
        with pytest.warns(LayerSettingsWarning, match=re.escape("norm: groups 4 here, 2 saved")):
            port.from_pretrained(tmp_path, model_kwargs={"groups": 4}, strict=True)
