"""An ``nnx.Sequential``'s layers are keyed by index (``mlp.0``), as torch names an ``nn.Sequential``'s modules:
the two exchange checkpoints; files with the keys of earlier releases (``mlp.layers.0``) still load."""

from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx
from safetensors.numpy import load_file, save_file

from hubmixin_flax import FlaxModelHubMixin

pytest.importorskip("torch")
pytest.importorskip("hubmixin_torch")

import torch
from torch import nn

from hubmixin_torch import PyTorchModelHubMixin

X = np.random.default_rng(0).standard_normal((2, 4)).astype(np.float32)


class TorchNet(nn.Module, PyTorchModelHubMixin):
    def __init__(self, d: int = 4) -> None:
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(d, 8), nn.ReLU(), nn.Linear(8, d))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.mlp(x)
        return out


class FlaxNet(nnx.Module, FlaxModelHubMixin):
    def __init__(self, d: int = 4, *, rngs: nnx.Rngs) -> None:
        self.mlp = nnx.Sequential(nnx.Linear(d, 8, rngs=rngs), nnx.relu, nnx.Linear(8, d, rngs=rngs))

    def __call__(self, x: jax.Array) -> jax.Array:
        out: jax.Array = self.mlp(x)
        return out


KEYS = ["mlp.0.bias", "mlp.0.weight", "mlp.2.bias", "mlp.2.weight"]


def test_sequential_layers_are_keyed_as_torch_keys_them(tmp_path: Path) -> None:
    model = FlaxNet(rngs=nnx.Rngs(0))
    model.save_pretrained(tmp_path)
    assert sorted(load_file(str(tmp_path / "model.safetensors"))) == KEYS
    loaded = FlaxNet.from_pretrained(tmp_path, strict=True)
    np.testing.assert_array_equal(np.asarray(loaded(jnp.asarray(X))), np.asarray(model(jnp.asarray(X))))


def test_torch_and_flax_sequentials_exchange_checkpoints(tmp_path: Path) -> None:
    torch.manual_seed(0)
    source = TorchNet()
    source.save_pretrained(tmp_path / "torch")
    port = FlaxNet.from_pretrained(tmp_path / "torch", strict=True)
    with torch.no_grad():
        expected = source(torch.from_numpy(X)).numpy()
    np.testing.assert_allclose(np.asarray(port(jnp.asarray(X))), expected, rtol=1e-5, atol=1e-6)
    port.save_pretrained(tmp_path / "flax")
    back = TorchNet.from_pretrained(tmp_path / "flax", strict=True)
    for name, tensor in source.state_dict().items():
        assert torch.equal(back.state_dict()[name], tensor), name


def test_keys_of_earlier_releases_still_load(tmp_path: Path) -> None:
    model = FlaxNet(rngs=nnx.Rngs(1))
    model.save_pretrained(tmp_path)
    path = tmp_path / "model.safetensors"
    tensors = {key.replace("mlp.", "mlp.layers.", 1): value for key, value in load_file(str(path)).items()}
    save_file(tensors, str(path), {"format": "pt"})
    loaded = FlaxNet.from_pretrained(tmp_path, strict=True)
    np.testing.assert_array_equal(np.asarray(loaded(jnp.asarray(X))), np.asarray(model(jnp.asarray(X))))


class NestedNet(nnx.Module, FlaxModelHubMixin):
    def __init__(self, *, rngs: nnx.Rngs) -> None:
        inner = nnx.Sequential(nnx.Linear(4, 3, rngs=rngs), nnx.Linear(3, 3, rngs=rngs))
        self.mlp = nnx.Sequential(inner, nnx.Linear(3, 4, rngs=rngs))

    def __call__(self, x: jax.Array) -> jax.Array:
        out: jax.Array = self.mlp(x)
        return out


def test_nested_sequentials_with_keys_of_earlier_releases_load(tmp_path: Path) -> None:
    model = NestedNet(rngs=nnx.Rngs(2))
    model.save_pretrained(tmp_path)
    path = tmp_path / "model.safetensors"
    earlier = {"mlp.0.0.": "mlp.layers.0.layers.0.", "mlp.0.1.": "mlp.layers.0.layers.1.", "mlp.1.": "mlp.layers.1."}
    tensors = {}
    for key, value in load_file(str(path)).items():
        prefix = next(p for p in earlier if key.startswith(p))
        tensors[earlier[prefix] + key[len(prefix) :]] = value
    save_file(tensors, str(path), {"format": "pt"})
    loaded = NestedNet.from_pretrained(tmp_path, strict=True)
    np.testing.assert_array_equal(np.asarray(loaded(jnp.asarray(X))), np.asarray(model(jnp.asarray(X))))
