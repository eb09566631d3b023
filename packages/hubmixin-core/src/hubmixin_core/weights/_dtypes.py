"""Safetensors dtype names and the numpy dtypes that hold them (bfloat16 and float8 through ``ml_dtypes``)."""

from __future__ import annotations

from typing import Any

import ml_dtypes
import numpy as np

from hubmixin_core.errors import HubMixinKeyError, HubMixinTypeError

__all__ = ["FLOATING_DTYPES", "NUMPY_DTYPES", "dtype_name", "floating_dtype_name", "is_floating", "numpy_dtype"]

NUMPY_DTYPES: dict[str, np.dtype[Any]] = {
    "BOOL": np.dtype(np.bool_),
    "U8": np.dtype(np.uint8),
    "I8": np.dtype(np.int8),
    "U16": np.dtype(np.uint16),
    "I16": np.dtype(np.int16),
    "U32": np.dtype(np.uint32),
    "I32": np.dtype(np.int32),
    "U64": np.dtype(np.uint64),
    "I64": np.dtype(np.int64),
    "F16": np.dtype(np.float16),
    "BF16": np.dtype(ml_dtypes.bfloat16),
    "F32": np.dtype(np.float32),
    "F64": np.dtype(np.float64),
    "C64": np.dtype(np.complex64),
    "F8_E4M3": np.dtype(ml_dtypes.float8_e4m3fn),
    "F8_E5M2": np.dtype(ml_dtypes.float8_e5m2),
    "F8_E4M3FNUZ": np.dtype(ml_dtypes.float8_e4m3fnuz),
    "F8_E5M2FNUZ": np.dtype(ml_dtypes.float8_e5m2fnuz),
}
"""The numpy dtype of each safetensors dtype name that numpy can hold."""
if hasattr(ml_dtypes, "float8_e8m0fnu"):
    NUMPY_DTYPES["F8_E8M0"] = np.dtype(ml_dtypes.float8_e8m0fnu)

FLOATING_DTYPES: frozenset[str] = frozenset(
    {"F16", "BF16", "F32", "F64", "F8_E4M3", "F8_E5M2", "F8_E8M0", "F8_E4M3FNUZ", "F8_E5M2FNUZ"}
)
"""Safetensors names of the floating-point dtypes (those ``dtype=`` converts)."""

_NAMES: dict[np.dtype[Any], str] = {dtype: name for name, dtype in NUMPY_DTYPES.items()}


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
    resolved = np.dtype(ml_dtypes.bfloat16) if dtype == "bfloat16" else np.dtype(dtype)
    try:
        return _NAMES[resolved]
    except KeyError:
        raise HubMixinKeyError(f"numpy dtype {resolved} has no safetensors name") from None


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
