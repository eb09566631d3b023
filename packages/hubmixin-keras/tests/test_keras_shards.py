"""Sharded checkpoints (``max_shard_size``) and the Hub: saved, pushed and loaded through a local Hub."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from huggingface_hub import HfApi
from keras_models import Net, assert_same_variables, outputs
from safetensors import safe_open

from hubmixin_core.testing import LocalHub

SMALL = 200  # bytes: forces Net (about 700 bytes) into several shards


def _shards(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.glob("model-*.safetensors"))


def _read_all(directory: Path, files: list[str]) -> dict[str, np.ndarray[Any, Any]]:
    tensors: dict[str, np.ndarray[Any, Any]] = {}
    for name in files:
        with safe_open(str(directory / name), framework="numpy") as f:
            assert (f.metadata() or {}).get("format") == "pt"
            keys: list[str] = f.keys()
            tensors.update({k: f.get_tensor(k) for k in keys})
    return tensors


def test_small_max_shard_size_writes_shards_and_an_index(net: Net, tmp_path: Path) -> None:
    net.save_pretrained(tmp_path / "one")
    net.save_pretrained(tmp_path / "many", max_shard_size=SMALL)
    many = tmp_path / "many"
    shards = _shards(many)
    assert len(shards) >= 3
    assert shards == [f"model-{i:05d}-of-{len(shards):05d}.safetensors" for i in range(1, len(shards) + 1)]
    assert not (many / "model.safetensors").exists()
    index = json.loads((many / "model.safetensors.index.json").read_text())
    assert set(index["weight_map"].values()) == set(shards)
    tensors = _read_all(many, shards)
    assert index["metadata"]["total_size"] == sum(t.nbytes for t in tensors.values())
    single = _read_all(tmp_path / "one", ["model.safetensors"])
    assert tensors.keys() == single.keys() == index["weight_map"].keys()
    for key, tensor in tensors.items():
        assert tensor.dtype == single[key].dtype and tensor.tobytes() == single[key].tobytes(), key


@pytest.mark.parametrize("max_shard_size", [None, "1GB", 10**9])
def test_a_model_under_the_limit_is_one_file(net: Net, tmp_path: Path, max_shard_size: int | str | None) -> None:
    net.save_pretrained(tmp_path, max_shard_size=max_shard_size)
    assert sorted(p.name for p in tmp_path.glob("model*")) == ["model.safetensors"]


def test_shards_load_back_strictly(net: Net, tmp_path: Path) -> None:
    net.save_pretrained(tmp_path, max_shard_size=f"{SMALL}B")
    assert len(_shards(tmp_path)) >= 3
    loaded = Net.from_pretrained(tmp_path, strict=True)
    assert_same_variables(net, loaded)
    for ours, theirs in zip(outputs(net), outputs(loaded), strict=True):
        np.testing.assert_array_equal(ours, theirs)


def test_push_and_load_through_a_hub(net: Net, local_hub: LocalHub) -> None:
    repo_id = f"{local_hub.username}/keras-net"
    commit = net.push_to_hub(repo_id)
    assert commit.oid and len(commit.oid) == 40
    files = HfApi().list_repo_files(repo_id)
    assert sorted(f for f in files if f != ".gitattributes") == ["README.md", "config.json", "model.safetensors"]
    loaded = Net.from_pretrained(repo_id, strict=True)
    assert_same_variables(net, loaded)
    assert loaded._hub_mixin_config == {"units": 4, "depth": 2, "vocab": 10}


def test_save_pretrained_with_push_to_hub(net: Net, local_hub: LocalHub, tmp_path: Path) -> None:
    repo_id = f"{local_hub.username}/keras-net-saved"
    net.save_pretrained(tmp_path, push_to_hub=True, repo_id=repo_id)
    assert (tmp_path / "model.safetensors").is_file()
    assert_same_variables(net, Net.from_pretrained(repo_id, model_kwargs={"name": "from_hub"}))


def test_shards_and_a_dtype_through_a_hub(net: Net, local_hub: LocalHub) -> None:
    repo_id = f"{local_hub.username}/keras-sharded"
    net.push_to_hub(repo_id, max_shard_size=SMALL // 2, dtype="bfloat16")  # bfloat16: half the bytes
    files = HfApi().list_repo_files(repo_id)
    assert "model.safetensors.index.json" in files
    assert len([f for f in files if f.startswith("model-")]) >= 3
    loaded = Net.from_pretrained(repo_id, strict=True, dtype="bfloat16", max_workers=2)
    assert str(loaded.blocks[0].dense.kernel.dtype) == "bfloat16"
    assert all(np.isfinite(out).all() for out in outputs(loaded))
