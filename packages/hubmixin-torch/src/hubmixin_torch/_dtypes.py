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


def _torch_device(name: str) -> torch.device:
    try:
        return torch.device(name)
    except (RuntimeError, TypeError) as error:
        raise HubMixinTypeError(f"{name!r} is not a torch device") from error


DTYPE_CODERS: Coders = {
    torch.dtype: (lambda dtype: str(dtype).removeprefix("torch."), _torch_dtype),
    torch.device: (str, _torch_device),
}
"""``__init__`` arguments that are torch dtypes or devices (torch's ``device=``, ``dtype=`` factory keywords) go
into ``config.json`` by name (``torch.bfloat16`` is ``"bfloat16"``, ``torch.device("cuda", 0)`` is
``"cuda:0"``) and come back as dtypes and devices."""


def check_dtype_argument(dtype: object) -> torch.dtype | None:
    """Return ``dtype`` if it is ``None`` or a floating-point ``torch.dtype`` hubmixin stores.

    Raises:
        TypeError: anything else (the message shows what was given; ``torch.float4_e2m1fn_x2`` is not stored).
    """
    if dtype is None or (isinstance(dtype, torch.dtype) and dtype.is_floating_point and dtype in _DTYPE_NAMES):
        return dtype
    raise HubMixinTypeError(
        "dtype must be a floating-point torch.dtype hubmixin stores (torch.float16, torch.bfloat16, ...), "
        f"got {dtype!r}"
    )


def check_savable(state: Mapping[str, object], dtype: torch.dtype | None, owner: str) -> None:
    """Refuse, before anything is written, a state dict holding a tensor of a dtype hubmixin does not store
    (``torch.complex128``, which safetensors cannot store; ``torch.float4_e2m1fn_x2``, which it stores as ``F4``
    but hubmixin does not support: its header shape counts values packed two a byte).

    Raises:
        WeightsError: naming the first such tensor and its dtype.
    """
    for name, tensor in state.items():
        if isinstance(tensor, torch.Tensor) and (found := target_dtype(tensor, dtype)) not in _DTYPE_NAMES:
            raise WeightsError(
                f"{owner}: cannot save tensor {name!r}: hubmixin does not store its dtype {found} "
                f"(it stores {', '.join(str(d).removeprefix('torch.') for d in _DTYPE_NAMES)})"
            )


def target_dtype(tensor: torch.Tensor, dtype: torch.dtype | None) -> torch.dtype:
    """The dtype ``tensor`` is loaded or saved in: ``dtype`` for a floating tensor, if given, else its own.

    float8 tensors keep theirs, as transformers keeps ``float8_e4m3fn``: quantised weights and their block scales
    (``float8_e8m0fnu`` ones overflow ``float16``), not the compute dtype ``dtype`` asks for.
    """
    if dtype is None or not tensor.is_floating_point() or tensor.dtype.itemsize == 1:
        return tensor.dtype
    return dtype
