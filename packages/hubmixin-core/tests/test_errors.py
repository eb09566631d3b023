"""Every exception hubmixin raises is a HubMixinError and the builtin a caller would expect."""

from __future__ import annotations

import pickle
import re
from pathlib import Path

import pytest
from core_models import MLP
from huggingface_hub.errors import EntryNotFoundError

from hubmixin_core.errors import HubMixinError, WeightsNotFoundError
from hubmixin_core.weights import numpy_dtype, parse_size

PACKAGES = Path(__file__).parents[2]
_BUILTIN_RAISE = re.compile(
    r"raise (ValueError|TypeError|KeyError|IndexError|OSError|RuntimeError|FileNotFoundError)\("
)


def test_misuse_raises_hubmixin_errors_that_are_also_builtins(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="5XB") as size:
        parse_size("5XB")
    with pytest.raises(KeyError, match="X9") as dtype:
        numpy_dtype("X9")
    with pytest.raises(TypeError, match="colour") as keyword:
        MLP().save_pretrained(tmp_path, colour="red")  # type: ignore[call-overload]
    for error in (size.value, dtype.value, keyword.value):
        assert isinstance(error, HubMixinError)


def test_no_package_raises_a_bare_builtin() -> None:
    """Library code raises hubmixin_core.errors classes; the local Hub's server answers HTTP errors instead."""
    offenders = [
        f"{path.relative_to(PACKAGES)}:{number}"
        for path in PACKAGES.glob("*/src/**/*.py")
        if "testing" not in path.parts and path.name != "cli.py"
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if _BUILTIN_RAISE.search(line)
    ]
    assert offenders == []


def test_a_missing_checkpoint_error_crosses_a_process_pool(tmp_path: Path) -> None:
    """An error raised in a worker reaches the parent whole (WeightsNotFoundError is laid out as an OSError)."""
    with pytest.raises(WeightsNotFoundError) as raised:
        MLP.from_pretrained(tmp_path)  # a directory without weights
    restored = pickle.loads(pickle.dumps(raised.value))  # noqa: S301 - our own object
    assert type(restored) is WeightsNotFoundError and restored.args == raised.value.args
    assert isinstance(restored, FileNotFoundError) and isinstance(restored, EntryNotFoundError)
