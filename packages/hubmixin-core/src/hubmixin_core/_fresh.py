"""Fresh copies of a model's arguments, for each of several constructions of one load."""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Mapping
from typing import Any

__all__ = ["fresh", "fresh_arguments"]


def fresh(value: Any) -> Any:
    """A copy of the plain dicts, lists and tuples in ``value`` and of the dataclass instances holding them (a
    config), other objects as they are (a module, ``nnx.Rngs``: the caller's own): an ``__init__`` that consumes
    its arguments (``cfg.pop("width")``, ``config.layers.pop()``) finds them whole when a load runs it again."""
    if type(value) is dict:
        return {key: fresh(item) for key, item in value.items()}
    if type(value) is list or type(value) is tuple:
        return type(value)(fresh(item) for item in value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        copied = copy.copy(value)
        for field in dataclasses.fields(value):
            if hasattr(value, field.name):
                object.__setattr__(copied, field.name, fresh(getattr(value, field.name)))  # (frozen ones too)
        return copied
    return value


def fresh_arguments(arguments: Mapping[str, Any]) -> dict[str, Any]:
    """``arguments`` (keyword name to value) with each value :func:`fresh`."""
    return {name: fresh(value) for name, value in arguments.items()}
