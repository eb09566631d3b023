"""A tied PyTorch model saved in shards by huggingface_hub's ``save_torch_state_dict``, whose tie only the index's
``metadata`` records (each shard's header holds ``{"format": "pt"}``), loads tied into ports that hold the two apart
(QA round 22). Keras runs under this process' backend."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jax.numpy as jnp
import keras
import numpy as np
import pytest
import torch
from flax import nnx
from huggingface_hub import save_torch_state_dict
from safetensors import safe_open
from torch import nn

from hubmixin_flax import FlaxModelHubMixin
from hubmixin_keras import KerasModelHubMixin
from hubmixin_torch import PyTorchModelHubMixin

IDS = np.array([[1, 4, 0, 6, 63]])


class Tied(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.emb = nn.Embedding(64, 32)
        self.mid = nn.Linear(32, 32)
        self.head = nn.Linear(32, 64, bias=False)
        self.head.weight = self.emb.weight

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.head(self.mid(self.emb(ids)))
        return out


class TorchUntied(Tied, PyTorchModelHubMixin):
    def __init__(self) -> None:
        super().__init__()
        self.head = nn.Linear(32, 64, bias=False)  # held apart (to fine-tune it, say)


class FlaxPort(nnx.Module, FlaxModelHubMixin):
    def __init__(self, *, rngs: nnx.Rngs) -> None:
        self.emb = nnx.Embed(64, 32, rngs=rngs)
        self.mid = nnx.Linear(32, 32, rngs=rngs)
        self.head = nnx.Linear(32, 64, use_bias=False, rngs=rngs)

    def __call__(self, ids: jnp.ndarray) -> jnp.ndarray:
        out: jnp.ndarray = self.head(self.mid(self.emb(ids)))
        return out


class KerasPort(keras.Model, KerasModelHubMixin):  # type: ignore[misc]
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.emb = keras.layers.Embedding(64, 32)
        self.mid = keras.layers.Dense(32)
        self.head = keras.layers.Dense(64, use_bias=False)

    def call(self, ids: Any) -> Any:
        return self.head(self.mid(self.emb(ids)))


@pytest.fixture
def hf_shards(tmp_path: Path) -> tuple[Path, np.ndarray[Any, Any]]:
    """The tied model's shards as huggingface_hub writes them, and the model's output on ``IDS``."""
    torch.manual_seed(0)
    model = Tied()
    save_torch_state_dict(model.state_dict(), tmp_path, max_shard_size=5000)
    (tmp_path / "config.json").write_text("{}")
    index = json.loads((tmp_path / "model.safetensors.index.json").read_text())
    assert index["metadata"]["head.weight"] == "emb.weight"  # the tie is recorded there ...
    for shard in set(index["weight_map"].values()):
        with safe_open(str(tmp_path / shard), "np") as f:
            assert f.metadata() == {"format": "pt"}  # ... and in no shard's header
    with torch.no_grad():
        return tmp_path, model(torch.from_numpy(IDS)).numpy()


@pytest.mark.parametrize("strict", [False, True])
def test_a_torch_model_holding_the_two_apart_gets_the_kept_tensor_under_both_names(
    hf_shards: tuple[Path, np.ndarray[Any, Any]], strict: bool
) -> None:
    directory, expected = hf_shards
    port = TorchUntied.from_pretrained(directory, strict=strict)
    assert torch.equal(port.head.weight, port.emb.weight)
    with torch.no_grad():
        np.testing.assert_allclose(port(torch.from_numpy(IDS)).numpy(), expected, rtol=0, atol=1e-6)


def test_the_flax_and_keras_ports_load_the_shards_strictly(hf_shards: tuple[Path, np.ndarray[Any, Any]]) -> None:
    directory, expected = hf_shards
    flax_port = FlaxPort.from_pretrained(directory, strict=True)
    np.testing.assert_allclose(np.asarray(flax_port(jnp.asarray(IDS))), expected, rtol=0, atol=1e-5)
    keras_port = KerasPort.from_pretrained(directory, strict=True)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(keras_port(IDS)), expected, rtol=0, atol=1e-5)
