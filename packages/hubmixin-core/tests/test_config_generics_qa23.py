"""Generic model classes and generic dataclass configs: an argument annotated with a type variable is decoded as
the type the class's generic bases bind it to (else its bound), and ``Outer[Inner]`` as ``Outer`` with its fields'
variables bound; a type variable nothing binds is warned about as ``Any`` is (QA round 22, typing #7/#8)."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, NewType, TypeVar

import numpy as np
import pytest
from core_models import NumpyModelMixin

from hubmixin_core import ConfigEncodingWarning

C = TypeVar("C")
D = TypeVar("D")
CB = TypeVar("CB", bound="Cfg")


@dataclass
class Cfg:
    dim: int = 2


@dataclass
class Outer(Generic[C]):
    inner: C
    name: str = "x"


class Base(NumpyModelMixin, Generic[C]):
    def __init__(self, cfg: C, layers: list[C] | None = None) -> None:
        self.cfg = cfg
        self.layers = layers
        self.weights = {"w": np.zeros(1, np.float32)}


class Leaf(Base[Cfg]):
    pass


class Mid(Base[D], Generic[D]):
    pass


class DeepLeaf(Mid[Cfg]):
    pass


class Bounded(NumpyModelMixin, Generic[CB]):
    def __init__(self, config: CB) -> None:
        self.config = config
        self.weights = {"w": np.zeros(1, np.float32)}


CfgId = NewType("CfgId", Cfg)


class Aliased(NumpyModelMixin):
    def __init__(self, cfg: Outer[Cfg], other: CfgId | None = None) -> None:
        self.cfg = cfg
        self.other = other
        self.weights = {"w": np.zeros(1, np.float32)}


def _round_trip(model: NumpyModelMixin, directory: Path) -> NumpyModelMixin:
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConfigEncodingWarning)  # (nothing to warn about: the types are said)
        model.save_pretrained(directory)
    return type(model).from_pretrained(directory)


@pytest.mark.parametrize("cls", [Leaf, DeepLeaf])
def test_a_type_variable_bound_by_the_subclass_is_decoded_as_that_type(cls: type[Base[Cfg]], tmp_path: Path) -> None:
    loaded = _round_trip(cls(Cfg(3), layers=[Cfg(4), Cfg(5)]), tmp_path)
    assert isinstance(loaded, cls)
    assert loaded.cfg == Cfg(3) and loaded.layers == [Cfg(4), Cfg(5)]


def test_a_type_variable_bound_by_its_declaration_is_decoded_as_its_bound(tmp_path: Path) -> None:
    loaded = _round_trip(Bounded(Cfg(3)), tmp_path)
    assert isinstance(loaded, Bounded) and loaded.config == Cfg(3)


def test_a_generic_dataclass_alias_and_a_new_type_are_decoded(tmp_path: Path) -> None:
    loaded = _round_trip(Aliased(Outer(Cfg(3), "n"), CfgId(Cfg(4))), tmp_path)
    assert isinstance(loaded, Aliased)
    assert loaded.cfg == Outer(Cfg(3), "n") and type(loaded.cfg.inner) is Cfg
    assert loaded.other == Cfg(4)


def test_a_type_variable_nothing_binds_is_warned_about_as_any_is(tmp_path: Path) -> None:
    with pytest.warns(ConfigEncodingWarning, match=r"argument cfg \(Cfg\) is saved as JSON .* gives back as dict"):
        Base(Cfg(3)).save_pretrained(tmp_path)
    assert Base.from_pretrained(tmp_path).cfg == {"dim": 3}
