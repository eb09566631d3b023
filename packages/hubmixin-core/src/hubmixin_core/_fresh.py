"""Fresh copies of a model's arguments, for each of several constructions of one load."""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["fresh", "fresh_arguments"]


def _nothing(value: Any) -> bool:
    return False


def fresh(value: Any, kept: Callable[[Any], bool] = _nothing) -> Any:
    """A copy of the plain dicts, lists and tuples in ``value`` and of the dataclass instances holding them (a
    config), other objects as they are (a module: the caller's own), and those ``kept`` says to keep (a framework's
    graph nodes): an ``__init__`` that consumes its arguments (``cfg.pop("width")``, ``config.layers.pop()``)
    finds them whole when a load runs it again."""
    if kept(value):
        return value
    if type(value) is dict:
        return {key: fresh(item, kept) for key, item in value.items()}
    if type(value) is list or type(value) is tuple:
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
