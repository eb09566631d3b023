"""Encoding `__init__` arguments into JSON config values and decoding them back by annotation."""

from __future__ import annotations

import dataclasses
import enum
import inspect
import json
import math
import types
import typing
from pathlib import Path, PurePath
from typing import Any

from hubmixin_core.typing import Coders

__all__ = ["BUILTIN_CODERS", "UNENCODABLE", "decode_value", "encode_value", "init_type_hints"]


class _Unencodable:
    """Marker returned by :func:`encode_value` for a value JSON cannot hold."""

    def __repr__(self) -> str:
        return "<unencodable>"


UNENCODABLE: Any = _Unencodable()

BUILTIN_CODERS: Coders = {
    PurePath: (str, Path),
}
"""Coders every mixin has: paths are stored as strings. Enums are handled by value."""


def encode_value(value: Any, coders: Coders) -> Any:
    """JSON data for ``value``, or :data:`UNENCODABLE`.

    Custom coders win over the built-in rules; dataclasses become dicts (recursively), enums their value,
    tuples lists.
    """
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else UNENCODABLE
    for type_, (encoder, _) in coders.items():
        if isinstance(value, type_):
            return encoder(value)
    if isinstance(value, enum.Enum):
        return encode_value(value.value, coders)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _encode_items({f.name: getattr(value, f.name) for f in dataclasses.fields(value)}, coders)
    if isinstance(value, list | tuple):
        items = [encode_value(v, coders) for v in value]
        return UNENCODABLE if any(v is UNENCODABLE for v in items) else items
    if isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):
            return UNENCODABLE
        return _encode_items(value, coders)
    return UNENCODABLE


def _encode_items(items: dict[str, Any], coders: Coders) -> Any:
    encoded = {k: encode_value(v, coders) for k, v in items.items()}
    return UNENCODABLE if any(v is UNENCODABLE for v in encoded.values()) else encoded


def decode_value(annotation: Any, value: Any, coders: Coders) -> Any:
    """Turn JSON data back into a value of type ``annotation`` where the annotation says how.

    Handles ``X | None``, dataclasses (nested ones too), enums, custom coders, ``tuple``/``list``/``dict``
    generics; anything else is returned unchanged.
    """
    if annotation is inspect.Parameter.empty or annotation is Any or isinstance(annotation, str):
        return value
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Union or origin is types.UnionType:
        if value is None and type(None) in args:
            return None
        members = [a for a in args if a is not type(None)]
        if len(members) == 1:
            return decode_value(members[0], value, coders)
        if any(_is_json_match(m, value) for m in members):
            return value
        for member in members:
            if _decodes(member, value, coders):
                return decode_value(member, value, coders)
        return value
    if origin is typing.Annotated:
        return decode_value(args[0], value, coders)
    if origin in (tuple, list) and isinstance(value, list):
        if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
            return tuple(decode_value(args[0], v, coders) for v in value)
        if origin is tuple and args:
            return tuple(decode_value(a, v, coders) for a, v in zip(args, value, strict=False))
        item = args[0] if args else Any
        decoded = [decode_value(item, v, coders) for v in value]
        return tuple(decoded) if origin is tuple else decoded
    if origin is dict and isinstance(value, dict) and len(args) == 2:
        return {k: decode_value(args[1], v, coders) for k, v in value.items()}
    if not isinstance(annotation, type):
        return value
    for type_, (_, decoder) in coders.items():
        if issubclass(annotation, type_):
            return value if value is None else decoder(value)
    if dataclasses.is_dataclass(annotation) and isinstance(value, dict):
        return _decode_dataclass(typing.cast(type, annotation), value, coders)
    if issubclass(annotation, enum.Enum) and not isinstance(value, annotation):
        return annotation(value)
    if annotation is tuple and isinstance(value, list):
        return tuple(value)
    return value


def _decode_dataclass(datacls: type, data: dict[str, Any], coders: Coders) -> Any:
    """An instance of ``datacls`` from ``data``; keys the dataclass does not define are ignored."""
    hints = _type_hints(datacls)
    kwargs = {
        f.name: decode_value(hints.get(f.name, Any), data[f.name], coders)
        for f in dataclasses.fields(datacls)
        if f.init and f.name in data
    }
    return datacls(**kwargs)


def _decodes(annotation: Any, value: Any, coders: Coders) -> bool:
    """Whether a union member would decode ``value`` into something other than itself."""
    if not isinstance(annotation, type):
        return False
    if any(issubclass(annotation, t) for t in coders):
        return True
    return dataclasses.is_dataclass(annotation) and isinstance(value, dict)


def _is_json_match(annotation: Any, value: Any) -> bool:
    base = typing.get_origin(annotation) or annotation
    json_types: tuple[type, ...] = (bool, int, float, str, list, dict)
    return isinstance(base, type) and base in json_types and isinstance(value, base)


def init_type_hints(cls: type) -> dict[str, Any]:
    """Resolved annotations of ``cls.__init__`` (string annotations included); empty where they cannot be."""
    return _type_hints(cls.__init__)  # type: ignore[misc]


def _type_hints(obj: Any) -> dict[str, Any]:
    try:
        return typing.get_type_hints(obj, include_extras=True)
    except Exception:  # unresolvable forward references: fall back to raw annotations
        raw = getattr(obj, "__annotations__", {})
        return {k: v for k, v in raw.items() if not isinstance(v, str)}


def dumps_config(config: dict[str, Any]) -> str:
    """``config.json`` text, as huggingface_hub writes it (sorted keys, indent 2)."""
    return json.dumps(config, sort_keys=True, indent=2)
