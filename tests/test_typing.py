"""Typing of the generated public methods: positive cases pass mypy --strict and pyright, negative cases fail
mypy exactly where their `# E: <code>` markers say."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

TYPING = Path(__file__).parent / "typing"
ROOT = Path(__file__).parent.parent
_MARK = re.compile(r"#\s*E:\s*([\w-]+)")
_ERROR = re.compile(r"^(?P<file>[^:]+):(?P<line>\d+): error: .*\[(?P<code>[\w-]+)\]$")


def _mypy(*targets: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "mypy", "--strict", "--config-file", str(ROOT / "pyproject.toml"), *targets]
    return subprocess.run(cmd, cwd=TYPING, capture_output=True, text=True, check=False)


def test_positive_cases_pass_mypy_strict() -> None:
    files = sorted(p.name for p in TYPING.glob("pass_*.py"))
    assert files
    result = _mypy(*files)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("case", sorted(p.name for p in TYPING.glob("fail_*.py")))
def test_negative_cases_fail_mypy_where_marked(case: str) -> None:
    expected = {
        (number, match.group(1))
        for number, line in enumerate((TYPING / case).read_text().splitlines(), start=1)
        if (match := _MARK.search(line))
    }
    assert expected, f"{case} has no `# E:` markers"
    result = _mypy(case)
    reported = {
        (int(m["line"]), m["code"])
        for line in result.stdout.splitlines()
        if (m := _ERROR.match(line)) and m["file"] == case
    }
    assert result.returncode == 1
    assert expected <= reported, f"not reported: {sorted(expected - reported)}\n{result.stdout}"
    unexpected_lines = {line for line, _ in reported} - {line for line, _ in expected}
    assert not unexpected_lines, f"errors on unmarked lines {sorted(unexpected_lines)}\n{result.stdout}"


def test_positive_cases_pass_pyright() -> None:
    pyright = shutil.which("pyright", path=str(Path(sys.executable).parent))
    if pyright is None:
        pytest.skip("pyright is not installed")
    result = subprocess.run(
        [pyright, *sorted(str(p) for p in TYPING.glob("pass_*.py"))],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 errors" in result.stdout


_SHARED_CODERS = """
from hubmixin_core import ModelHubMixin


class Frac:
    def __init__(self, n: int, d: int) -> None:
        self.n, self.d = n, d


def enc(f: Frac) -> list[int]:
    return [f.n, f.d]


def dec(v: list[int]) -> Frac:
    return Frac(v[0], v[1])


CODERS = {Frac: (enc, dec)}  # shared by several model classes: its inferred type is narrower than Coders


class Shared(ModelHubMixin, coders=CODERS):
    pass


class NotCoders(ModelHubMixin, coders={Frac: enc}):  # E: arg-type
    pass


class Misspelled(ModelHubMixin, coder=CODERS):  # E: call-arg
    pass
"""


def test_coders_given_as_a_shared_constant_pass_mypy_and_wrong_ones_fail(tmp_path: Path) -> None:
    case = tmp_path / "shared_coders.py"
    case.write_text(_SHARED_CODERS)
    cmd = [sys.executable, "-m", "mypy", "--strict", "--config-file", str(ROOT / "pyproject.toml"), case.name]
    result = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, check=False)
    lines = _SHARED_CODERS.splitlines()
    marked = {n for n, line in enumerate(lines, start=1) if _MARK.search(line)}
    reported = {int(m["line"]) for line in result.stdout.splitlines() if (m := _ERROR.match(line))}
    assert reported == marked, result.stdout


_OPTIONS_OF_ANY_TYPE = """
import argparse
from typing import Any, TypedDict

from torch import nn

from hubmixin_core import ModelHubMixin
from hubmixin_torch import PyTorchModelHubMixin


class Net(nn.Module, PyTorchModelHubMixin):
    def __init__(self, dim: int = 4) -> None:
        super().__init__()


class Plain(ModelHubMixin):
    pass


class LoadOptions(TypedDict, total=False):
    revision: str
    strict: bool


def load(options: LoadOptions, args: argparse.Namespace, config: dict[str, Any]) -> None:
    Net.from_pretrained("user/net", **options)
    Net.from_pretrained("user/net", revision=args.revision, strict=config["strict"], model_kwargs=config)
    Net.from_pretrained("user/net", revison=args.revision)  # E: call-arg
    Net.from_pretrained("user/net", map_locaton=config["device"])  # E: call-arg
    Plain.from_pretrained("user/net", dim=args.dim)  # E: call-arg
"""


def _marked(text: str) -> set[int]:
    return {n for n, line in enumerate(text.splitlines(), start=1) if _MARK.search(line)}


def test_misspelled_load_options_of_any_type_fail_and_a_typeddict_of_options_passes(tmp_path: Path) -> None:
    case = tmp_path / "any_options.py"
    case.write_text(_OPTIONS_OF_ANY_TYPE)
    result = _mypy(str(case))
    reported = {(int(m["line"]), m["code"]) for line in result.stdout.splitlines() if (m := _ERROR.match(line))}
    assert reported == {(n, "call-arg") for n in _marked(_OPTIONS_OF_ANY_TYPE)}, result.stdout
    pyright = shutil.which("pyright", path=str(Path(sys.executable).parent))
    if pyright is None:
        pytest.skip("pyright is not installed")
    found = subprocess.run(
        [pyright, "--pythonpath", sys.executable, str(case)], cwd=ROOT, capture_output=True, text=True, check=False
    )
    lines = {int(n) for n in re.findall(r"any_options\.py:(\d+):\d+ - error", found.stdout)}
    assert lines == _marked(_OPTIONS_OF_ANY_TYPE), found.stdout


_KERAS_OVERRIDE = """
from collections.abc import Mapping
from typing import Any, Self

import keras
from numpy.typing import DTypeLike

from hubmixin_core import DownloadOptions
from hubmixin_keras import KerasModelHubMixin


class Net(keras.Model, KerasModelHubMixin):  # type: ignore[misc]
    @classmethod
    def _from_pretrained(
        cls,
        *,
        model_id: str,
        download: DownloadOptions,
        model_kwargs: dict[str, Any],
        strict: bool = False,
        key_mapping: Mapping[str, str] | None = None,
        dtype: DTypeLike | None = None,
    ) -> Self:
        return super()._from_pretrained(
            model_id=model_id, download=download, model_kwargs=model_kwargs, strict=strict, key_mapping=key_mapping,
            dtype=dtype,
        )

"""


def test_a_keras_override_forwarding_the_public_methods_dtype_passes_mypy(tmp_path: Path) -> None:
    case = tmp_path / "keras_override.py"
    case.write_text(_KERAS_OVERRIDE)
    result = _mypy(str(case))
    assert result.returncode == 0, result.stdout + result.stderr
