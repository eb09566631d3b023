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


def _fresh(
    value: Any,
    kept: Callable[[Any], bool],
    memo: dict[int, Any],
    limit: int | None,
    originals: dict[int, Any] | None = None,
) -> Any:
    """:func:`fresh`, with ``memo`` (by ``id`` of each object copied, its copy), at most ``limit`` copies, and each
    copy's object recorded in ``originals`` (by ``id`` of the copy)."""
    copied = _fresh_one(value, kept, memo, limit, originals)
    if originals is not None and copied is not value:
        originals[id(copied)] = value
    return copied


def _fresh_one(
    value: Any, kept: Callable[[Any], bool], memo: dict[int, Any], limit: int | None, originals: dict[int, Any] | None
) -> Any:
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
        copied.update((key, _fresh(item, kept, memo, limit, originals)) for key, item in list(value.items()))
        return copied
    if type(value) is list:
        copied = memo[id(value)] = []
        copied.extend(
            list(value) if _atoms(value) else [_fresh(item, kept, memo, limit, originals) for item in list(value)]
        )
        return copied
    if type(value) is tuple:
        memo[id(value)] = value  # (a tuple holding itself through a list: that list's copy holds the tuple given)
        items = tuple(_fresh(item, kept, memo, limit, originals) for item in value)
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
            object.__setattr__(
                copied, field.name, _fresh(getattr(value, field.name), kept, memo, limit, originals)
            )  # (frozen)
    return copied


def fresh_arguments(arguments: Mapping[str, Any], kept: Callable[[Any], bool] = _nothing) -> dict[str, Any]:
    """``arguments`` (keyword name to value) with each value :func:`fresh`."""
    memo: dict[int, Any] = {}  # (an object given in two arguments stays one object)
    return {name: _fresh(value, kept, memo, None) for name, value in arguments.items()}


class _Restore:
    """The objects of one construction's arguments: the caller's own, but a copy as given of each that an earlier
    construction took items out of (and of the objects holding it)."""

    def __init__(self, originals: dict[int, Any]) -> None:
        self._originals = originals
        self._lost: dict[int, bool] = {}
        self._made: dict[int, Any] = {}

    def lost(self, given: Any) -> bool:
        """Whether the caller's object copied as ``given`` lost a key, its tail, a field, or holds one that did."""
        original = self._originals.get(id(given))
        if original is None:
            return False  # (a leaf, or an object kept as it is)
        if id(given) not in self._lost:
            self._lost[id(given)] = False  # (while walking it: an object holding itself)
            self._lost[id(given)] = self._lost_items(original, given)
        return self._lost[id(given)]

    def _lost_items(self, original: Any, given: Any) -> bool:
        if type(given) is dict:
            return any(key not in original or self.lost(item) for key, item in list(given.items()))
        if type(given) is list or type(given) is tuple:
            return len(original) < len(given) or any(self.lost(item) for item in given)
        fields = [f.name for f in dataclasses.fields(given) if hasattr(given, f.name)]
        return any(not hasattr(original, f) or self.lost(getattr(given, f)) for f in fields)

    def restored(self, given: Any) -> Any:
        """The object for ``given``'s place: the caller's own where nothing was taken out of it; a new one holding
        what ``given`` holds, each item restored, where something was (a leaf comes back as it was given)."""
        original = self._originals.get(id(given))
        if original is None:
            return given
        if not self.lost(given):
            return original
        if id(given) in self._made:
            return self._made[id(given)]
        made: Any
        if type(given) is dict:
            made = self._made[id(given)] = {}
            made.update((key, self.restored(item)) for key, item in given.items())
        elif type(given) is list:
            made = self._made[id(given)] = []
            made.extend(self.restored(item) for item in given)
        elif type(given) is tuple:
            made = self._made[id(given)] = tuple(self.restored(item) for item in given)
        else:
            made = self._made[id(given)] = copy.copy(given)  # (a dataclass instance: fresh copied it once)
            for field in dataclasses.fields(given):
                if hasattr(given, field.name):
                    object.__setattr__(made, field.name, self.restored(getattr(given, field.name)))
        return made


class ArgumentsAsGiven:
    """The keyword arguments of each construction of one load that may construct more than once (an attempt
    without weights, then a normal construction; a donor of what the checkpoint lacks).

    Every call gives the caller's objects, but where an earlier construction took items out of one (a key:
    ``cfg.pop("width")``, ``del cfg["act"]``; a list's tail: ``config.layers.pop()``; a dataclass field): that
    object is given as it was given, a new one holding the items it held (and so is each object holding it), so
    such an ``__init__`` finds its arguments whole. Objects nothing was taken out of stay the caller's: what a
    construction added (a registry it appends itself to, a default it sets) stays, as in a single construction.
    An argument holding more than 10,000 dicts, lists, tuples and dataclass instances, or changing while copied
    (another thread's), is given as it is.

    Example:
        >>> arguments = ArgumentsAsGiven({"cfg": {"width": 4, "seen": []}})
        >>> first = arguments()
        >>> first["cfg"].pop("width"), first["cfg"]["seen"].append(1)
        (4, None)
        >>> again = arguments()
        >>> again, again["cfg"]["seen"] is first["cfg"]["seen"]
        ({'cfg': {'width': 4, 'seen': [1]}}, True)
    """

    _LIMIT = 10_000
    """The most containers (dicts, lists, tuples, dataclass instances) copied of one argument."""

    def __init__(self, arguments: Mapping[str, Any], kept: Callable[[Any], bool] = _nothing) -> None:
        self._arguments = dict(arguments)
        self._given: dict[str, Any] = {}
        self._originals: dict[int, Any] = {}
        memo: dict[int, Any] = {}  # (one object given in two arguments: one copy)
        for name, value in self._arguments.items():
            trial, originals = dict(memo), dict(self._originals)  # (a failed copy's half leaves no trace)
            try:
                self._given[name] = _fresh(value, kept, trial, len(memo) + self._LIMIT, originals)
            except (_TooLarge, RuntimeError):  # (too large, or changed by another thread meanwhile)
                continue
            memo, self._originals = trial, originals

    def __call__(self) -> dict[str, Any]:
        """The arguments for the next construction."""
        restore = _Restore(self._originals)
        try:
            return {
                name: restore.restored(self._given[name]) if name in self._given else value
                for name, value in self._arguments.items()
            }
        except RuntimeError:  # (changed by another thread meanwhile)
            return dict(self._arguments)
