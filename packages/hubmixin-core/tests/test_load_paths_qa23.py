"""A path the file system cannot look up (a name over its length limit) is refused with a typed error naming it,
not the bare ``OSError`` of ``Path.is_dir`` (QA round 23, crashsafe #4)."""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

import pytest
from core_models import NumpyModelMixin

from hubmixin_core.cli import main
from hubmixin_core.errors import WeightsNotFoundError


class Tiny(NumpyModelMixin):
    def __init__(self) -> None:
        self.weights = {}


@pytest.mark.parametrize("tail", ["", "/ckpt"])
def test_a_name_over_the_length_limit_is_named(tmp_path: Path, tail: str) -> None:
    location = str(tmp_path / ("run-" + "x" * 300)) + tail
    with pytest.raises(WeightsNotFoundError, match="longer than the file system allows") as raised:
        Tiny.from_pretrained(location)
    assert location in str(raised.value)
    assert isinstance(raised.value, FileNotFoundError)


@pytest.mark.parametrize("command", ["inspect", "convert"])
def test_the_cli_names_a_name_over_the_length_limit(
    tmp_path: Path, command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # (reg23d #5 of round 23: a bare OSError)
    location = str(tmp_path / ("run-" + "x" * 300))
    targets = sorted(entry_point.name for entry_point in metadata.entry_points(group="hubmixin.converters"))
    if command == "convert" and not targets:
        pytest.skip("convert checks its source after its target: no framework package is installed")
    args = ["inspect", location] if command == "inspect" else ["convert", location, str(tmp_path / "out"), "--to"]
    args += targets[:1] if command == "convert" else []
    assert main(args) == 1
    err = capsys.readouterr().err
    assert "longer than the file system allows" in err and "OSError" not in err
