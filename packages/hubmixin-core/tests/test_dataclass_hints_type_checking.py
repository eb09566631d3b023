"""A dataclass config whose annotations include one name imported under ``TYPE_CHECKING`` (with
``from __future__ import annotations``): its other fields, and its bases', keep their types at load."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import pytest

_MODULE = """
from __future__ import annotations

import dataclasses
import enum
from typing import TYPE_CHECKING

import numpy as np
from core_models import NumpyModelMixin

if TYPE_CHECKING:
    from numpy.typing import DTypeLike


class Act(enum.Enum):
    GELU = "gelu"
    RELU = "relu"


@dataclasses.dataclass
class Inner:
    act: Act = Act.GELU
    size: tuple[int, int] = (1, 1)


@dataclasses.dataclass
class Base:
    inner: Inner = dataclasses.field(default_factory=Inner)


@dataclasses.dataclass
class Config(Base):
    dtype: DTypeLike | None = None  # only a type checker resolves it
    blocks: list[Inner] = dataclasses.field(default_factory=list)
    act: Act | None = None


class Model(NumpyModelMixin):
    def __init__(self, config: Config) -> None:
        self.config = config
        self.weights = {"w": np.zeros(2, dtype=np.float32)}
"""


@pytest.fixture
def module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    (tmp_path / "hinted_config_model.py").write_text(_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    return importlib.import_module("hinted_config_model")


def test_fields_beside_a_type_checking_only_annotation_keep_their_types(module: Any, tmp_path: Path) -> None:
    config = module.Config(
        inner=module.Inner(module.Act.RELU, (2, 3)),
        dtype="float16",
        blocks=[module.Inner(module.Act.RELU, (4, 5))],
        act=module.Act.GELU,
    )
    module.Model(config).save_pretrained(tmp_path / "saved")
    loaded = module.Model.from_pretrained(tmp_path / "saved").config
    assert loaded == config  # a nested dataclass (a base's field too), a list of them, enums, tuples
    assert isinstance(loaded.inner, module.Inner)


def test_hints_of_a_class_leave_out_only_the_unresolvable_name(module: Any) -> None:
    from hubmixin_core._config import _type_hints

    hints = _type_hints(module.Config)
    assert set(hints) == {"inner", "blocks", "act"}  # the base's field too; dtype as if unannotated
    assert hints["inner"] is module.Inner
    assert hints["blocks"] == list[module.Inner]
