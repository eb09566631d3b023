"""Enums in config.json (QA round 23, core8): a ``Literal`` of enum members takes its members, saved as their
values (#1); an enum whose members' values JSON holds in another form (a tuple, a path, a frozen dataclass) is
decoded back to its member (#6); a dataclass subclass's instance given for its base's annotation is named at build,
with the fields that would be dropped (#5)."""

from __future__ import annotations

import enum
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pytest

from hubmixin_core import ConfigEncodingWarning, ConfigError, ModelHubMixin


class Saved(ModelHubMixin):
    """Writes a marker file and rebuilds from config.json: what these tests check is the configuration."""

    def _save_pretrained(self, save_directory: Path) -> None:
        (Path(save_directory) / "w.txt").write_text("x")

    @classmethod
    def _from_pretrained(cls, *, model_id: str, download: Any, model_kwargs: dict[str, Any]) -> Saved:
        return cls(**model_kwargs)


class Act(enum.Enum):
    RELU = "relu"
    GELU = "gelu"


class Res(enum.Enum):
    SD = (640, 480)
    HD = (1280, 720)


@dataclass(frozen=True)
class Spec:
    d: int


class Size(enum.Enum):
    SMALL = Spec(2)
    LARGE = Spec(8)


class Where(enum.Enum):
    HERE = Path("a/b")
    THERE = Path("c")


@dataclass
class ActCfg:
    act: Literal[Act.RELU, Act.GELU] = Act.RELU


class Model(Saved):
    def __init__(
        self,
        act: Literal[Act.RELU, Act.GELU] = Act.RELU,
        acts: list[Literal[Act.RELU, Act.GELU, "none"]] | None = None,
        cfg: ActCfg | None = None,
        res: Res = Res.SD,
        many: list[Res] | None = None,
        size: Size | None = None,
        where: Where = Where.THERE,
    ) -> None:
        self.values = (act, acts, cfg, res, many, size, where)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"act": Act.GELU, "acts": [Act.GELU, "none"], "cfg": ActCfg(Act.GELU)},  # #1
        {"res": Res.HD, "many": [Res.HD, Res.SD], "size": Size.LARGE, "where": Where.HERE},  # #6
    ],
    ids=["literal_of_members", "non_scalar_values"],
)
def test_enum_members_round_trip(kwargs: dict[str, Any], tmp_path: Path) -> None:
    model = Model(**kwargs)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConfigEncodingWarning)
        model.save_pretrained(tmp_path)
    assert Model.from_pretrained(tmp_path).values == model.values


def test_a_literal_of_enum_members_refuses_other_values() -> None:
    with pytest.warns(ConfigEncodingWarning, match="does not take"):
        Model(act="tanh")  # type: ignore[arg-type]


@dataclass
class BaseCfg:
    h: int = 2


@dataclass
class SubCfg(BaseCfg):
    extra: list[int] = field(default_factory=lambda: [1])


class Based(ModelHubMixin):
    def __init__(self, config: BaseCfg) -> None:
        self.config = config


def test_a_dataclass_subclass_given_for_its_base_is_named() -> None:
    with pytest.warns(ConfigEncodingWarning, match=r"config is a SubCfg.*gives back as BaseCfg.*\['extra'\]"):
        Based(SubCfg(h=3, extra=[4]))
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConfigEncodingWarning)
        Based(BaseCfg(h=3))


class Sized(Saved):
    """An enum of tuples beside a tuple in one union: a tuple saved is a tuple again (reg23b #4)."""

    def __init__(self, size: Res | tuple[int, int] = (224, 224)) -> None:
        self.size = size


@pytest.mark.parametrize("size", [(224, 224), (640, 480)])
def test_a_tuple_beside_an_enum_of_tuples_comes_back_a_tuple(size: tuple[int, int], tmp_path: Path) -> None:
    Sized(size).save_pretrained(tmp_path)
    assert Sized.from_pretrained(tmp_path).size == size


class ChoiceEnum(str, enum.Enum):  # noqa: UP042  (as libraries written before StrEnum write it)
    """A member-less base of enums (helpers only), as libraries write them."""

    @classmethod
    def choices(cls) -> list[str]:
        return [member.value for member in cls]


class Gate(ChoiceEnum):
    SIGMOID = "sigmoid"
    TANH = "tanh"


class Gated(Saved):
    def __init__(self, gate: ChoiceEnum = Gate.TANH, other: enum.Enum | None = None) -> None:
        self.gate, self.other = gate, other


def test_an_enum_base_without_members_decodes_its_subclasses_member(tmp_path: Path) -> None:
    # (reg23b #24 of round 23, pre-existing: refused at every load, "ChoiceEnum has no members defined")
    Gated(Gate.SIGMOID).save_pretrained(tmp_path)
    assert Gated.from_pretrained(tmp_path).gate is Gate.SIGMOID


def test_enum_itself_says_no_more_than_any(tmp_path: Path) -> None:
    with pytest.warns(ConfigEncodingWarning, match=r"argument other \(Gate\) is saved as JSON .* gives back as str"):
        model = Gated(other=Gate.TANH)
    model.save_pretrained(tmp_path)
    assert Gated.from_pretrained(tmp_path).other == "tanh"  # type: ignore[comparison-overlap]  # (as saved)


class TextGate(ChoiceEnum):
    TANH = "tanh"


class SigmoidFirst(Gated):
    def __init__(self, gate: ChoiceEnum = Gate.SIGMOID) -> None:
        super().__init__(gate)


def test_a_value_two_subclasses_share_is_refused_by_name(tmp_path: Path) -> None:
    # (reg23k #1 of round 23: str-mixin members compare equal, and one of them came back silently)
    SigmoidFirst(Gate.TANH).save_pretrained(tmp_path)  # (not the default, which the default's JSON gives back)
    with pytest.raises(ConfigError, match=r"'tanh' is the value of \['Gate\.TANH', 'TextGate\.TANH'\]"):
        SigmoidFirst.from_pretrained(tmp_path)


class DefaultGate(Saved):
    def __init__(self, gate: enum.Enum = Gate.SIGMOID) -> None:
        self.gate = gate


def test_enum_itself_with_a_member_default_decodes_as_the_defaults_enum(tmp_path: Path) -> None:
    # (reg23k #2: as `Any` does)
    DefaultGate(Gate.TANH).save_pretrained(tmp_path)
    assert DefaultGate.from_pretrained(tmp_path).gate is Gate.TANH
