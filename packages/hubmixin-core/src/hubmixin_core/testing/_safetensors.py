"""The ``safetensors`` field of a model's info: its parameter count by dtype and in total, as the Hub reports it.

Read from the headers of the revision's ``model.safetensors``, or of the shards its ``model.safetensors.index.json``
names. A repository without them, or whose headers cannot be read, gets no such field.
"""

from __future__ import annotations

import json
import struct
from collections import Counter
from collections.abc import Iterable
from itertools import chain

from hubmixin_core.testing._http import Exchange, HubError
from hubmixin_core.testing._storage import FileEntry, Repo
from hubmixin_core.testing.xet._data import xet_content
from hubmixin_core.weights._names import SAFETENSORS_INDEX_NAME, SAFETENSORS_SINGLE_FILE

__all__ = ["safetensors_info"]

SINGLE_FILE = SAFETENSORS_SINGLE_FILE
INDEX_FILE = SAFETENSORS_INDEX_NAME
_MAX_HEADER = 25_000_000  # huggingface_hub's limit for a safetensors header
_MAX_INDEX = 10 * 1024 * 1024
_MAX_COUNT = 2**64 - 1  # the Hub counts in unsigned 64-bit integers: it reports no larger count


class _Unreadable(Exception):
    """A weights file or index that is missing, malformed or too large."""


def safetensors_info(ex: Exchange, repo: Repo, files: dict[str, FileEntry]) -> dict[str, object] | None:
    """``{"parameters": {dtype: count}, "total": count}`` for the weights of a commit's ``files``, else ``None``."""
    if SINGLE_FILE not in files and INDEX_FILE not in files:
        return None
    try:
        paths = {SINGLE_FILE} if SINGLE_FILE in files else _shards(ex, repo, files[INDEX_FILE])
        parameters = _parameters(_header(ex, repo, _entry(files, path)) for path in sorted(paths))
    except _Unreadable:
        return None
    total = sum(parameters.values())
    return None if total > _MAX_COUNT else {"parameters": parameters, "total": total}


def _parameters(headers: Iterable[dict[str, object]]) -> dict[str, int]:
    """The number of parameters of each dtype in safetensors headers."""
    counts: Counter[str] = Counter()
    for name, tensor in chain.from_iterable(header.items() for header in headers):
        if name != "__metadata__":
            counts[_dtype(tensor)] += _count(tensor)
    return dict(counts)


def _entry(files: dict[str, FileEntry], path: str) -> FileEntry:
    if path not in files:
        raise _Unreadable(path)
    return files[path]


def _read(ex: Exchange, repo: Repo, entry: FileEntry, start: int, length: int) -> bytes:
    """Bytes ``[start, start + length)`` of a file, from its blob or its Xet storage."""
    if start + length > entry.size:
        raise _Unreadable(entry.path)
    blob = ex.app.blobs.path(entry.sha256)
    if blob.is_file():
        with blob.open("rb") as file:
            file.seek(start)
            return file.read(length)
    xet_file = ex.app.xet.repo_file(repo.id, entry.sha256) if entry.lfs else None
    if xet_file is None:
        raise _Unreadable(entry.path)
    try:
        return b"".join(xet_content(ex, xet_file, start, length))
    except HubError as exc:  # the ``hub`` extra (Xet storage) is missing
        raise _Unreadable(entry.path) from exc


def _json_object(data: bytes, path: str) -> dict[str, object]:
    try:
        value = json.loads(data)
    except (ValueError, RecursionError) as exc:  # (a deeply nested header: the real Hub omits the field too)
        raise _Unreadable(path) from exc
    if not isinstance(value, dict):
        raise _Unreadable(path)
    return value


def _header(ex: Exchange, repo: Repo, entry: FileEntry) -> dict[str, object]:
    (length,) = struct.unpack("<Q", _read(ex, repo, entry, 0, 8)) if entry.size >= 8 else (0,)
    if not 0 < length <= _MAX_HEADER:
        raise _Unreadable(entry.path)
    return _json_object(_read(ex, repo, entry, 8, length), entry.path)


def _shards(ex: Exchange, repo: Repo, entry: FileEntry) -> set[str]:
    if entry.size > _MAX_INDEX:
        raise _Unreadable(entry.path)
    weight_map = _json_object(_read(ex, repo, entry, 0, entry.size), entry.path).get("weight_map")
    if not isinstance(weight_map, dict) or not all(isinstance(shard, str) for shard in weight_map.values()):
        raise _Unreadable(entry.path)
    return {str(shard) for shard in weight_map.values()}


def _dtype(tensor: object) -> str:
    dtype = tensor.get("dtype") if isinstance(tensor, dict) else None
    if not isinstance(dtype, str):
        raise _Unreadable("tensor dtype")
    return dtype


def _count(tensor: object) -> int:
    shape = tensor.get("shape") if isinstance(tensor, dict) else None
    if not isinstance(shape, list) or not all(isinstance(n, int) and n >= 0 for n in shape):
        raise _Unreadable("tensor shape")
    if 0 in shape:
        return 0
    count = 1
    for n in shape:  # (stopped at the first overflow: a long shape of large dimensions would take long)
        count *= n
        if count > _MAX_COUNT:
            raise _Unreadable("tensor shape")
    return count
