"""Typing of huggingface_hub's hooks and documented forms (QA round 22): code written against huggingface_hub's
declarations, and the forms the docs give, pass mypy --strict (one mypy run over every case)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent

CASES = {
    # huggingface_hub's _decode_arg declaration, overridden and called through super(); a helper's call is typed
    "decode_arg": """
from dataclasses import dataclass
from typing import Any, TypeVar

from hubmixin_core import ModelHubMixin

ARGS_T = TypeVar("ARGS_T")


@dataclass
class Cfg:
    dim: int = 3


class ClsCodec(ModelHubMixin):
    @classmethod
    def _decode_arg(cls, expected_type: type[ARGS_T], value: Any) -> ARGS_T | None:
        if expected_type is type:
            return None
        return super()._decode_arg(expected_type, value)

    @classmethod
    def _encode_arg(cls, arg: Any) -> Any:
        return super()._encode_arg(arg)

    @classmethod
    def _is_jsonable(cls, value: Any) -> bool:
        return super()._is_jsonable(value)


def read_cfg(value: Any) -> Cfg | None:
    return ClsCodec._decode_arg(Cfg, value)
""",
    # huggingface_hub's loading hooks, their T bound to ModelHubMixin as huggingface_hub declares it
    "load_hooks": """
from typing import TypeVar

from torch import nn

from hubmixin_core import ModelHubMixin
from hubmixin_torch import PyTorchModelHubMixin

T = TypeVar("T", bound=ModelHubMixin)


class Net(nn.Module, PyTorchModelHubMixin):
    def __init__(self, dim: int = 4) -> None:
        super().__init__()
        self.fc = nn.Linear(dim, dim)

    @classmethod
    def _load_as_safetensor(cls, model: T, model_file: str, map_location: str, strict: bool) -> T:
        return super()._load_as_safetensor(model, model_file, map_location, strict)

    @classmethod
    def _load_as_pickle(cls, model: T, model_file: str, map_location: str, strict: bool) -> T:
        return super()._load_as_pickle(model, model_file, map_location, strict)
""",
    # map_location=None is the CPU (docs/torch.md): a wrapper passing an optional device
    "map_location_none": """
from torch import nn

from hubmixin_torch import PyTorchModelHubMixin


class Net(nn.Module, PyTorchModelHubMixin):
    def __init__(self, dim: int = 4) -> None:
        super().__init__()
        self.fc = nn.Linear(dim, dim)


def load(path: str, device: str | None = None) -> Net:
    if device is None:
        return Net.from_pretrained(path, map_location=None)
    return Net.from_pretrained(path, map_location=device)
""",
    # docs/integrating.md: a constant holding coders for several types, annotated Coders
    "coders_constant": """
from fractions import Fraction
from pathlib import Path

from hubmixin_core import ModelHubMixin
from hubmixin_core.typing import Coders


def enc(value: Fraction) -> str:
    return str(value)


def dec(text: str) -> Fraction:
    return Fraction(text)


CODERS: Coders = {Fraction: (enc, dec), Path: (str, Path)}


class A(ModelHubMixin, coders=CODERS):
    pass


class B(ModelHubMixin, coders=CODERS):
    pass
""",
    # docs/differences.md: a framework mixin's download/model_kwargs override takes **kwargs: Any too
    "framework_download_override": """
from typing import Any, Self

from torch import nn

from hubmixin_core import DownloadOptions
from hubmixin_torch import PyTorchModelHubMixin


class Net(nn.Module, PyTorchModelHubMixin):
    def __init__(self, dim: int = 4, strict: bool = False, map_location: str = "x") -> None:
        super().__init__()
        self.fc = nn.Linear(dim, dim)

    @classmethod
    def _from_pretrained(
        cls, *, model_id: str, download: DownloadOptions, model_kwargs: dict[str, Any], **kwargs: Any
    ) -> Self:
        return super()._from_pretrained(model_id=model_id, download=download, model_kwargs=model_kwargs, **kwargs)
""",
}

_ERROR = re.compile(r"^(?P<file>[\w.]+):\d+: error: ")


@pytest.fixture(scope="module")
def mypy_errors(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[str]]:
    """mypy --strict's error lines, by case."""
    folder = tmp_path_factory.mktemp("typing_qa22")
    for name, code in CASES.items():
        (folder / f"case_{name}.py").write_text(code)
    cmd = [sys.executable, "-m", "mypy", "--strict", "--config-file", str(ROOT / "pyproject.toml")]
    cmd += ["--cache-dir", str(folder / ".mypy_cache"), *sorted(f"case_{name}.py" for name in CASES)]
    result = subprocess.run(cmd, cwd=folder, capture_output=True, text=True, check=False)
    assert "error: " in result.stdout or result.returncode == 0, result.stdout + result.stderr
    errors: dict[str, list[str]] = {name: [] for name in CASES}
    for line in result.stdout.splitlines():
        if (m := _ERROR.match(line)) and m["file"].removeprefix("case_").removesuffix(".py") in errors:
            errors[m["file"].removeprefix("case_").removesuffix(".py")].append(line)
    return errors


@pytest.mark.parametrize("case", sorted(CASES))
def test_code_written_against_huggingface_hub_and_documented_forms_pass_mypy_strict(
    mypy_errors: dict[str, list[str]], case: str
) -> None:
    assert mypy_errors[case] == []
