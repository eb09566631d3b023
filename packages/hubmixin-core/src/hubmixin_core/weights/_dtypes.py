"""Safetensors dtype names and the numpy dtypes that hold them (bfloat16 and float8 through ``ml_dtypes``)."""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np

from hubmixin_core.errors import HubMixinKeyError, HubMixinTypeError

__all__ = [
    "ARRAY_DTYPE_NAMES",
    "FLOATING_DTYPES",
    "NUMPY_DTYPES",
    "dtype_name",
    "floating_dtype_name",
    "converted_by_dtype",
    "is_floating",
    "numpy_dtype",
    "widens_integer",
]

ARRAY_DTYPE_NAMES: dict[str, str] = {
    "BOOL": "bool",
    "U8": "uint8",
    "I8": "int8",
    "U16": "uint16",
    "I16": "int16",
    "U32": "uint32",
    "I32": "int32",
    "U64": "uint64",
    "I64": "int64",
    "F16": "float16",
    "BF16": "bfloat16",
    "F32": "float32",
    "F64": "float64",
    "C64": "complex64",
    "F8_E4M3": "float8_e4m3fn",
    "F8_E5M2": "float8_e5m2",
    "F8_E4M3FNUZ": "float8_e4m3fnuz",
    "F8_E5M2FNUZ": "float8_e5m2fnuz",
    "F8_E8M0": "float8_e8m0fnu",
}
"""The name numpy (with ``ml_dtypes``), torch and JAX give each safetensors dtype they may hold."""

_FROM_ML_DTYPES = frozenset({"BF16", "F8_E4M3", "F8_E5M2", "F8_E4M3FNUZ", "F8_E5M2FNUZ", "F8_E8M0"})
_NATIVE: dict[str, np.dtype[Any]] = {
    name: np.dtype(type_name) for name, type_name in ARRAY_DTYPE_NAMES.items() if name not in _FROM_ML_DTYPES
}


def converted_by_dtype(name: str) -> bool:
    """Whether ``dtype=`` (on save or load) converts a tensor of the safetensors dtype ``name``: a floating one of 16
    bits or more. float8 tensors (quantized weights, their block scales) keep theirs, as transformers leaves them:
    ``float8_e8m0fnu`` scales overflow float16."""
    return is_floating(name) and not name.startswith("F8_")


def widens_integer(stored: str, wanted: str) -> bool:
    """Whether integers of the safetensors dtype ``stored`` convert to ``wanted`` without loss (``I32`` to ``I64``,
    ``U8`` to ``I16``; not the reverse, nor booleans)."""
    one, two = _NATIVE.get(stored), _NATIVE.get(wanted)
    if one is None or two is None or one.kind not in "iu" or two.kind not in "iu":
        return False
    return bool(np.can_cast(one, two, casting="safe"))


@functools.cache
def _extended() -> dict[str, np.dtype[Any]]:
    """bfloat16 and the float8 types, from ``ml_dtypes``: imported at first use (it takes ~0.5 s to import)."""
    import ml_dtypes

    found = {name: getattr(ml_dtypes, ARRAY_DTYPE_NAMES[name], None) for name in sorted(_FROM_ML_DTYPES)}
    return {name: np.dtype(type_) for name, type_ in found.items() if type_ is not None}  # all of them from 0.5


class _NumpyDtypes(Mapping[str, np.dtype[Any]]):
    """The table, with ``ml_dtypes``' types looked up only when a name numpy lacks is asked for."""

    def __getitem__(self, name: str) -> np.dtype[Any]:
        native = _NATIVE.get(name)
        return native if native is not None else _extended()[name]

    def __iter__(self) -> Iterator[str]:
        return iter({**_NATIVE, **_extended()})

    def __len__(self) -> int:
        return len(_NATIVE) + len(_extended())

    def __repr__(self) -> str:
        return f"NUMPY_DTYPES({dict(self)!r})"


NUMPY_DTYPES: Mapping[str, np.dtype[Any]] = _NumpyDtypes()
"""The numpy dtype of each safetensors dtype name that numpy can hold (bfloat16 and float8 by ``ml_dtypes``)."""

FLOATING_DTYPES: frozenset[str] = frozenset(
    {"F16", "BF16", "F32", "F64", "F8_E4M3", "F8_E5M2", "F8_E8M0", "F8_E4M3FNUZ", "F8_E5M2FNUZ"}
)
"""Safetensors names of the floating-point dtypes (those ``dtype=`` converts but float8, see
:func:`converted_by_dtype`)."""

_NATIVE_NAMES: dict[np.dtype[Any], str] = {dtype: name for name, dtype in _NATIVE.items()}


def numpy_dtype(name: str) -> np.dtype[Any]:
    """The numpy dtype of a safetensors dtype name.

    Examples:
        >>> numpy_dtype("BF16").name
        'bfloat16'

    Raises:
        KeyError: numpy cannot hold ``name`` (the message names it).
    """
    try:
        return NUMPY_DTYPES[name]
    except KeyError:
        raise HubMixinKeyError(f"safetensors dtype {name!r} has no numpy equivalent") from None


def dtype_name(dtype: Any) -> str:
    """The safetensors name of a numpy dtype (or anything ``np.dtype`` accepts).

    Examples:
        >>> dtype_name(np.float32), dtype_name("bfloat16")
        ('F32', 'BF16')
    """
    resolved = _extended()["BF16"] if isinstance(dtype, str) and dtype == "bfloat16" else np.dtype(dtype)
    name = _NATIVE_NAMES.get(resolved)
    if name is None:  # a dtype numpy lacks comes from ml_dtypes, imported already
        name = next((n for n, d in _extended().items() if d == resolved), None)
    if name is None:
        raise HubMixinKeyError(f"numpy dtype {resolved} has no safetensors name")
    return name


def floating_dtype_name(dtype: Any) -> str | None:
    """The safetensors name of a floating dtype given as a ``dtype=`` argument; ``None`` stays ``None``.

    Examples:
        >>> floating_dtype_name("bfloat16"), floating_dtype_name(np.float16), floating_dtype_name(None)
        ('BF16', 'F16', None)

    Raises:
        TypeError: ``dtype`` is not a floating dtype numpy knows (the message shows what was given).
    """
    if dtype is None:
        return None
    try:
        name = dtype_name(dtype)
    except (KeyError, TypeError):
        name = ""
    if not is_floating(name):
        raise HubMixinTypeError(
            f"dtype must be a floating-point dtype (float16, bfloat16, float32, ...), got {dtype!r}"
        )
    return name


def is_floating(name: str) -> bool:
    """Whether a safetensors dtype name is a floating-point dtype."""
    return name in FLOATING_DTYPES
