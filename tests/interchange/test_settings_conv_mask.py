"""A Flax convolution with a ``mask=`` (PixelCNN's causal masks) multiplies its kernel by the mask as it runs; its
file holds the kernel as the layer does (a Flax port of it reads back the same) and records ``masked``, so a port
without the mask (a PyTorch or Keras convolution, or a Flax one without it) loads the file with a
``LayerSettingsWarning``, and a masked Flax port loads a PyTorch or Keras file with one; a convolution without a
mask records nothing new."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jax.numpy as jnp
import keras
import numpy as np
import pytest
from flax import nnx
from safetensors import safe_open
from settings_checks import settings_warnings
from torch import nn

from hubmixin_core.weights import SETTINGS_KEY
from hubmixin_flax import FlaxModelHubMixin
from hubmixin_flax._settings import layer_settings as flax_settings
from hubmixin_keras import KerasModelHubMixin
from hubmixin_torch import PyTorchModelHubMixin

MASK = np.ones((3, 3, 2, 4), np.float32)
MASK[1, 1:] = 0
MASK[2:] = 0


class FlaxNet(nnx.Module, FlaxModelHubMixin):
    def __init__(self, masked: bool = True, transposed: bool = False, *, rngs: nnx.Rngs) -> None:
        conv = nnx.ConvTranspose if transposed else nnx.Conv
        mask = jnp.asarray(MASK) if masked else None
        self.conv = conv(2, 4, (3, 3), padding=1 if not transposed else "SAME", mask=mask, rngs=rngs)


class TorchNet(nn.Module, PyTorchModelHubMixin):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(2, 4, 3, padding=1)


class KerasNet(keras.Model, KerasModelHubMixin):  # type: ignore[misc]
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.conv = keras.layers.Conv2D(4, 3, padding="same")

    def call(self, x: Any) -> Any:
        return self.conv(x)


def _saved(framework: str, path: Path, **kwargs: Any) -> Path:
    if framework == "flax":
        FlaxNet(rngs=nnx.Rngs(0), **kwargs).save_pretrained(path)
    elif framework == "keras":
        model = KerasNet()
        model(np.zeros((1, 5, 5, 2), np.float32))
        model.save_pretrained(path)
    else:
        TorchNet().save_pretrained(path)
    return path


def _warnings(port: str, path: Path, **kwargs: Any) -> list[str]:
    return settings_warnings({"torch": TorchNet, "flax": FlaxNet, "keras": KerasNet}[port], path, **kwargs)


def test_flax_records_a_mask_only_where_given() -> None:
    rngs = nnx.Rngs(0)
    assert "masked" not in flax_settings(nnx.Conv(2, 4, (3, 3), rngs=rngs))
    assert flax_settings(nnx.Conv(2, 4, (3, 3), mask=jnp.asarray(MASK), rngs=rngs))["masked"] is True
    assert flax_settings(nnx.ConvTranspose(2, 4, (3, 3), mask=jnp.asarray(MASK), rngs=rngs))["masked"] is True


def test_the_kernel_is_saved_as_held_and_read_back_the_same(tmp_path: Path) -> None:
    model = FlaxNet(rngs=nnx.Rngs(0))
    model.save_pretrained(tmp_path)
    with safe_open(str(tmp_path / "model.safetensors"), "np") as opened:
        assert json.loads(opened.metadata()[SETTINGS_KEY])["conv"]["masked"] is True
    loaded = FlaxNet.from_pretrained(tmp_path, strict=True)
    np.testing.assert_array_equal(np.asarray(loaded.conv.kernel[...]), np.asarray(model.conv.kernel[...]))
    x = jnp.asarray(np.random.default_rng(0).standard_normal((1, 5, 5, 2)), jnp.float32)
    np.testing.assert_array_equal(np.asarray(loaded.conv(x)), np.asarray(model.conv(x)))


@pytest.mark.parametrize(("port", "ours"), [("torch", {}), ("keras", {}), ("flax", {"masked": False})])
def test_a_port_without_the_mask_is_warned(tmp_path: Path, port: str, ours: dict[str, Any]) -> None:
    assert _warnings(port, _saved("flax", tmp_path), **ours) == ["conv: masked False here, True saved"]


@pytest.mark.parametrize("source", ["torch", "keras"])
def test_a_masked_flax_port_is_warned_of_a_file_whose_convolution_never_masks(tmp_path: Path, source: str) -> None:
    assert _warnings("flax", _saved(source, tmp_path)) == ["conv: masked True here, False saved"]


def test_a_masked_transposed_convolution_is_compared_too(tmp_path: Path) -> None:
    path = _saved("flax", tmp_path, transposed=True)
    assert _warnings("flax", path, transposed=True, masked=False) == ["conv: masked False here, True saved"]


SAME = [
    ("flax", {"masked": False}, "torch", {}),
    ("flax", {"masked": False}, "keras", {}),
    ("torch", {}, "flax", {"masked": False}),
    ("flax", {}, "flax", {}),
    # A Flax file without a mask records nothing, as files written before the mask was recorded: not compared.
    ("flax", {"masked": False}, "flax", {"masked": True}),
]


@pytest.mark.parametrize(("source", "saved", "port", "ours"), SAME)
def test_convolutions_alike_load_without_warning(
    tmp_path: Path, source: str, saved: dict[str, Any], port: str, ours: dict[str, Any]
) -> None:
    assert _warnings(port, _saved(source, tmp_path, **saved), **ours) == []
