"""A weights file name that a model directory holds as a directory or a dangling link is named as such, not as
"found neither" beside a listing that shows it."""

from __future__ import annotations

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
