"""Torch dtypes by their safetensors names, the check of a ``dtype=`` argument, the dtype a tensor ends up in."""

from __future__ import annotations

from collections.abc import Mapping

import torch

from hubmixin_core.errors import HubMixinTypeError, WeightsError
from hubmixin_core.typing import Coders
from hubmixin_core.weights import ARRAY_DTYPE_NAMES

__all__ = ["DTYPE_CODERS", "TORCH_DTYPES", "check_dtype_argument", "check_savable", "dtype_name", "target_dtype"]

TORCH_DTYPES: dict[str, torch.dtype] = {
    name: dtype
    for name, type_name in ARRAY_DTYPE_NAMES.items()
    if isinstance(dtype := getattr(torch, type_name, None), torch.dtype)
}
"""The torch dtype of each safetensors dtype name this torch has (core's table, as torch names them)."""
_DTYPE_NAMES: dict[torch.dtype, str] = {dtype: name for name, dtype in TORCH_DTYPES.items()}


def dtype_name(dtype: torch.dtype) -> str:
    """The safetensors name of a torch dtype (``torch.float32`` -> ``"F32"``).

    Examples:
        >>> dtype_name(torch.bfloat16)
        'BF16'
    """
    return _DTYPE_NAMES.get(dtype, str(dtype).removeprefix("torch."))


def _torch_dtype(name: str) -> torch.dtype:
    dtype = getattr(torch, name, None) if isinstance(name, str) else None
    if not isinstance(dtype, torch.dtype):
        raise HubMixinTypeError(f"{name!r} is not a torch dtype")
    return dtype


DTYPE_CODERS: Coders = {torch.dtype: (lambda dtype: str(dtype).removeprefix("torch."), _torch_dtype)}
"""``__init__`` arguments that are torch dtypes go into ``config.json`` by name (``torch.bfloat16`` is
``"bfloat16"``) and come back as dtypes."""


def check_dtype_argument(dtype: object) -> torch.dtype | None:
    """Return ``dtype`` if it is ``None`` or a floating-point ``torch.dtype``.

    Raises:
        TypeError: anything else (the message shows what was given).
    """
    if dtype is None or (isinstance(dtype, torch.dtype) and dtype.is_floating_point):
        return dtype
    raise HubMixinTypeError(
        f"dtype must be a floating-point torch.dtype (torch.float16, torch.bfloat16, ...), got {dtype!r}"
    )


def check_savable(state: Mapping[str, object], dtype: torch.dtype | None, owner: str) -> None:
    """Refuse, before anything is written, a state dict holding a tensor of a dtype safetensors cannot store.

    Raises:
        WeightsError: naming the first such tensor and its dtype (``torch.complex128``, ``torch.float4_e2m1fn_x2``).
    """
    for name, tensor in state.items():
        if isinstance(tensor, torch.Tensor) and (found := target_dtype(tensor, dtype)) not in _DTYPE_NAMES:
            raise WeightsError(
                f"{owner}: cannot save tensor {name!r}: safetensors cannot store its dtype {found} "
                f"(it stores {', '.join(str(d).removeprefix('torch.') for d in _DTYPE_NAMES)})"
            )


def target_dtype(tensor: torch.Tensor, dtype: torch.dtype | None) -> torch.dtype:
    """The dtype ``tensor`` is loaded or saved in: ``dtype`` for a floating tensor, if given, else its own."""
    return dtype if dtype is not None and tensor.is_floating_point() else tensor.dtype
