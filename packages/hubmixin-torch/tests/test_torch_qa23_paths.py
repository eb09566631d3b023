"""A model saved into a folder whose name is not UTF-8 (latin-1, as old archives and shares give) loads back:
safetensors' reader takes UTF-8 paths only (QA round 23, crashsafe #2: a raw SafetensorError)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
from torch_models import Net, assert_same_tensors, trained_net


@pytest.mark.parametrize("max_shard_size", [None, "20KB"])
def test_a_folder_named_in_latin1_loads_what_was_saved(tmp_path: Path, max_shard_size: str | None) -> None:
    directory = tmp_path / os.fsdecode(b"j\xfcrgen")
    net = trained_net(Net)
    net.save_pretrained(directory, max_shard_size=max_shard_size)
    loaded = Net.from_pretrained(directory)
    assert_same_tensors(loaded, net)


def test_a_legacy_bin_in_a_folder_named_in_latin1_loads(tmp_path: Path) -> None:
    # (reg23d #4 of round 23: torch.load encodes its path as UTF-8)
    directory = tmp_path / os.fsdecode(b"j\xfcrgen")
    net = trained_net(Net)
    net.save_pretrained(directory)
    (directory / "model.safetensors").unlink()
    torch.save(net.state_dict(), directory / "pytorch_model.bin")
    assert_same_tensors(Net.from_pretrained(directory), net)
