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


class _TooLarge(Exception):
    """More containers than a snapshot of the arguments takes (:class:`ArgumentsAsGiven`)."""


def fresh(value: Any, kept: Callable[[Any], bool] = _nothing) -> Any:
    """A copy of the plain dicts, lists and tuples in ``value`` and of the dataclass instances holding them (a
    config), other objects as they are (a module: the caller's own), and those ``kept`` says to keep (a framework's
    graph nodes): an ``__init__`` that consumes its arguments (``cfg.pop("width")``, ``config.layers.pop()``)
    finds them whole when a load runs it again. An object met twice is copied once (a value holding itself too)."""
    return _fresh(value, kept, {}, None)


def _fresh(value: Any, kept: Callable[[Any], bool], memo: dict[int, Any], limit: int | None) -> Any:
    if kept(value):
        return value
    plain = type(value) in (dict, list, tuple)
    if not plain and not (dataclasses.is_dataclass(value) and not isinstance(value, type)):
        return value
    if id(value) in memo:
        return memo[id(value)]
    if limit is not None and len(memo) >= limit:
        raise _TooLarge
    copied: Any
    if type(value) is dict:
        if _atoms(value.values()):
            copied = memo[id(value)] = dict(value)
            return copied
        copied = memo[id(value)] = {}
        copied.update((key, _fresh(item, kept, memo, limit)) for key, item in list(value.items()))
        return copied
    if type(value) is list:
        copied = memo[id(value)] = []
        copied.extend(list(value) if _atoms(value) else [_fresh(item, kept, memo, limit) for item in list(value)])
        return copied
    if type(value) is tuple:
        memo[id(value)] = value  # (a tuple holding itself through a list: that list's copy holds the tuple given)
        items = tuple(_fresh(item, kept, memo, limit) for item in value)
        copied = value if all(a is b for a, b in zip(items, value, strict=True)) else items
        memo[id(value)] = copied
        return copied
    try:
        copied = copy.copy(value)
    except Exception:  # (an object that refuses copying is the caller's to share)
        return value
    if copied is value:  # (``__copy__`` returning itself: an immutable value, the caller's to share)
        return value
    memo[id(value)] = copied
    for field in dataclasses.fields(value):
        if hasattr(value, field.name):
            object.__setattr__(copied, field.name, _fresh(getattr(value, field.name), kept, memo, limit))  # (frozen)
    return copied


def fresh_arguments(arguments: Mapping[str, Any], kept: Callable[[Any], bool] = _nothing) -> dict[str, Any]:
    """``arguments`` (keyword name to value) with each value :func:`fresh`."""
    memo: dict[int, Any] = {}  # (an object given in two arguments stays one object)
    return {name: _fresh(value, kept, memo, None) for name, value in arguments.items()}


def _lost(value: Any, given: Any, seen: set[int]) -> bool:
    """Whether ``value`` lost items that its copy ``given`` (:func:`fresh`, taken before) holds: a key of a dict,
    the tail of a list, a field of a dataclass, at any depth. Items added or replaced are no loss."""
    if value is given or type(value) is not type(given) or id(value) in seen:
        return False
    seen.add(id(value))
    if type(value) is dict:
        return any(key not in value or _lost(value[key], item, seen) for key, item in list(given.items()))
    if type(value) is list or type(value) is tuple:
        items = list(value)
        return len(items) < len(given) or any(_lost(v, g, seen) for v, g in zip(items, given, strict=False))
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = [f.name for f in dataclasses.fields(value) if hasattr(given, f.name)]
        return any(not hasattr(value, f) or _lost(getattr(value, f), getattr(given, f), seen) for f in fields)
    return False


class ArgumentsAsGiven:
    """The keyword arguments of each construction of one load that may construct more than once (an attempt
    without weights, then a normal construction; a donor of what the checkpoint lacks).

    Every call gives the caller's objects, but for an argument that an earlier construction took items out of
    (``cfg.pop("width")``, ``del cfg["act"]``, ``config.layers.pop()``): that one is given again as it was given,
    a :func:`fresh` copy of it, so such an ``__init__`` finds its arguments whole. What a construction added to its
    arguments (a registry it appends itself to, a default it sets) stays the caller's, as in a single construction.
    Arguments too large to copy cheaply, or changing while copied (another thread's), are given as they are.

    Example:
        >>> arguments = ArgumentsAsGiven({"cfg": {"width": 4}, "seen": []})
        >>> first = arguments()
        >>> first["cfg"].pop("width"), first["seen"].append(1)
        (4, None)
        >>> arguments()
        {'cfg': {'width': 4}, 'seen': [1]}
    """

    _LIMIT = 10_000
    """The most containers (dicts, lists, tuples, dataclass instances) copied of one argument."""

    def __init__(self, arguments: Mapping[str, Any], kept: Callable[[Any], bool] = _nothing) -> None:
        self._arguments = dict(arguments)
        self._kept = kept
        self._given: dict[str, Any] = {}
        for name, value in self._arguments.items():
            try:
                self._given[name] = _fresh(value, kept, {}, self._LIMIT)
            except (_TooLarge, RuntimeError):  # (too large, or changed by another thread meanwhile)
                continue

    def __call__(self) -> dict[str, Any]:
        """The arguments for the next construction."""
        return {name: self._next(name, value) for name, value in self._arguments.items()}

    def _next(self, name: str, value: Any) -> Any:
        if name not in self._given:
            return value
        try:
            lost = _lost(value, self._given[name], set())
        except RuntimeError:  # (changed by another thread meanwhile)
            return value
        return fresh(self._given[name], self._kept) if lost else value
