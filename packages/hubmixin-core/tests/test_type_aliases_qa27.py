"""``type`` aliases in annotations (Python 3.12's ``type Pair = tuple[int, int]``, typing_extensions'
``TypeAliasType`` on any Python) decode as what they name: enums, tuples and dataclasses come back as given, no
warning (QA round 27, py313: they came back as raw JSON values, and their defaults were left out of config.json)."""

from __future__ import annotations

import dataclasses
import enum
import json
import sys
import typing
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from core_models import NumpyModelMixin
from typing_extensions import TypeAliasType  # (huggingface_hub requires it)


class Mode(enum.Enum):
    A = "a"
    B = "b"


Pair = TypeAliasType("Pair", tuple[int, int])
ModeAlias = TypeAliasType("ModeAlias", Mode)
T = typing.TypeVar("T")
Grid = TypeAliasType("Grid", list[tuple[T, T]], type_params=(T,))


@dataclasses.dataclass
class Settings:
    dims: Pair = (2, 3)
    mode: ModeAlias | None = Mode.A


class Net(NumpyModelMixin):
    def __init__(
        self,
        dims: Pair = (2, 3),
        mode: ModeAlias = Mode.A,
        grid: Grid[int] | None = None,
        settings: Settings | None = None,
    ) -> None:
        self.dims, self.mode, self.grid, self.settings = dims, mode, grid, settings
        self.weights = {"w": np.zeros(2, np.float32)}


@pytest.mark.parametrize(
    "given",
    [{}, {"dims": (4, 5), "mode": Mode.B, "grid": [(1, 2)], "settings": Settings((6, 7), None)}],
    ids=["defaults", "given"],
)
def test_aliased_annotations_decode_as_what_they_name(tmp_path: Path, given: dict[str, Any]) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing is said to come back as another type
        Net(**given).save_pretrained(tmp_path)
        loaded = Net.from_pretrained(tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["dims"] == list(given.get("dims", (2, 3))) and config["mode"] == given.get("mode", Mode.A).value
    assert loaded.dims == given.get("dims", (2, 3)) and type(loaded.dims) is tuple
    assert loaded.mode is given.get("mode", Mode.A)
    assert loaded.grid == given.get("grid") and all(type(pair) is tuple for pair in loaded.grid or [])
    assert loaded.settings == given.get("settings")


@pytest.mark.skipif(sys.version_info < (3, 12), reason="the type statement is Python 3.12's")
def test_the_type_statement_decodes_as_what_it_names(tmp_path: Path) -> None:
    namespace: dict[str, Any] = {"Mode": Mode, "NumpyModelMixin": NumpyModelMixin, "np": np}
    exec(  # noqa: S102 (this module must parse on Python 3.11)
        "type Pair = tuple[int, int]\n"
        "type Alias = Mode\n"
        "class Net(NumpyModelMixin):\n"
        "    def __init__(self, dims: Pair = (2, 3), mode: Alias = Mode.A) -> None:\n"
        "        self.dims, self.mode = dims, mode\n"
        "        self.weights = {'w': np.zeros(2, np.float32)}\n",
        namespace,
    )
    net = namespace["Net"]
    net(dims=(4, 5), mode=Mode.B).save_pretrained(tmp_path / "given")
    net().save_pretrained(tmp_path / "defaults")
    assert json.loads((tmp_path / "defaults" / "config.json").read_text()) == {"dims": [2, 3], "mode": "a"}
    loaded = net.from_pretrained(tmp_path / "given")
    assert (loaded.dims, loaded.mode) == ((4, 5), Mode.B) and type(loaded.dims) is tuple


@pytest.mark.skipif(sys.version_info < (3, 12), reason="the type statement is Python 3.12's")
def test_an_alias_naming_what_only_a_type_checker_imports_is_left_as_it_is(tmp_path: Path) -> None:
    """A ``type`` statement's value is evaluated at first use: one naming a type imported under ``TYPE_CHECKING``
    cannot be seen through, and leaves the other annotations in force."""
    namespace: dict[str, Any] = {"NumpyModelMixin": NumpyModelMixin, "np": np}
    exec(  # noqa: S102 (this module must parse on Python 3.11)
        "type MaybeTokenizer = Tokenizer | None\n"  # (Tokenizer: imported under TYPE_CHECKING, say)
        "type Pair = tuple[int, int]\n"
        "class Net(NumpyModelMixin):\n"
        "    def __init__(self, tokenizer: MaybeTokenizer = None, dims: Pair = (2, 3)) -> None:\n"
        "        self.dims = dims\n"
        "        self.weights = {'w': np.zeros(2, np.float32)}\n",
        namespace,
    )
    net = namespace["Net"]
    net(dims=(4, 5)).save_pretrained(tmp_path)
    loaded = net.from_pretrained(tmp_path)
    assert loaded.dims == (4, 5) and type(loaded.dims) is tuple
