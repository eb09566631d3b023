"""A weights file name that a model directory holds as a directory or a dangling link is named as such, not as
"found neither" beside a listing that shows it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from core_models import MLP

from hubmixin_core.errors import WeightsNotFoundError


@pytest.mark.parametrize("name", ["model.safetensors", "model.safetensors.index.json"])
@pytest.mark.parametrize("kind", ["directory", "dangling-link"])
def test_a_weights_name_that_is_no_file_is_named(tmp_path: Path, name: str, kind: str) -> None:
    MLP().save_pretrained(tmp_path)
    (tmp_path / "model.safetensors").unlink()
    entry = tmp_path / name
    if kind == "directory":
        entry.mkdir()
    else:
        entry.symlink_to(tmp_path / "gone.safetensors")
    with pytest.raises(WeightsNotFoundError) as raised:
        MLP.from_pretrained(tmp_path)
    what = "a directory" if kind == "directory" else "a link to a missing file"
    assert str(raised.value) == f"{entry}: not a file ({what}): cannot read the weights"


@pytest.mark.parametrize("kind", ["loop", "fifo", "link-to-fifo"])
def test_a_weights_name_that_is_a_loop_or_a_fifo_is_named_as_such(tmp_path: Path, kind: str) -> None:
    # (QA round 23, crashsafe #3: each was called "a link to a missing file"; nothing is opened)
    MLP().save_pretrained(tmp_path)
    entry = tmp_path / "model.safetensors"
    entry.unlink()
    if kind == "loop":
        entry.symlink_to(entry)
    elif kind == "fifo":
        os.mkfifo(entry)
    else:
        os.mkfifo(tmp_path / "pipe")
        entry.symlink_to(tmp_path / "pipe")
    with pytest.raises(WeightsNotFoundError) as raised:
        MLP.from_pretrained(tmp_path)
    what = {
        "loop": "a loop of symbolic links",
        "fifo": "a device, FIFO or socket",
        "link-to-fifo": "a link to a device, FIFO or socket",
    }[kind]
    assert str(raised.value) == f"{entry}: not a file ({what}): cannot read the weights"
