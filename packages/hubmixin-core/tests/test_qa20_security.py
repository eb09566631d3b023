"""Untrusted input, round 20: ``hubmixin inspect`` escapes a header's control characters; a ``config.json`` nested
deeper than hubmixin walks is a ``ConfigError`` naming it, not a ``RecursionError``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from core_models import MLP
from safetensors.numpy import save_file

from hubmixin_core._convert import ConvertError, _read_config
from hubmixin_core.cli import main
from hubmixin_core.errors import ConfigError

ESCAPES = "\x1b]0;TITLE\x07\x1b[2J\x1b[31m"


def test_inspect_escapes_control_characters_of_a_header(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    name = f"fc.weight{ESCAPES}\nfake.tensor  F32 [1]"
    save_file(
        {name: np.zeros(4, np.float32), "plain": np.zeros(2, np.float32)},
        tmp_path / "model.safetensors",
        {"format": f"pt{ESCAPES}"},
    )
    assert main(["inspect", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x07" not in out
    assert f"  {name!r}  F32   [4]" in out  # one line, quoted and escaped
    assert "\nfake.tensor" not in out
    assert f"format: {f'pt{ESCAPES}'!r}  layout: -" in out
    assert "  plain" in out and "'plain'" not in out  # printable names as they are
    assert main(["inspect", str(tmp_path), "--json"]) == 0
    assert name in json.loads(capsys.readouterr().out)["files"][0]["tensors"]  # --json: the text as it is


def _nested(depth: int, *, lists: bool) -> str:
    return "[" * depth + "]" * depth if lists else '{"a":' * depth + "1" + "}" * depth


class Extra(MLP):
    def __init__(self, hidden: int = 8, extra: dict[str, Any] | list[Any] | None = None, **kwargs: Any) -> None:
        super().__init__(hidden=hidden)
        self.extra = extra


@pytest.mark.parametrize("lists", [False, True], ids=["objects", "arrays"])
def test_a_config_nested_too_deeply_is_a_config_error(tmp_path: Path, lists: bool) -> None:
    Extra().save_pretrained(tmp_path)
    config = tmp_path / "config.json"
    config.write_text(f'{{"hidden": 8, "extra": {_nested(500, lists=lists)}}}')  # (json reads it)
    with pytest.raises(ConfigError, match=r"config\.json: .*nested too deeply \(more than 100 levels\)"):
        Extra.from_pretrained(tmp_path)
    config.write_text(f'{{"hidden": 8, "extra": {_nested(99, lists=lists)}}}')
    loaded = Extra.from_pretrained(tmp_path)  # 100 levels, as deep as allowed: loads, and saves again
    loaded.save_pretrained(tmp_path / "again")
    assert json.loads((tmp_path / "again" / "config.json").read_text())["extra"] == loaded.extra


def test_convert_of_a_config_nested_too_deeply_is_one_error(tmp_path: Path) -> None:
    config = tmp_path / "deep.json"
    config.write_text(f'{{"extra": {_nested(500, lists=False)}}}')
    with pytest.raises(ConvertError, match=r"deep\.json: .*nested too deeply"):
        _read_config(tmp_path, config)


def test_spaces_of_other_scripts_print_as_they_are_and_bidi_overrides_are_escaped() -> None:
    from hubmixin_core._inspect import _shown

    assert _shown("模型\u3000v1\xa0final") == "模型\u3000v1\xa0final"  # (a path a user typed)
    assert _shown("evil\u202etxt.safetensors") == repr("evil\u202etxt.safetensors")
