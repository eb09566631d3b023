"""How ``__init__`` arguments only JAX has go into ``config.json`` and come back: dtypes and ``PartitionSpec`` s."""

from __future__ import annotations

import contextlib
import dataclasses
from typing import Any

import jax.numpy as jnp
import numpy as np
from jax.sharding import PartitionSpec

from hubmixin_core._config import UNENCODABLE, init_type_hints
from hubmixin_core._init_arguments import loose_annotation
from hubmixin_core.typing import Coders

__all__ = ["DTYPE_CODERS", "SPEC_CODERS", "NumpyScalarType", "as_dtype", "with_dtype_fields"]


class _ScalarTypeMeta(type):
    def __instancecheck__(cls, instance: object) -> bool:
        return isinstance(instance, type) and issubclass(instance, np.generic)


class NumpyScalarType(metaclass=_ScalarTypeMeta):
    """What ``np.float32`` is (a numpy scalar type, a class): ``isinstance(np.float32, NumpyScalarType)``."""


DTYPE_CODERS: Coders = {
    dtype_type: (lambda dtype: jnp.dtype(dtype).name, jnp.dtype)
    for dtype_type in (np.dtype, type(jnp.float32), NumpyScalarType)
}
"""``__init__`` arguments that are dtypes (``param_dtype=jnp.bfloat16``, ``np.float32``, ``jnp.dtype("float16")``)
go into ``config.json`` by name and come back as ``numpy.dtype`` objects (equal to ``jnp.bfloat16`` and accepted
wherever JAX takes a dtype)."""


def as_dtype(name: str, value: Any, annotation: Any, coders: Coders) -> Any:
    """``value`` decoded from ``config.json`` for a dtype argument or field as Flax's modules declare them
    (``dtype``, ``*_dtype``; unannotated, ``Dtype | None`` or ``DTypeLike``, types taking a string first): a
    dtype's name comes back as that dtype, not as a string. Anything else is returned unchanged."""
    if isinstance(value, str) and (name == "dtype" or name.endswith("_dtype")) and loose_annotation(annotation, coders):
        with contextlib.suppress(TypeError):
            return jnp.dtype(value)
    return value


def with_dtype_fields(value: Any, coders: Coders) -> Any:
    """``value``, a dataclass decoded from ``config.json`` (nested ones too, and ones in lists, tuples and dicts:
    ``layers: list[Block]``), with its dtype fields decoded by :func:`as_dtype` (core decodes a field by its
    annotation alone: ``Dtype | None`` gives a string back)."""
    if type(value) in (list, tuple, dict):
        return _with_dtype_items(value, coders)
    if not dataclasses.is_dataclass(value) or isinstance(value, type):
        return value
    hints = init_type_hints(type(value), coders)  # (the fields __init__ takes)
    changes = {}
    for field in dataclasses.fields(value):
        if field.init:
            before = getattr(value, field.name)
            after = as_dtype(field.name, with_dtype_fields(before, coders), hints.get(field.name, Any), coders)
            if after is not before:
                changes[field.name] = after
    return dataclasses.replace(value, **changes) if changes else value


def _with_dtype_items(items: list[Any] | tuple[Any, ...] | dict[Any, Any], coders: Coders) -> Any:
    """A plain list, tuple or dict with :func:`with_dtype_fields` of each value; itself where none changes."""
    values = list(items.values() if isinstance(items, dict) else items)
    after = [with_dtype_fields(v, coders) for v in values]
    if all(a is b for a, b in zip(after, values, strict=True)):
        return items
    if isinstance(items, dict):
        return dict(zip(items, after, strict=True))
    return type(items)(after)


def _encode_spec(spec: PartitionSpec) -> Any:
    """``P("data", None, ("a", "b"))`` as ``["data", null, ["a", "b"]]`` (``P.UNCONSTRAINED``: ``{"unconstrained":
    true}``); one with reduced or unreduced axes cannot be saved."""
    if getattr(spec, "reduced", None) or getattr(spec, "unreduced", None):
        return UNENCODABLE
    entries: list[Any] = []
    for entry in spec:
        if entry is PartitionSpec.UNCONSTRAINED:
            entries.append({"unconstrained": True})
        elif entry is None or isinstance(entry, str):
            entries.append(entry)
        elif isinstance(entry, tuple) and all(isinstance(axis, str) for axis in entry):
            entries.append(list(entry))
        else:
            return UNENCODABLE
    return entries


def _decode_spec(entries: list[Any]) -> PartitionSpec:
    unconstrained = PartitionSpec.UNCONSTRAINED
    axes = [unconstrained if isinstance(e, dict) else tuple(e) if isinstance(e, list) else e for e in entries]
    return PartitionSpec(*axes)  # type: ignore[no-untyped-call]


SPEC_CODERS: Coders = {PartitionSpec: (_encode_spec, _decode_spec)}
"""``__init__`` arguments (or config fields) that are ``PartitionSpec`` s go into ``config.json`` as lists of mesh
axis names (``null`` for a replicated dimension, a list for several axes)."""
