"""Reading safetensors tensors as numpy arrays: whole, or one slice, without mapping the file.

Data is read with ``pread`` into arrays this process owns, so a tensor costs its own size in memory and a slice
costs only the slice (plus one bounded block of rows), whatever the slice's layout.
"""

from __future__ import annotations

import ctypes
import functools
import math
import mmap
import os
import sys
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from hubmixin_core.errors import HubMixinIndexError, WeightsFileError
from hubmixin_core.weights._dtypes import numpy_dtype
from hubmixin_core.weights._header import Header, TensorInfo, shared_header

__all__ = ["Index", "aligned_empty", "read_numpy", "read_numpy_slice", "read_raw"]

Index = tuple[slice, ...]
"""One contiguous slice per dimension (as ``jax.make_array_from_callback`` gives a shard's index)."""

_BLOCK_BYTES = 16 * 1024 * 1024
_ALIGN = 64
_PAGE = 4096
_MAPPED_FROM = 1 << 20
_PIECE_BYTES = 16 * 1024 * 1024
_PARALLEL_FROM = 64 * 1024 * 1024
_MAX_READERS = 16  # on 16 cores, 1 GiB from the page cache: 0.18 s with 4 readers, 0.13 s with 8 (16: unmeasured)


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


def aligned_empty(shape: tuple[int, ...], dtype: np.dtype[Any]) -> NDArray[Any]:
    """An uninitialised C-order array whose data starts on a 64-byte boundary.

    Frameworks can then use the memory as it is (JAX on CPU takes a 64-byte aligned array without a copy).
    """
    nbytes = math.prod(shape) * dtype.itemsize
    if nbytes >= _MAPPED_FROM and hasattr(mmap, "MAP_ANONYMOUS"):  # (not on Windows)
        # Anonymous memory of our own, page-aligned: numpy would advise huge pages for a large array, and the
        # kernel may then stall compacting memory on the first touch (seconds per gigabyte on a busy machine).
        flags = mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS  # pages are faulted in by the readers, in parallel
        mapped = np.frombuffer(mmap.mmap(-1, nbytes, flags=flags), dtype=np.uint8)
        return mapped.view(dtype).reshape(shape)
    raw = np.empty(nbytes + _ALIGN, dtype=np.uint8)
    start = -raw.ctypes.data % _ALIGN
    return raw[start : start + nbytes].view(dtype).reshape(shape)


@functools.cache  # looked up at the first large read, not at import
def _libc_madvise() -> Any:
    if sys.platform != "linux":  # the advice number below is Linux's
        return None
    try:
        madvise = ctypes.CDLL(None, use_errno=True).madvise
    except (OSError, AttributeError):
        return None
    madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    madvise.restype = ctypes.c_int
    return madvise


_MADV_POPULATE_WRITE = 23  # Linux 5.14+: the kernel faults the range in, writable, in one call


def _fault_in(flat: NDArray[np.uint8]) -> None:
    """Fault in the pages of ``flat`` before reading into them: ``preadv`` into unfaulted memory is several times
    slower. One ``madvise`` where the kernel has it (about 30% faster than touching each page), else a touch."""
    start = flat.ctypes.data
    first = -start % _PAGE
    length = (flat.size - first) // _PAGE * _PAGE
    madvise = _libc_madvise() if length >= _MAPPED_FROM else None
    if madvise is not None and madvise(start + first, length, _MADV_POPULATE_WRITE) == 0:
        flat[0] = flat[-1] = 0  # the partial pages at either end
        return
    flat[::_PAGE] = 0


def _read_at(fd: int, path: Path, view: memoryview, offset: int) -> int:
    """Read into ``view`` from ``offset`` of the file; returns the number of bytes read (0 at its end)."""
    if hasattr(os, "preadv"):
        return os.preadv(fd, [view], offset)
    with open(path, "rb", buffering=0) as file:  # Windows has no positional reads: a handle per read
        file.seek(offset)
        return file.readinto(view) or 0


def _pread_into(fd: int, target: NDArray[Any], offset: int, path: Path) -> None:
    """Fill the contiguous array ``target`` with the file's bytes from ``offset``."""
    flat = target.reshape(-1).view(np.uint8)
    if flat.size:
        _fault_in(flat)
    view = flat.data
    done, size = 0, view.nbytes
    while done < size:
        n = _read_at(fd, path, view[done:], offset + done)
        if n == 0:
            raise WeightsFileError(f"{path}: truncated: expected {size} bytes at offset {offset}")
        done += n


def _usable_cpus() -> int:
    """CPUs this process may run on (its affinity mask, as in a container limited to some cores)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _read_all(path: Path, jobs: Sequence[tuple[NDArray[Any], int]]) -> None:
    """Fill each contiguous ``(target, file offset)`` of ``jobs`` from the file.

    A large read is cut into pieces read by up to one thread per CPU, at most sixteen (``preadv`` and page faults
    run without the GIL): one thread cannot keep up with memory on a multi-core machine.
    """
    pieces = []
    for target, offset in jobs:
        flat = target.reshape(-1).view(np.uint8)
        pieces += [(flat[i : i + _PIECE_BYTES], offset + i) for i in range(0, flat.size, _PIECE_BYTES)]
    total = sum(piece.size for piece, _ in pieces)
    readers = min(_MAX_READERS, _usable_cpus(), len(pieces))
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
    try:
        if total < _PARALLEL_FROM or readers < 2:
            for piece, offset in pieces:
                _pread_into(fd, piece, offset, path)
            return
        with ThreadPoolExecutor(readers, thread_name_prefix="hubmixin-read") as pool:
            for done in [pool.submit(_pread_into, fd, piece, offset, path) for piece, offset in pieces]:
                done.result()
    finally:
        os.close(fd)


def read_numpy(path: Path, names: Sequence[str]) -> dict[str, NDArray[Any]]:
    """The tensors ``names`` of one file as writable numpy arrays (any dtype of core's table, float8 included)."""
    header = shared_header(path)
    arrays: dict[str, NDArray[Any]] = {}
    jobs = []
    for name in names:
        info, dtype, offset = _locate(path, header, name)
        arrays[name] = aligned_empty(info.shape, dtype)
        jobs.append((arrays[name], offset))
    _read_all(path, jobs)
    return arrays


def read_raw(path: Path, names: Sequence[str]) -> dict[str, NDArray[np.uint8]]:
    """The stored bytes of tensors ``names`` of one file, each in a fresh 64-byte aligned ``uint8`` array.

    For a framework that views bytes as its own dtypes (torch's bfloat16 has no numpy equivalent).
    """
    header = shared_header(path)
    raw: dict[str, NDArray[np.uint8]] = {}
    jobs: list[tuple[NDArray[Any], int]] = []
    for name in names:
        info, _, offset = _locate(path, header, name)
        raw[name] = aligned_empty((info.nbytes,), np.dtype(np.uint8))
        jobs.append((raw[name], offset))
    _read_all(path, jobs)
    return raw


def _bounds(index: Index, shape: tuple[int, ...]) -> list[tuple[int, int]]:
    if len(index) != len(shape):
        raise HubMixinIndexError(f"index {index} does not fit shape {shape}")
    bounds = []
    for part, size in zip(index, shape, strict=True):
        start, stop, step = part.indices(size)
        if step != 1:
            raise HubMixinIndexError(f"only contiguous slices can be read, got {part}")
        bounds.append((start, max(start, stop)))
    return bounds


def read_numpy_slice(path: Path, name: str, index: Index) -> NDArray[Any]:
    """``tensor[index]`` of tensor ``name``, reading blocks of leading-axis rows: never the whole tensor at once."""
    header = shared_header(path)
    info, dtype, offset = _locate(path, header, name)
    if not info.shape:
        return read_numpy(path, [name])[name]
    bounds = _bounds(index, info.shape)
    out = aligned_empty(tuple(stop - start for start, stop in bounds), dtype)
    row_bytes = math.prod(info.shape[1:]) * dtype.itemsize
    (first, last), rest = bounds[0], tuple(slice(start, stop) for start, stop in bounds[1:])
    whole_rows = all((start, stop) == (0, size) for (start, stop), size in zip(bounds[1:], info.shape[1:], strict=True))
    if whole_rows:  # one contiguous range of the file: read straight into the result
        _read_all(path, [(out, offset + first * row_bytes)])
        return out
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
    try:
        block = max(1, _BLOCK_BYTES // max(1, row_bytes))
        buffer = np.empty((min(block, last - first), *info.shape[1:]), dtype=dtype)
        for row in range(first, last, block):
            rows = min(block, last - row)
            _pread_into(fd, buffer[:rows], offset + row * row_bytes, path)
            out[row - first : row - first + rows] = buffer[(slice(0, rows), *rest)]
    finally:
        os.close(fd)
    return out
