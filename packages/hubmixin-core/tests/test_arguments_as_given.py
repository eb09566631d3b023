"""ArgumentsAsGiven: the caller's objects, but copies as given of those an earlier construction took items out of."""

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


def test_items_added_or_replaced_leave_the_callers_objects() -> None:
    """A registry the model appends itself to, a default it sets: as in a single construction."""
    cfg: dict[str, Any] = {"width": 4}
    registry: list[object] = []
    arguments = ArgumentsAsGiven({"cfg": cfg, "registry": registry})
    first = arguments()
    first["cfg"]["width"] = 5
    first["cfg"].setdefault("act", "gelu")
    first["registry"].append(object())
    second = arguments()
    assert second["cfg"] is cfg and second["registry"] is registry


def test_values_holding_themselves_and_shared_ones_are_copied_once() -> None:
    cyclic: dict[str, Any] = {"width": 4}
    cyclic["self"] = cyclic
    shared = {"n": 1}
    arguments = ArgumentsAsGiven({"cfg": cyclic, "pair": [shared, shared]})
    first = arguments()
    first["cfg"].pop("width")
    first["pair"][0].pop("n")
    second = arguments()
    assert second["cfg"]["width"] == 4 and second["cfg"]["self"] is second["cfg"]
    assert second["pair"][0] is second["pair"][1] == {"n": 1}


def test_a_dataclass_whose_copy_is_itself_is_never_rewritten() -> None:
    @dataclasses.dataclass(frozen=True)
    class Frozen:
        widths: tuple[list[int], ...]

        def __copy__(self) -> Frozen:
            return self

    given = Frozen(([1, 2],))
    assert ArgumentsAsGiven({"config": given})()["config"] is given
    assert given.widths[0] == [1, 2]


def test_arguments_too_large_to_copy_are_given_as_they_are() -> None:
    big = [[i] for i in range(ArgumentsAsGiven._LIMIT + 1)]
    arguments = ArgumentsAsGiven({"big": big})
    arguments()["big"].pop()
    assert arguments()["big"] is big


def test_kept_objects_are_never_copied() -> None:
    held: dict[str, int] = {"n": 1}
    arguments = ArgumentsAsGiven({"state": held}, kept=lambda value: value is held)
    arguments()["state"].pop("n")
    assert arguments()["state"] is held


def test_an_object_too_large_shared_by_two_arguments_is_given_as_it_is() -> None:
    """A failed copy leaves no half-copied object for the other argument (it got half a vocabulary)."""
    vocab = {f"t{i}": [i] for i in range(ArgumentsAsGiven._LIMIT + 1)}
    cfg = {"vocab": vocab, "width": 4}
    arguments = ArgumentsAsGiven({"vocab": vocab, "cfg": cfg})
    first = arguments()
    first["cfg"]["vocab"].pop("t0")
    second = arguments()
    assert second["vocab"] is vocab and second["cfg"] is cfg and len(vocab) == ArgumentsAsGiven._LIMIT
