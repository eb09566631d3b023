"""Reading a safetensors file's header (names, shapes, dtypes) without reading its tensors.

The header is checked as safetensors' own reader checks it (``Metadata::validate`` in ``safetensors/src/tensor.rs``),
so a file that library would refuse is refused here, with a :class:`WeightsFileError` naming the file and the key,
before any tensor is read.
"""

from __future__ import annotations

import json
import math
import struct
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hubmixin_core.errors import HubMixinKeyError, WeightsFileError

__all__ = ["DTYPE_SIZES", "MAX_HEADER_SIZE", "TensorInfo", "read_header"]

_DTYPE_BITS: dict[str, int] = {
    "BOOL": 8,
    "F4": 4,
    "F6_E2M3": 6,
    "F6_E3M2": 6,
    "U8": 8,
    "I8": 8,
    "F8_E5M2": 8,
    "F8_E4M3": 8,
    "F8_E8M0": 8,
    "F8_E4M3FNUZ": 8,
    "F8_E5M2FNUZ": 8,
    "I16": 16,
    "U16": 16,
    "F16": 16,
    "BF16": 16,
    "I32": 32,
    "U32": 32,
    "F32": 32,
    "C64": 64,
    "F64": 64,
    "I64": 64,
    "U64": 64,
}

DTYPE_SIZES: dict[str, float] = {name: bits / 8 for name, bits in _DTYPE_BITS.items()}
"""Bytes per element of each safetensors dtype (the names safetensors accepts)."""

MAX_HEADER_SIZE = 100_000_000
"""Largest header safetensors reads, in bytes."""

_USIZE_MAX = 2**64 - 1  # safetensors counts in usize
_MAX_DEPTH = 127  # serde_json's recursion limit: deeper headers are refused by safetensors
_FIELDS = ("dtype", "shape", "data_offsets")
_LFS_POINTER = b"version https://git-lfs.github.com/spec/"  # how a Git LFS pointer file begins


@dataclass(frozen=True)
class TensorInfo:
    """Shape and safetensors dtype (``"F32"``, ``"BF16"``, ...) of one tensor."""

    shape: tuple[int, ...]
    dtype: str

    @property
    def nbytes(self) -> int:
        """Size of the tensor's data in bytes.

        Raises:
            KeyError: :attr:`dtype` is not a safetensors dtype name (the message names it).
        """
        bits = _DTYPE_BITS.get(self.dtype)
        if bits is None:
            raise HubMixinKeyError(f"dtype {self.dtype!r} is not a safetensors dtype ({', '.join(_DTYPE_BITS)})")
        return (math.prod(self.shape) * bits + 7) // 8


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


class _DuplicateKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _DuplicateKey(key)
        result[key] = value
    return result


def _is_usize(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= _USIZE_MAX


def _read_raw(path: Path) -> tuple[bytes, int]:
    """The header's bytes and the file's size."""
    try:
        with path.open("rb") as f:
            prefix = f.read(8)
            if len(prefix) < 8:
                raise WeightsFileError(f"{path}: not a safetensors file (shorter than 8 bytes)")
            (size,) = struct.unpack("<Q", prefix)
            if size > MAX_HEADER_SIZE and (prefix + f.read(len(_LFS_POINTER) - 8)) == _LFS_POINTER:
                raise WeightsFileError(
                    f"{path}: a Git LFS pointer, not the weights (a clone made without git-lfs): fetch them with "
                    "`git lfs pull` in the clone, or download the repository with `hf download`"
                )
            if size > MAX_HEADER_SIZE:
                raise WeightsFileError(
                    f"{path}: not a safetensors file (header length {size} exceeds the {MAX_HEADER_SIZE}-byte limit)"
                )
            raw = f.read(size)
        file_size = path.stat().st_size
    except OSError as e:
        raise WeightsFileError(f"{path}: cannot read: {e}") from e
    if len(raw) < size:
        raise WeightsFileError(f"{path}: truncated safetensors header ({len(raw)} of {size} bytes)")
    return raw, file_size


def _parse(path: Path, raw: bytes) -> dict[str, Any]:
    try:
        data = json.loads(raw.decode("utf-8"), object_pairs_hook=_unique_keys)
    except _DuplicateKey as e:
        raise WeightsFileError(f"{path}: safetensors header has the key {e.key!r} twice") from None
    except RecursionError:
        raise WeightsFileError(f"{path}: safetensors header nests arrays or objects too deeply") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise WeightsFileError(f"{path}: safetensors header is not valid JSON: {e}") from e
    except ValueError as e:  # an integer longer than Python's int-string limit (sys.get_int_max_str_digits)
        raise WeightsFileError(f"{path}: safetensors header is not valid JSON: {e}") from e
    if not isinstance(data, dict):
        raise WeightsFileError(f"{path}: safetensors header is not a JSON object")
    if _depth(data) > _MAX_DEPTH:
        raise WeightsFileError(f"{path}: safetensors header nests arrays or objects deeper than {_MAX_DEPTH} levels")
    return data


def _depth(value: object) -> int:
    """How deeply lists and dicts nest in ``value`` (iteratively: no recursion limit)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is not None:
            deepest = max(deepest, level)
            stack.extend((child, level + 1) for child in children)
    return deepest


def _metadata(path: Path, value: object) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise WeightsFileError(f"{path}: '__metadata__' is a {type(value).__name__}, not an object of strings")
    for key, item in value.items():
        if not isinstance(item, str):
            raise WeightsFileError(
                f"{path}: '__metadata__' key {key!r} holds a {type(item).__name__} ({item!r:.40}), not a string"
            )
    return dict(value)


def _entry(path: Path, name: str, entry: object) -> tuple[TensorInfo, tuple[int, int]]:
    """One tensor's shape, dtype and offsets, each of the type safetensors requires, the bytes checked."""
    where = f"{path}: tensor {name!r}"
    if not isinstance(entry, dict):
        raise WeightsFileError(f"{where}: header entry is a {type(entry).__name__}, not an object")
    absent = [key for key in _FIELDS if key not in entry]
    if absent:
        raise WeightsFileError(f"{where}: header entry lacks {', '.join(map(repr, absent))}")
    dtype, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
    if not isinstance(dtype, str) or dtype not in _DTYPE_BITS:
        raise WeightsFileError(f"{where}: unknown dtype {dtype!r} (safetensors knows {', '.join(_DTYPE_BITS)})")
    if not isinstance(shape, list) or not all(_is_usize(d) for d in shape):
        raise WeightsFileError(f"{where}: shape {shape!r:.80} is not a list of non-negative 64-bit integers")
    if not isinstance(offsets, list) or len(offsets) != 2 or not all(_is_usize(o) for o in offsets):
        raise WeightsFileError(f"{where}: data_offsets {offsets!r:.80} is not two non-negative 64-bit integers")
    begin, end = offsets
    if end < begin:
        raise WeightsFileError(f"{where}: data_offsets [{begin}, {end}] end before they begin")
    elements = 1
    for dim in (*shape, _DTYPE_BITS[dtype]):  # every partial product checked, as safetensors does
        elements *= dim
        if elements > _USIZE_MAX:
            raise WeightsFileError(f"{where}: shape {tuple(shape)} of {dtype} overflows 64-bit sizes")
    bits = elements
    if bits % 8:
        raise WeightsFileError(f"{where}: shape {tuple(shape)} of {dtype} does not fill a whole number of bytes")
    if end - begin != bits // 8:
        raise WeightsFileError(
            f"{where} holds {end - begin} bytes, its shape needs {bits // 8} ({tuple(shape)} of {dtype})"
        )
    return TensorInfo(tuple(shape), dtype), (begin, end)


def _check_coverage(path: Path, offsets: dict[str, tuple[int, int]], data_size: int) -> None:
    """The tensors' byte ranges tile the data exactly: from 0, no gap, no overlap, up to the end of the file."""
    ordered: Sequence[tuple[str, tuple[int, int]]] = sorted(offsets.items(), key=lambda item: item[1])
    position, previous = 0, None
    for name, (begin, end) in ordered:
        if end > data_size:
            raise WeightsFileError(
                f"{path}: tensor {name!r} spans bytes {begin}..{end} but the file holds {data_size} (truncated?)"
            )
        if begin != position:
            relation = (
                f"overlaps tensor {previous!r}" if begin < position else f"leaves bytes {position}..{begin} unused"
            )
            first = "the data's start" if previous is None else repr(previous)
            raise WeightsFileError(
                f"{path}: tensor {name!r} starts at byte {begin}, not {position} (after {first}): it {relation}"
            )
        position, previous = end, name
    if position != data_size:
        raise WeightsFileError(f"{path}: {data_size - position} bytes follow the last tensor's data")


def read_header(path: str | Path) -> Header:
    """Parse and check the header of the safetensors file at ``path``, as safetensors does; nothing else is read.

    Checked: the header's length (at most :data:`MAX_HEADER_SIZE`), that it is a UTF-8 JSON object without
    repeated keys, ``__metadata__`` (strings only), each tensor's dtype (a safetensors name), shape and
    ``data_offsets`` (non-negative 64-bit integers, the byte span equal to what the shape and dtype need, no
    overflow), and that the tensors cover the data from its first byte to the end of the file without gap or
    overlap.

    Raises:
        WeightsFileError: the file is truncated or not a valid safetensors file (a Git LFS pointer is named as
            one); the message names the file and, where one is at fault, the tensor or metadata key.
    """
    header = shared_header(path)
    return Header(dict(header.tensors), dict(header.metadata), dict(header.offsets), header.data_start)


def shared_header(path: str | Path) -> Header:
    """:func:`read_header`, without copying: the dicts are shared by every reader of the file, never to change."""
    path = Path(path)
    raw, file_size = _read_raw(path)
    # Parsed once per file state (the header's bytes compared whole, a cheaper check than hashing them): a
    # model's layers read their tensors one by one, and a header can hold thousands of entries (checking one is
    # milliseconds).
    key = (str(path), file_size)
    with _PARSED_LOCK:
        known = _PARSED.get(key)
    if known is not None and known[0] == raw:
        return known[1]
    header = _checked(path, raw, file_size)
    with _PARSED_LOCK:
        _PARSED[key] = (raw, header)
        _PARSED.move_to_end(key)
        while len(_PARSED) > _PARSED_KEPT:
            _PARSED.popitem(last=False)
    return header


_PARSED: OrderedDict[tuple[str, int], tuple[bytes, Header]] = OrderedDict()
_PARSED_KEPT = 8
_PARSED_LOCK = threading.Lock()


def _checked(path: Path, raw: bytes, file_size: int) -> Header:
    data = _parse(path, raw)
    metadata = _metadata(path, data.pop("__metadata__", None))
    tensors: dict[str, TensorInfo] = {}
    offsets: dict[str, tuple[int, int]] = {}
    for name, entry in data.items():
        tensors[name], offsets[name] = _entry(path, name, entry)
    _check_coverage(path, offsets, file_size - 8 - len(raw))
    return Header(tensors, metadata, offsets, 8 + len(raw))
