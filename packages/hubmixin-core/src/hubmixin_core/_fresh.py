"""Fresh copies of a model's arguments, for each of several constructions of one load."""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable, Iterable, Mapping
from typing import Any

__all__ = ["ArgumentsAsGiven", "fresh", "fresh_arguments"]


def _nothing(value: Any) -> bool:
    return False


_ATOMS = frozenset({int, float, complex, str, bytes, bool, type(None)})


def _atoms(items: Iterable[Any]) -> bool:
    """Whether ``items`` are all immutable scalars (a long list of ids or token strings: copied in one step)."""
    return all(type(item) in _ATOMS for item in items)


def fresh(value: Any, kept: Callable[[Any], bool] = _nothing) -> Any:
    """A copy of the plain dicts, lists and tuples in ``value`` and of the dataclass instances holding them (a
    config), other objects as they are (a module: the caller's own), and those ``kept`` says to keep (a framework's
    graph nodes): an ``__init__`` that consumes its arguments (``cfg.pop("width")``, ``config.layers.pop()``)
    finds them whole when a load runs it again."""
    if kept(value):
        return value
    if type(value) is dict:
        return dict(value) if _atoms(value.values()) else {key: fresh(item, kept) for key, item in value.items()}
    if type(value) is list or type(value) is tuple:
        if _atoms(value):
            return list(value) if type(value) is list else value
        return type(value)(fresh(item, kept) for item in value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        try:
            copied = copy.copy(value)
        except Exception:  # (an object that refuses copying is the caller's to share)
            return value
        for field in dataclasses.fields(value):
            if hasattr(value, field.name):
                object.__setattr__(copied, field.name, fresh(getattr(value, field.name), kept))  # (frozen too)
        return copied
    return value


def fresh_arguments(arguments: Mapping[str, Any], kept: Callable[[Any], bool] = _nothing) -> dict[str, Any]:
    """``arguments`` (keyword name to value) with each value :func:`fresh`."""
    return {name: fresh(value, kept) for name, value in arguments.items()}


def _unchanged(value: Any, given: Any, kept: Callable[[Any], bool]) -> bool:
    """Whether ``value`` still holds what :func:`fresh` copied into ``given``: the same objects where it keeps
    them, the same items in the dicts, lists, tuples and dataclass fields it copies."""
    if value is given or kept(value) or type(value) is not type(given):
        return value is given
    if type(value) is dict:
        if _atoms(value.values()) and _atoms(given.values()):
            return list(value.items()) == list(given.items())
        return list(value) == list(given) and all(_unchanged(value[k], given[k], kept) for k in value)
    if type(value) is list or type(value) is tuple:
        if _atoms(value) and _atoms(given):
            return bool(value == given)
        return len(value) == len(given) and all(_unchanged(v, g, kept) for v, g in zip(value, given, strict=True))
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        missing = object()
        return all(
            _unchanged(getattr(value, f.name, missing), getattr(given, f.name, missing), kept)
            for f in dataclasses.fields(value)
        )
    return False


class ArgumentsAsGiven:
    """The keyword arguments of each construction of one load that may construct more than once (an attempt
    without weights, then a normal construction; a donor of what the checkpoint lacks).

    The first call gives the caller's objects; each later one gives them too where the constructions before left
    them as they were given, and a :func:`fresh` copy of them as given where one changed them: an ``__init__``
    that consumes its arguments (``cfg.pop("width")``) finds them whole again, and a model built from unchanged
    arguments holds the caller's own objects, as a single construction does.

    Example:
        >>> arguments = ArgumentsAsGiven({"cfg": {"width": 4}})
        >>> arguments()["cfg"].pop("width")
        4
        >>> arguments()
        {'cfg': {'width': 4}}
    """

    def __init__(self, arguments: Mapping[str, Any], kept: Callable[[Any], bool] = _nothing) -> None:
        self._arguments = dict(arguments)
        self._kept = kept
        self._given = fresh_arguments(arguments, kept)
        self._calls = 0

    def __call__(self) -> dict[str, Any]:
        """The arguments for the next construction."""
        self._calls += 1
        if self._calls == 1:
            return dict(self._arguments)
        return {
            name: value if _unchanged(value, self._given[name], self._kept) else fresh(self._given[name], self._kept)
            for name, value in self._arguments.items()
        }
