"""Shard names in model.safetensors.index.json that no file system or repository holds (QA round 24, safe13 #1,
#4): a name over the file system's length limit, or inside a ``.git`` folder, is refused as a ``ShardIndexError``
naming the index and the shard, from a local folder and from a Hub repository alike, before any shard is looked up
or downloaded (it was a bare ``OSError``, or huggingface_hub's "check your connection")."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from core_models import MLP
from huggingface_hub import create_repo, upload_folder

from hubmixin_core.errors import ShardIndexError
from hubmixin_core.testing import Fault, LocalHub
from hubmixin_core.weights import SAFETENSORS_INDEX_NAME

_LONG = "a" * 300 + ".safetensors"  # one name over the 255 bytes most file systems allow
_BAD_NAMES = {
    "long name": _LONG,
    "long name in a folder not there": f"sub/{_LONG}",
    "long path of short names": "/".join(["b" * 200] * 25) + ".safetensors",  # past the 4096 of a whole path
    ".git folder": ".git/config",
    ".GIT folder, deeper": "sub/.GIT/model.safetensors",
}
_PARAMS = pytest.mark.parametrize("name", list(_BAD_NAMES.values()), ids=list(_BAD_NAMES))


def _sharded_save(directory: Path, name: str | None = None) -> str:
    """Save a sharded MLP into ``directory``, its index mapping its first tensor to ``name`` (if given); that
    tensor."""
    model = MLP()
    model.max_shard_size = 100
    model.save_pretrained(directory)
    index = directory / SAFETENSORS_INDEX_NAME
    data = json.loads(index.read_text())
    weight_map: dict[str, str] = data["weight_map"]
    first = sorted(weight_map)[0]
    if name is not None:
        weight_map[first] = name
        index.write_text(json.dumps(data))
    return first


def _assert_names_index_and_shard(error: ShardIndexError, tensor: str, name: str) -> None:
    """The error names the index, the tensor and the shard (and no other error is chained as its cause)."""
    message = str(error)
    assert SAFETENSORS_INDEX_NAME in message and repr(tensor) in message and repr(name) in message
    assert error.__cause__ is None


@_PARAMS
def test_local_folder_refuses_the_shard_name(tmp_path: Path, name: str) -> None:
    tensor = _sharded_save(tmp_path / "m", name)
    with pytest.raises(ShardIndexError) as raised:
        MLP.from_pretrained(tmp_path / "m")
    _assert_names_index_and_shard(raised.value, tensor, name)
    assert str(tmp_path / "m" / SAFETENSORS_INDEX_NAME) in str(raised.value)


@_PARAMS
@pytest.mark.local_hub(xet=False)
def test_hub_repository_refuses_the_shard_name_before_downloading_any_shard(
    local_hub: LocalHub, tmp_path: Path, name: str
) -> None:
    _sharded_save(tmp_path / "good")
    tensor = _sharded_save(tmp_path / "m", name)
    repo_id = f"{local_hub.username}/m"
    create_repo(repo_id)
    upload_folder(repo_id=repo_id, folder_path=tmp_path / "m")
    shards = local_hub.inject_fault(
        Fault(route="resolve", path=r"model-\d{5}-of-|aaaa|bbbb|\.git", delay=1e-3, times=None)
    )
    with pytest.raises(ShardIndexError) as raised:
        MLP.from_pretrained(repo_id, cache_dir=tmp_path / "cache")
    _assert_names_index_and_shard(raised.value, tensor, name)
    assert shards.hits == 0  # refused from the index alone: no shard asked for
    upload_folder(repo_id=repo_id, folder_path=tmp_path / "good")  # the index fixed: its shards are asked for
    MLP.from_pretrained(repo_id, cache_dir=tmp_path / "cache")
    assert shards.hits > 0


def test_a_long_name_the_file_system_allows_is_only_missing(tmp_path: Path) -> None:
    name = "a" * 200 + ".safetensors"  # long, under the limit: a name like any other
    tensor = _sharded_save(tmp_path / "m", name)
    with pytest.raises(ShardIndexError, match="is missing") as raised:
        MLP.from_pretrained(tmp_path / "m")
    assert repr(name) in str(raised.value) and repr(tensor) not in str(raised.value)
