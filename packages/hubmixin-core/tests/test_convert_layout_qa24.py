"""``hubmixin convert`` of a safetensors file whose ``hubmixin.layout`` this release does not read (QA round 24,
safe13 #2): refused with from_pretrained's ``LayoutError``, nothing written (it was rewritten, stamped as layout
1, and then loaded as such)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save_file

from hubmixin_core._convert import TARGETS, convert_checkpoint
from hubmixin_core.cli import main
from hubmixin_core.errors import LayoutError
from hubmixin_core.weights import LAYOUT_KEY, SAFETENSORS_SINGLE_FILE, open_checkpoint, read_header

_TARGET = next((to for to in TARGETS if importlib.util.find_spec(f"hubmixin_{to}") is not None), None)
pytestmark = pytest.mark.skipif(_TARGET is None, reason="--to needs a framework package installed")


def _source(directory: Path, layout: str | None) -> Path:
    """A ``model.safetensors`` in ``directory`` of layout ``layout`` (``None``: no layout key, another writer's)."""
    directory.mkdir()
    metadata = {"format": "pt"} if layout is None else {"format": "pt", LAYOUT_KEY: layout}
    tensors = {"fc.weight": np.arange(16, dtype=np.float32).reshape(4, 4), "fc.bias": np.zeros(4, np.float32)}
    save_file(tensors, directory / SAFETENSORS_SINGLE_FILE, metadata=metadata)
    return directory / SAFETENSORS_SINGLE_FILE


@pytest.mark.parametrize("layout", ["99", "2.0", "1.1", "garbage", "\x1b[2J"])
def test_convert_refuses_a_layout_the_load_refuses(tmp_path: Path, layout: str) -> None:
    source = _source(tmp_path / "src", layout)
    with pytest.raises(LayoutError) as loading:
        open_checkpoint(source.parent)
    with pytest.raises(LayoutError) as converting:
        convert_checkpoint(source, tmp_path / "dst", to=str(_TARGET))
    assert str(converting.value) == str(loading.value)  # the same words: the file, its layout, what to do
    assert sorted(p.name for p in tmp_path.iterdir()) == ["src"]  # no output, no staging left behind


def test_convert_keeps_an_existing_destination(tmp_path: Path) -> None:
    source = _source(tmp_path / "src", "99")
    (tmp_path / "dst").mkdir()
    (tmp_path / "dst" / "notes.txt").write_text("kept")
    with pytest.raises(LayoutError, match="upgrade hubmixin"):
        convert_checkpoint(source, tmp_path / "dst", to=str(_TARGET))
    assert [p.name for p in (tmp_path / "dst").iterdir()] == ["notes.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dst", "src"]


def test_cli_convert_says_upgrade_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = _source(tmp_path / "src", "99")
    assert main(["convert", str(source), str(tmp_path / "dst"), "--to", str(_TARGET), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "layout version 99" in err and "upgrade hubmixin" in err
    assert not (tmp_path / "dst").exists()


@pytest.mark.parametrize("layout", [None, "1", "1.0", "01"])
def test_convert_still_rewrites_a_layout_it_reads(tmp_path: Path, layout: str | None) -> None:
    source = _source(tmp_path / "src", layout)
    convert_checkpoint(source, tmp_path / "dst", to=str(_TARGET), progress=False)
    header = read_header(tmp_path / "dst" / SAFETENSORS_SINGLE_FILE)
    assert header.metadata[LAYOUT_KEY] == "1" and sorted(header.tensors) == ["fc.bias", "fc.weight"]
