"""Sharded checkpoints: the transformers / huggingface_hub layout, local and through a Hub."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors import safe_open
from torch_models import Net, assert_same_tensors

from hubmixin_core.errors import ShardIndexError
from hubmixin_core.testing import LocalHub

SMALL = 600  # bytes: forces Net (about 3 KB) into several shards


def _shards(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.glob("model-*.safetensors"))


def test_small_max_shard_size_writes_shards_and_an_index(net: Net, tmp_path: Path) -> None:
    net.save_pretrained(tmp_path, max_shard_size=SMALL)
    shards = _shards(tmp_path)
    assert len(shards) >= 3
    assert shards == [f"model-{i:05d}-of-{len(shards):05d}.safetensors" for i in range(1, len(shards) + 1)]
    assert not (tmp_path / "model.safetensors").exists()
    index = json.loads((tmp_path / "model.safetensors.index.json").read_text())
    assert set(index) == {"metadata", "weight_map"}
    assert set(index["weight_map"].values()) == set(shards)
    total = 0
    for shard in shards:
        with safe_open(str(tmp_path / shard), framework="pt") as f:
            assert (f.metadata() or {})["format"] == "pt"
            names: list[str] = f.keys()
            for key in names:
                assert index["weight_map"][key] == shard
                total += f.get_tensor(key).nbytes
    assert index["metadata"]["total_size"] == total
    assert "head.weight" not in index["weight_map"]  # tied to embed.weight: stored once


def test_sharded_checkpoint_round_trips_strictly(net: Net, tmp_path: Path) -> None:
    net.save_pretrained(tmp_path, max_shard_size="600B")
    loaded = Net.from_pretrained(tmp_path, strict=True)
    assert_same_tensors(net, loaded)
    assert loaded.head.weight is loaded.embed.weight


@pytest.mark.parametrize("max_shard_size", [None, "1GB", 10**9])
def test_a_model_under_the_limit_is_one_file(net: Net, tmp_path: Path, max_shard_size: int | str | None) -> None:
    net.save_pretrained(tmp_path, max_shard_size=max_shard_size)
    assert sorted(p.name for p in tmp_path.glob("model*")) == ["model.safetensors"]


def test_saving_as_float16_shards_by_the_converted_size(net: Net, tmp_path: Path) -> None:
    net.save_pretrained(tmp_path, max_shard_size=SMALL, dtype=torch.float16)
    index = json.loads((tmp_path / "model.safetensors.index.json").read_text())
    tensors: dict[str, torch.Tensor] = {}
    for shard in _shards(tmp_path):
        with safe_open(str(tmp_path / shard), framework="pt") as f:
            names: list[str] = f.keys()
            tensors.update({k: f.get_tensor(k) for k in names})
    assert {t.dtype for t in tensors.values()} == {torch.float16, torch.int64}
    assert tensors["norm.num_batches_tracked"].dtype == torch.int64
    assert index["metadata"]["total_size"] == sum(t.nbytes for t in tensors.values())
    assert net.embed.weight.dtype == torch.float32  # the model itself is not converted


def test_a_missing_shard_is_named(net: Net, tmp_path: Path) -> None:
    net.save_pretrained(tmp_path, max_shard_size=SMALL)
    (tmp_path / _shards(tmp_path)[1]).unlink()
    with pytest.raises(ShardIndexError, match="model-00002-of"):
        Net.from_pretrained(tmp_path)


def test_an_invalid_max_shard_size_is_a_value_error(net: Net, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="5 apples"):
        net.save_pretrained(tmp_path / "out", max_shard_size="5 apples")
    assert not (tmp_path / "out").exists()


def test_shards_through_a_hub(net: Net, local_hub: LocalHub) -> None:
    repo_id = f"{local_hub.username}/sharded-net"
    net.push_to_hub(repo_id, max_shard_size=SMALL)
    loaded = Net.from_pretrained(repo_id, strict=True, max_workers=4)
    assert_same_tensors(net, loaded)
    assert loaded.head.weight is loaded.embed.weight
    assert loaded._hub_mixin_config == {"dim": 8, "vocab": 11}


def test_single_file_through_a_hub(net: Net, local_hub: LocalHub, tmp_path: Path) -> None:
    repo_id = f"{local_hub.username}/net"
    net.save_pretrained(tmp_path, push_to_hub=True, repo_id=repo_id)
    assert_same_tensors(net, Net.from_pretrained(repo_id))
