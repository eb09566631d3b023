"""Shards whose ties only the index records, as huggingface_hub's ``save_torch_state_dict`` writes them, and weight
files that are Git LFS pointers (QA round 22)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from safetensors.numpy import save_file

from hubmixin_core.errors import WeightsFileError
from hubmixin_core.weights import open_checkpoint, tied_names

_SHARDS = {
    "model-00001-of-00002.safetensors": {"emb.weight": np.ones((4, 2), np.float32)},
    "model-00002-of-00002.safetensors": {"mid.weight": np.eye(2, dtype=np.float32)},
}


def _hf_shards(directory: Path, index_metadata: dict[str, Any] | None, header: dict[str, str] | None = None) -> Path:
    """Shards as huggingface_hub's sharded ``save_torch_state_dict`` writes them: each header ``{"format": "pt"}``,
    the index's ``metadata`` ``{"total_size": ..., **ties, **the caller's metadata}`` (``index_metadata``)."""
    directory.mkdir()
    for name, tensors in _SHARDS.items():
        save_file(tensors, str(directory / name), header or {"format": "pt"})
    index: dict[str, Any] = {"weight_map": {k: name for name, tensors in _SHARDS.items() for k in tensors}}
    if index_metadata is not None:
        index["metadata"] = index_metadata
    (directory / "model.safetensors.index.json").write_text(json.dumps(index))
    return directory


def test_the_ties_an_index_records_are_read_as_a_headers_are(tmp_path: Path) -> None:
    checkpoint = open_checkpoint(_hf_shards(tmp_path / "m", {"total_size": 40, "head.weight": "emb.weight"}))
    assert checkpoint.metadata == {"format": "pt", "head.weight": "emb.weight"}
    assert tied_names(checkpoint) == {"head.weight": "emb.weight"}
    aliased = checkpoint.aliased(tied_names(checkpoint))
    np.testing.assert_array_equal(aliased.read(["head.weight"])["head.weight"], np.ones((4, 2), np.float32))


@pytest.mark.parametrize(
    "index_metadata",
    [None, {}, {"total_size": 40, "total_parameters": 10, "author": "someone", "note": ["emb.weight"], "n": None}],
)
def test_an_index_without_ties_leaves_the_headers_metadata(tmp_path: Path, index_metadata: Any) -> None:
    checkpoint = open_checkpoint(_hf_shards(tmp_path / "m", index_metadata))
    assert checkpoint.metadata == {"format": "pt"}
    assert tied_names(checkpoint) == {}


def test_the_headers_and_the_index_agreeing_on_a_tie_is_one_record(tmp_path: Path) -> None:
    tie = {"head.weight": "emb.weight"}
    checkpoint = open_checkpoint(_hf_shards(tmp_path / "m", {"total_size": 40, **tie}, {"format": "pt", **tie}))
    assert checkpoint.metadata == {"format": "pt", **tie}


def test_an_index_record_of_a_stored_tensor_is_no_tie(tmp_path: Path) -> None:
    # An untied model re-saved with its tied original's index metadata: the shards hold both tensors.
    directory = _hf_shards(tmp_path / "m", {"total_size": 40, "mid.weight": "emb.weight"})
    checkpoint = open_checkpoint(directory)
    assert checkpoint.metadata == {"format": "pt"}
    assert tied_names(checkpoint) == {}


def test_the_headers_record_wins_over_the_index(tmp_path: Path) -> None:
    directory = _hf_shards(tmp_path / "m", {"head.weight": "emb.weight"}, {"format": "pt", "head.weight": "mid.weight"})
    assert open_checkpoint(directory).metadata == {"format": "pt", "head.weight": "mid.weight"}


_POINTER = "version https://git-lfs.github.com/spec/v1\noid sha256:{}\nsize 1234\n".format("4d" * 32)


@pytest.mark.parametrize("victim", ["model.safetensors", "model-00002-of-00002.safetensors"])
def test_a_git_lfs_pointer_is_named_with_the_command_to_fetch_the_weights(tmp_path: Path, victim: str) -> None:
    if victim == "model.safetensors":
        directory = tmp_path / "m"
        directory.mkdir()
    else:
        directory = _hf_shards(tmp_path / "m", {"total_size": 40})
    (directory / victim).write_text(_POINTER)
    with pytest.raises(WeightsFileError, match="Git LFS pointer") as caught:
        open_checkpoint(directory)
    assert victim in str(caught.value) and "git lfs pull" in str(caught.value) and "hf download" in str(caught.value)
