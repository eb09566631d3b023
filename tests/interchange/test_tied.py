"""A tied PyTorch model (its head sharing the embedding's weight, stored once) loads into Flax and Keras ports that
hold the two apart, from hubmixin-torch's file and from huggingface_hub's. Keras runs under this process' backend."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import huggingface_hub
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

IDS = np.array([[1, 4, 0, 6]])


class TiedLM(nn.Module, PyTorchModelHubMixin):
    def __init__(self, vocab: int = 7, dim: int = 4) -> None:
        super().__init__()
        self.emb = nn.Embedding(vocab, dim)
        self.head = nn.Linear(dim, vocab, bias=False)
        self.head.weight = self.emb.weight

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.head(self.emb(ids))
        return out


class ReferenceTiedLM(TiedLM, huggingface_hub.PyTorchModelHubMixin):  # type: ignore[misc]
    """Saved by huggingface_hub's mixin (safetensors' ``save_model``)."""


class FlaxLM(nnx.Module, FlaxModelHubMixin):
    def __init__(self, vocab: int = 7, dim: int = 4, *, rngs: nnx.Rngs) -> None:
        self.emb = nnx.Embed(vocab, dim, rngs=rngs)
        self.head = nnx.Linear(dim, vocab, use_bias=False, rngs=rngs)

    def __call__(self, ids: jnp.ndarray) -> jnp.ndarray:
        out: jnp.ndarray = self.head(self.emb(ids))
        return out


class KerasLM(keras.Model, KerasModelHubMixin):  # type: ignore[misc]
    def __init__(self, vocab: int = 7, dim: int = 4, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.emb = keras.layers.Embedding(vocab, dim)
        self.head = keras.layers.Dense(vocab, use_bias=False)

    def call(self, ids: Any) -> Any:
        return self.head(self.emb(ids))


@pytest.mark.parametrize("writer", [TiedLM, ReferenceTiedLM])
def test_a_tied_torch_checkpoint_loads_into_untied_ports(writer: type[TiedLM], tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = writer()
    model.save_pretrained(tmp_path)
    with safe_open(str(tmp_path / "model.safetensors"), "np") as f:
        assert list(f.keys()) == ["emb.weight"]  # stored once, the other name recorded
    with torch.no_grad():
        expected = model(torch.from_numpy(IDS)).numpy()

    flax_port = FlaxLM.from_pretrained(tmp_path, strict=True)
    np.testing.assert_allclose(np.asarray(flax_port(jnp.asarray(IDS))), expected, rtol=0, atol=1e-6)
    keras_port = KerasLM.from_pretrained(tmp_path, strict=True)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(keras_port(IDS)), expected, rtol=0, atol=1e-6)


class FlaxTied(nnx.Module, FlaxModelHubMixin):
    """A kernel shared by two layers, and a whole layer reachable at two paths."""

    def __init__(self, dim: int = 4, *, rngs: nnx.Rngs) -> None:
        self.a = nnx.Linear(dim, dim, rngs=rngs)
        self.b = nnx.Linear(dim, dim, rngs=rngs)
        self.b.kernel = self.a.kernel
        self.c = nnx.Linear(dim, dim, rngs=rngs)
        self.d = self.c

    def __call__(self, x: jnp.ndarray) -> jnp.ndarray:
        out: jnp.ndarray = self.d(self.c(self.b(self.a(x))))
        return out


class TorchUntied(nn.Module, PyTorchModelHubMixin):
    def __init__(self, dim: int = 4) -> None:
        super().__init__()
        self.a, self.b, self.c, self.d = (nn.Linear(dim, dim) for _ in range(4))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.d(self.c(self.b(self.a(x))))
        return out


def test_a_tied_flax_model_records_its_dropped_names_for_other_ports(tmp_path: Path) -> None:
    model = FlaxTied(rngs=nnx.Rngs(0))
    model.save_pretrained(tmp_path)
    with safe_open(str(tmp_path / "model.safetensors"), "np") as f:
        assert sorted(f.keys()) == ["a.bias", "a.weight", "b.bias", "c.bias", "c.weight"]
    x = np.random.default_rng(0).standard_normal((2, 4)).astype(np.float32)
    port = TorchUntied.from_pretrained(tmp_path, strict=True)  # b.weight, d.weight and d.bias were missing
    with torch.no_grad():
        np.testing.assert_allclose(port(torch.from_numpy(x)).numpy(), np.asarray(model(jnp.asarray(x))), atol=1e-5)
    again = FlaxTied.from_pretrained(tmp_path, strict=True)
    assert again.b.kernel is again.a.kernel and again.d is again.c
    np.testing.assert_array_equal(np.asarray(again(jnp.asarray(x))), np.asarray(model(jnp.asarray(x))))


class KerasShared(keras.Model, KerasModelHubMixin):  # type: ignore[misc]
    """Layers reachable at two paths: a layer set first, then listed; a listed layer, then set."""

    def __init__(self, dim: int = 4, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.shared = keras.layers.Dense(dim)
        self.alias = [self.shared]
        self.blocks = [keras.layers.Dense(dim), keras.layers.Dense(dim)]
        self.first = self.blocks[0]

    def call(self, x: Any) -> Any:
        return self.blocks[1](self.first(self.alias[0](x)))


class TorchShared(nn.Module, PyTorchModelHubMixin):
    def __init__(self, dim: int = 4) -> None:
        super().__init__()
        self.shared = nn.Linear(dim, dim)
        self.alias = nn.ModuleList([self.shared])
        self.blocks = nn.ModuleList([nn.Linear(dim, dim), nn.Linear(dim, dim)])
        self.first = self.blocks[0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.blocks[1](self.first(self.alias[0](x)))
        return out


def test_a_keras_layer_at_two_paths_is_stored_once_under_the_same_name_on_every_backend(tmp_path: Path) -> None:
    x = np.random.default_rng(0).standard_normal((2, 4)).astype(np.float32)
    model = KerasShared()
    expected = keras.ops.convert_to_numpy(model(x))
    model.save_pretrained(tmp_path)
    with safe_open(str(tmp_path / "model.safetensors"), "np") as f:
        # Layers set directly come first, then listed ones, whatever the backend keeps them in.
        keys: list[str] = f.keys()
        stored = {name.rsplit(".", 1)[0] for name in keys}
        assert stored == {"blocks.1", "first", "shared"}
        metadata = f.metadata()
    assert metadata["alias.0.weight"] == "shared.weight" and metadata["blocks.0.bias"] == "first.bias"
    port = TorchShared.from_pretrained(tmp_path, strict=True)
    with torch.no_grad():
        np.testing.assert_allclose(port(torch.from_numpy(x)).numpy(), expected, rtol=0, atol=1e-5)

    port.save_pretrained(tmp_path / "torch")  # torch keeps the first registered name: blocks.0, not first
    back = KerasShared.from_pretrained(tmp_path / "torch", strict=True)  # what the tied names read is no surplus
    np.testing.assert_allclose(keras.ops.convert_to_numpy(back(x)), expected, rtol=0, atol=1e-5)
