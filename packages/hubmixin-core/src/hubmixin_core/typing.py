"""Types shared by hubmixin's public signatures."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import Field
from typing import Any, ClassVar, Protocol, TypeAlias

__all__ = ["Coder", "Coders", "DataclassInstance"]


class DataclassInstance(Protocol):
    """Any dataclass instance (as typeshed defines it)."""

    __dataclass_fields__: ClassVar[dict[str, Field[Any]]]


Coder: TypeAlias = tuple[Callable[[Any], Any], Callable[[Any], Any]]
"""An ``(encoder, decoder)`` pair: the encoder turns a value into JSON data, the decoder turns it back."""

Coders: TypeAlias = dict[type, Coder]
"""Custom coders of a mixin class, keyed by the type they handle."""
