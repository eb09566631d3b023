"""`hubmixin inspect` of a ``torch.save`` file says it is one and how to convert it."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from hubmixin_core.cli import main


@pytest.mark.parametrize("zipped", [True, False], ids=["zip", "legacy"])
def test_inspect_of_a_torch_file_points_at_convert(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], zipped: bool
) -> None:
    path = tmp_path / "pytorch_model.bin"
    torch.save({"fc.weight": torch.zeros(2, 2)}, path, _use_new_zipfile_serialization=zipped)
    assert main(["inspect", str(path)]) == 1
    err = capsys.readouterr().err
    what = "a zip archive (torch.save's format)" if zipped else "a Python pickle (torch.save's legacy format)"
    assert err == (
        f"hubmixin: error: {path}: not a safetensors file but {what}: convert it with "
        f"`hubmixin convert {path} DST --to torch|flax|keras`, then inspect DST\n"
    )
    assert main(["convert", str(path), str(tmp_path / "out"), "--to", "torch", "--quiet"]) == 0
    assert main(["inspect", str(tmp_path / "out")]) == 0
    assert "fc.weight" in capsys.readouterr().out
