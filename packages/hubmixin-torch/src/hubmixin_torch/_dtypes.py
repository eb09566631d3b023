"""Torch dtypes: their safetensors names, the check of a ``dtype=`` argument, the dtype a tensor is converted to."""

from __future__ import annotations

import torch

__all__ = ["check_dtype_argument", "dtype_name"]

_DTYPES: dict[str, torch.dtype] = {
    "BOOL": torch.bool,
    "U8": torch.uint8,
    "I8": torch.int8,
    "I16": torch.int16,
    "I32": torch.int32,
    "I64": torch.int64,
    "F16": torch.float16,
    "BF16": torch.bfloat16,
    "F32": torch.float32,
    "F64": torch.float64,
    "C64": torch.complex64,
}
for _name, _attr in (
    ("U16", "uint16"),
    ("U32", "uint32"),
    ("U64", "uint64"),
    ("F8_E4M3", "float8_e4m3fn"),
    ("F8_E5M2", "float8_e5m2"),
    ("F8_E8M0", "float8_e8m0fnu"),
):
    if isinstance(getattr(torch, _attr, None), torch.dtype):
        _DTYPES[_name] = getattr(torch, _attr)
_DTYPE_NAMES: dict[torch.dtype, str] = {dtype: name for name, dtype in _DTYPES.items()}
_FLOATING = frozenset(name for name, dtype in _DTYPES.items() if dtype.is_floating_point)


def dtype_name(dtype: torch.dtype) -> str:
    """The safetensors name of a torch dtype (``torch.float32`` -> ``"F32"``).

    Example:
        >>> dtype_name(torch.bfloat16)
        'BF16'
    """
    return _DTYPE_NAMES.get(dtype, str(dtype).removeprefix("torch."))


def check_dtype_argument(dtype: object) -> torch.dtype | None:
    """Return ``dtype`` if it is ``None`` or a floating-point ``torch.dtype``.

    Raises:
        TypeError: anything else (the message shows what was given).
    """
    if dtype is None or (isinstance(dtype, torch.dtype) and dtype.is_floating_point):
        return dtype
    raise TypeError(f"dtype must be a floating-point torch.dtype (torch.float16, torch.bfloat16, ...), got {dtype!r}")


def _target_dtype(tensor: torch.Tensor, dtype: torch.dtype | None) -> torch.dtype:
    return dtype if dtype is not None and tensor.is_floating_point() else tensor.dtype
