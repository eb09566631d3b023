"""What plain Python objects hold: for frameworks that look for values a construction left behind (a tensor on
the meta device, a tracer of an abstract construction) outside the model's own tree."""

from __future__ import annotations

import collections
import contextlib
import functools
import types
from collections.abc import Callable, Iterator
from typing import Any

__all__ = ["CONTAINERS", "find_held", "held_by"]

CONTAINERS = (dict, list, tuple, set, frozenset, collections.deque)
"""Containers looked into item by item (a dict by its values)."""

_PLAIN = frozenset({str, int, float, bool, complex, bytes, type(None)})


def held_by(value: object) -> tuple[Any, ...]:
    """What an object other than a container holds: a partial's function and arguments, a function's closure
    cells and default arguments, a bound method's instance (a builtin's too: ``w.mean().mul``, ``{...}.get``), a
    read-only mapping's values, an instance's attributes (``__dict__`` and ``__slots__``); ``()`` for a class, a
    module or a builtin function."""
    if isinstance(value, functools.partial):
        return (value.func, value.args, value.keywords)
    if isinstance(value, types.FunctionType):
        cells = value.__closure__ or ()
        defaults = (value.__defaults__ or (), value.__kwdefaults__ or {})  # (a lambda's ``w=w``)
        return (*(cell.cell_contents for cell in cells if _filled(cell)), *defaults)
    if isinstance(value, types.MethodType):
        return (value.__self__,)
    if isinstance(value, type | types.ModuleType):
        return ()
    if isinstance(value, types.BuiltinMethodType | types.MethodWrapperType):
        owner = value.__self__  # (a builtin function's is its module)
        return () if owner is None or isinstance(owner, types.ModuleType) else (owner,)
    if isinstance(value, types.MappingProxyType):
        return tuple(value.values())
    try:
        attributes = object.__getattribute__(value, "__dict__")  # (not a proxy's __getattr__)
    except AttributeError:
        attributes = None
    held = (attributes,) if isinstance(attributes, dict) else ()
    return held + tuple(_slot_values(value))


def _slot_values(value: object) -> Iterator[Any]:
    """The values of ``value``'s ``__slots__`` (a ``@dataclass(slots=True)`` instance's fields)."""
    for cls in type(value).__mro__:
        slots = cls.__dict__.get("__slots__", ())
        for slot in (slots,) if isinstance(slots, str) else slots:
            if slot not in ("__dict__", "__weakref__"):
                with contextlib.suppress(AttributeError, TypeError):
                    yield object.__getattribute__(value, slot)


def _filled(cell: Any) -> bool:
    try:
        cell.cell_contents  # noqa: B018  (an empty cell raises)
    except ValueError:
        return False
    return True


def find_held(value: object, wanted: Callable[[Any], bool], seen: set[int], *, depth: int = 8) -> object | None:
    """The first object ``wanted`` accepts in ``value`` or what it holds (containers and :func:`held_by`, at most
    ``depth`` levels down); ``seen``: ids of objects not to look into (updated with those looked into)."""
    if id(value) in seen or type(value) in _PLAIN:
        return None
    if wanted(value):
        return value
    if depth == 0:
        return None
    seen.add(id(value))
    if isinstance(value, dict):
        items: Any = value.values()
    elif isinstance(value, CONTAINERS):
        items = value
    else:
        items = held_by(value)
    for item in items:
        found = find_held(item, wanted, seen, depth=depth - 1)
        if found is not None:
            return found
    return None
