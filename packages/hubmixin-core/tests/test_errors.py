"""Every exception hubmixin raises is a HubMixinError and the builtin a caller would expect."""

from __future__ import annotations

import errno
import pickle
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from core_models import MLP
from huggingface_hub.errors import EntryNotFoundError

from hubmixin_core.errors import HubMixinError, HubMixinOSError, WeightsNotFoundError
from hubmixin_core.testing import Fault, LocalHub
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
    """Library code, the local Hub's API included, raises hubmixin_core.errors classes."""
    offenders = [
        f"{path.relative_to(PACKAGES)}:{number}"
        for path in PACKAGES.glob("*/src/**/*.py")
        if path.name != "cli.py"
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


@pytest.mark.parametrize(
    ("number", "builtin"),
    [
        (errno.EACCES, PermissionError),
        (errno.EPERM, PermissionError),
        (errno.ENOENT, FileNotFoundError),
        (errno.EEXIST, FileExistsError),
        (errno.EISDIR, IsADirectoryError),
        (errno.ENOTDIR, NotADirectoryError),
    ],
)
def test_a_file_system_error_is_the_builtin_of_its_errno(number: int, builtin: type[OSError]) -> None:
    """As OSError(errno, ...) is: a save into a directory the user may not write is a PermissionError."""
    error = HubMixinOSError(number, "cannot save into m: denied")
    assert isinstance(error, builtin) and isinstance(error, HubMixinOSError) and error.errno == number
    restored = pickle.loads(pickle.dumps(error))  # noqa: S301 - our own object
    assert type(restored) is type(error) and restored.errno == number
    assert type(HubMixinOSError(errno.ENOSPC, "full")) is HubMixinOSError  # plain OSError in Python too
    named = pickle.loads(pickle.dumps(HubMixinOSError(number, "denied", "/models/m")))  # noqa: S301
    assert (named.filename, named.args, str(named)) == (
        "/models/m",
        (number, "denied"),
        f"[Errno {number}] denied: '/models/m'",
    )


@pytest.mark.parametrize(
    "misuse",
    [
        lambda: LocalHub(port=70000),
        lambda: LocalHub(host="0.0.0.0"),
        lambda: LocalHub(token="x"),
        lambda: Fault(route="nope", status=500),
        lambda: LocalHub().endpoint,
    ],
    ids=["port", "host", "token", "route", "not-started"],
)
def test_local_hub_misuse_raises_hubmixin_errors(misuse: Callable[[], object]) -> None:
    with pytest.raises(HubMixinError) as raised:
        misuse()
    assert isinstance(raised.value, ValueError | RuntimeError)
