"""How ``__init__`` arguments only JAX has go into ``config.json`` and come back: dtypes and ``PartitionSpec`` s."""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp
import numpy as np
from jax.sharding import PartitionSpec

from hubmixin_core._config import UNENCODABLE
from hubmixin_core.typing import Coders

__all__ = ["DTYPE_CODERS", "SPEC_CODERS", "NumpyScalarType"]


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
