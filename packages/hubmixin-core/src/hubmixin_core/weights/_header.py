"""Reading a safetensors file's header (names, shapes, dtypes) without reading its tensors."""

from __future__ import annotations

import json
import math
import struct
from dataclasses import dataclass, field
from pathlib import Path

from hubmixin_core.errors import WeightsFileError

__all__ = ["DTYPE_SIZES", "TensorInfo", "read_header"]

DTYPE_SIZES: dict[str, float] = {
    "BOOL": 1,
    "U8": 1,
    "I8": 1,
    "F8_E5M2": 1,
    "F8_E4M3": 1,
    "F8_E8M0": 1,
    "F4": 0.5,
    "I16": 2,
    "U16": 2,
    "F16": 2,
    "BF16": 2,
    "I32": 4,
    "U32": 4,
    "F32": 4,
    "I64": 8,
    "U64": 8,
    "F64": 8,
    "C64": 8,
}
"""Bytes per element of each safetensors dtype."""

_MAX_HEADER = 100 * 1024 * 1024


@dataclass(frozen=True)
class TensorInfo:
    """Shape and safetensors dtype (``"F32"``, ``"BF16"``, ...) of one tensor."""

    shape: tuple[int, ...]
    dtype: str

    @property
    def nbytes(self) -> int:
        """Size of the tensor's data in bytes."""
        return math.ceil(math.prod(self.shape) * DTYPE_SIZES.get(self.dtype, 1))


@dataclass(frozen=True)
class Header:
    """What a safetensors header says: tensors by name, the string metadata, and where each tensor's bytes are.

    Attributes:
        tensors: Shape and dtype of each tensor.
        metadata: The header's ``__metadata__``.
        offsets: Byte range of each tensor, counted from ``data_start``.
        data_start: Offset in the file of the first byte after the header.
    """

    tensors: dict[str, TensorInfo]
    metadata: dict[str, str]
    offsets: dict[str, tuple[int, int]] = field(default_factory=dict, repr=False)
    data_start: int = 0


def read_header(path: str | Path) -> Header:
    """Parse the header of the safetensors file at ``path``, checking it against the file's size.

    Raises:
        WeightsFileError: the file is truncated or its header is not a valid safetensors header; the message
            names the file and, where one is at fault, the tensor.
    """
    path = Path(path)
    try:
        with path.open("rb") as f:
            prefix = f.read(8)
            if len(prefix) < 8:
                raise WeightsFileError(f"{path}: not a safetensors file (shorter than 8 bytes)")
            (size,) = struct.unpack("<Q", prefix)
            if size > _MAX_HEADER:
                raise WeightsFileError(f"{path}: not a safetensors file (header length {size})")
            raw = f.read(size)
        file_size = path.stat().st_size
    except OSError as e:
        raise WeightsFileError(f"{path}: cannot read: {e}") from e
    if len(raw) < size:
        raise WeightsFileError(f"{path}: truncated safetensors header")
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise WeightsFileError(f"{path}: safetensors header is not valid JSON: {e}") from e
    if not isinstance(data, dict):
        raise WeightsFileError(f"{path}: safetensors header is not a JSON object")
    metadata = data.pop("__metadata__", None) or {}
    tensors: dict[str, TensorInfo] = {}
    offsets: dict[str, tuple[int, int]] = {}
    data_size = file_size - 8 - size
    for name, entry in data.items():
        try:
            shape = tuple(int(d) for d in entry["shape"])
            dtype = str(entry["dtype"])
            begin, end = (int(o) for o in entry["data_offsets"])
        except (KeyError, TypeError, ValueError) as e:
            raise WeightsFileError(f"{path}: malformed header entry for tensor {name!r}") from e
        if not 0 <= begin <= end <= data_size:
            raise WeightsFileError(
                f"{path}: tensor {name!r} spans bytes {begin}..{end} but the file holds {data_size} (truncated?)"
            )
        tensors[name] = TensorInfo(shape, dtype)
        offsets[name] = (begin, end)
    return Header(tensors, {str(k): str(v) for k, v in metadata.items()}, offsets, 8 + size)
