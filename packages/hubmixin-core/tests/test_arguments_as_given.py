"""ArgumentsAsGiven: the caller's objects where earlier constructions left them as given, copies where not."""

from __future__ import annotations

import dataclasses
from typing import Any

from hubmixin_core._fresh import ArgumentsAsGiven


@dataclasses.dataclass
class Config:
    widths: list[int]
    name: str = "m"


class Opaque:
    """An object compared by identity (a module, a tokenizer): never copied."""


def test_unchanged_arguments_are_the_callers_objects_every_time() -> None:
    opaque = Opaque()
    given: dict[str, Any] = {"cfg": {"width": 4, "sub": [1, (2, 3)]}, "config": Config([1, 2]), "part": opaque}
    arguments = ArgumentsAsGiven(given)
    for _ in range(3):
        each = arguments()
        assert all(each[name] is value for name, value in given.items())


def test_changed_arguments_are_given_again_as_they_were() -> None:
    cfg: dict[str, Any] = {"width": 4, "sub": {"depth": 2}}
    config = Config([1, 2])
    arguments = ArgumentsAsGiven({"cfg": cfg, "config": config})
    first = arguments()
    first["cfg"]["sub"].pop("depth")
    first["config"].widths.pop()
    second = arguments()
    assert second["cfg"] == {"width": 4, "sub": {"depth": 2}} and second["cfg"] is not cfg
    assert second["config"] == Config([1, 2]) and second["config"] is not config
    second["cfg"].pop("width")
    assert arguments()["cfg"] == {"width": 4, "sub": {"depth": 2}}  # each later construction: its own copy
    assert cfg == {"width": 4, "sub": {}}  # the caller's object is never rewritten


def test_a_replaced_value_counts_as_changed() -> None:
    cfg = {"width": 4}
    arguments = ArgumentsAsGiven({"cfg": cfg})
    arguments()["cfg"]["width"] = 5
    assert arguments()["cfg"] == {"width": 4}


def test_kept_objects_are_never_copied() -> None:
    held: dict[str, int] = {"n": 1}
    arguments = ArgumentsAsGiven({"state": held}, kept=lambda value: value is held)
    arguments()["state"].pop("n")
    assert arguments()["state"] is held
