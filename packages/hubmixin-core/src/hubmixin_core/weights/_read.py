"""Reading safetensors tensors as numpy arrays: whole, or one slice, without mapping the file.

Data is read with ``pread`` into arrays this process owns, so a tensor costs its own size in memory and a slice
costs only the slice (plus one bounded block of rows), whatever the slice's layout.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from hubmixin_core.errors import WeightsFileError
from hubmixin_core.weights._dtypes import numpy_dtype
from hubmixin_core.weights._header import Header, TensorInfo, read_header

__all__ = ["Index", "read_numpy", "read_numpy_slice"]

Index = tuple[slice, ...]
"""One contiguous slice per dimension (as ``jax.make_array_from_callback`` gives a shard's index)."""

_BLOCK_BYTES = 16 * 1024 * 1024


def _locate(path: Path, header: Header, name: str) -> tuple[TensorInfo, np.dtype[Any], int]:
    info = header.tensors[name]
    begin, end = header.offsets[name]
    try:
        dtype = numpy_dtype(info.dtype)
    except KeyError as e:
        raise WeightsFileError(f"{path}: tensor {name!r} has dtype {info.dtype}, which numpy cannot hold") from e
    if end - begin != info.nbytes:
        message = f"{path}: tensor {name!r} holds {end - begin} bytes, its shape needs {info.nbytes}"
        raise WeightsFileError(message)
    return info, dtype, header.data_start + begin


def _pread(fd: int, size: int, offset: int, path: Path) -> bytearray:
    data = bytearray(size)
    view, done = memoryview(data), 0
    while done < size:
        n = os.preadv(fd, [view[done:]], offset + done)
        if n == 0:
            raise WeightsFileError(f"{path}: truncated: expected {size} bytes at offset {offset}")
        done += n
    return data


def read_numpy(path: Path, names: Sequence[str]) -> dict[str, NDArray[Any]]:
    """The tensors ``names`` of one file as writable numpy arrays (any dtype of core's table, float8 included)."""
    header = read_header(path)
    arrays: dict[str, NDArray[Any]] = {}
    fd = os.open(path, os.O_RDONLY)
    try:
        for name in names:
            info, dtype, offset = _locate(path, header, name)
            arrays[name] = np.frombuffer(_pread(fd, info.nbytes, offset, path), dtype=dtype).reshape(info.shape)
    finally:
        os.close(fd)
    return arrays


def _bounds(index: Index, shape: tuple[int, ...]) -> list[tuple[int, int]]:
    if len(index) != len(shape):
        raise IndexError(f"index {index} does not fit shape {shape}")
    bounds = []
    for part, size in zip(index, shape, strict=True):
        start, stop, step = part.indices(size)
        if step != 1:
            raise IndexError(f"only contiguous slices can be read, got {part}")
        bounds.append((start, max(start, stop)))
    return bounds


def read_numpy_slice(path: Path, name: str, index: Index) -> NDArray[Any]:
    """``tensor[index]`` of tensor ``name``, reading blocks of leading-axis rows: never the whole tensor at once."""
    header = read_header(path)
    info, dtype, offset = _locate(path, header, name)
    if not info.shape:
        return read_numpy(path, [name])[name]
    bounds = _bounds(index, info.shape)
    out = np.empty(tuple(stop - start for start, stop in bounds), dtype=dtype)
    row_items = math.prod(info.shape[1:])
    row_bytes = row_items * dtype.itemsize
    (first, last), rest = bounds[0], tuple(slice(start, stop) for start, stop in bounds[1:])
    block = max(1, _BLOCK_BYTES // max(1, row_bytes))
    fd = os.open(path, os.O_RDONLY)
    try:
        for row in range(first, last, block):
            rows = min(block, last - row)
            data = _pread(fd, rows * row_bytes, offset + row * row_bytes, path)
            chunk = np.frombuffer(data, dtype=dtype).reshape((rows, *info.shape[1:]))
            out[row - first : row - first + rows] = chunk[(slice(None), *rest)]
    finally:
        os.close(fd)
    return out
