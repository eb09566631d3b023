"""Writing a bucket's files: ``POST /api/buckets/{id}/batch``, an NDJSON body of operations.

- ``{"type": "addFile", "path", "xetHash", "mtime", "contentType"}``: a file uploaded beforehand through Xet with a
  write token of this bucket (the client does that first); its size comes from the Xet storage. A hash that was
  never uploaded to the bucket fails.
- ``{"type": "copyFile", "path", "xetHash", "mtime", "sourceRepoType", "sourceRepoId"}``: a file of a bucket or
  repository the caller may read (the hash must be one of its Xet files), copied without any transfer.
- ``{"type": "deleteFile", "path"}``: deleting a path that holds no file does nothing.

``mtime`` is in milliseconds since the epoch (now when absent). Operations apply in order, each on its own (no
transaction, as on the Hub): those that fail are listed in the answer's ``failed`` (``{"path", "error"}``), which is a
200 when some succeeded and a 422 when all failed. A malformed body (lines that are not JSON objects, an unknown
operation) is refused whole with a 400.
"""

from __future__ import annotations

import re
import time

from hubmixin_core.testing._access import can_read, has_file_access
from hubmixin_core.testing._bucket_api import writable_bucket
from hubmixin_core.testing._buckets import BUCKET, BucketEntry
from hubmixin_core.testing._gitmeta import InvalidPathError, validate_repo_path
from hubmixin_core.testing._http import Exchange, HubError, parse_json
from hubmixin_core.testing._storage import Repo, RepoKey, now_iso

__all__ = ["EMPTY_XET_HASH", "handle_bucket_batch"]

EMPTY_XET_HASH = "0" * 64
"""The Xet hash of empty content (Xet stores nothing for it)."""

_XET_HASH = re.compile(r"[0-9a-fA-F]{64}")
_MAX_MTIME = 253402300799999  # 9999-12-31T23:59:59.999Z
_SOURCE_TYPES = ("model", "dataset", "space", BUCKET)

Operation = dict[str, object]


class _Failed(Exception):
    """An operation that cannot apply; its message goes to the answer's ``failed`` list."""


def _path(op: Operation) -> str:
    path = op.get("path")
    if not isinstance(path, str):
        raise _Failed("'path' must be a string")
    try:
        return validate_repo_path(path)
    except InvalidPathError as exc:
        raise _Failed(str(exc)) from exc


def _xet_hash(op: Operation) -> str:
    value = op.get("xetHash")
    if not isinstance(value, str) or not _XET_HASH.fullmatch(value):
        raise _Failed(f"'xetHash' must be 64 hex digits, not {value!r}")
    return value.lower()


def _mtime(op: Operation) -> int:
    value = op.get("mtime")
    if value is None:
        return int(time.time() * 1000)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= _MAX_MTIME:
        raise _Failed(f"'mtime' must be milliseconds since the epoch, not {value!r}")
    return value


def _entry(op: Operation, size: int, content_type: object = None) -> BucketEntry:
    if content_type is not None and not isinstance(content_type, str):
        raise _Failed("'contentType' must be a string")
    return BucketEntry(_path(op), _xet_hash(op), size, _mtime(op), now_iso(), content_type)


def _add(ex: Exchange, bucket: Repo, op: Operation) -> None:
    xet_hash = _xet_hash(op)
    size = 0
    if xet_hash != EMPTY_XET_HASH:
        file = ex.app.xet.file(xet_hash)
        if file is None or not ex.app.xet.repo_has_file(bucket.id, xet_hash):
            raise _Failed(f"Xet file {xet_hash} was never uploaded to this bucket: upload it through Xet first")
        size = file.size
    ex.app.buckets.put(bucket, _entry(op, size, op.get("contentType")))


def _source(ex: Exchange, op: Operation) -> Repo:
    """The bucket or repository a copy reads from, if the caller may read its files."""
    kind, source_id = op.get("sourceRepoType"), op.get("sourceRepoId")
    if kind not in _SOURCE_TYPES or not isinstance(source_id, str):
        raise _Failed(f"'sourceRepoType' must be one of {list(_SOURCE_TYPES)} and 'sourceRepoId' a string")
    namespace, _, name = source_id.partition("/")
    source = ex.app.storage.get_repo(RepoKey(str(kind), namespace, name))
    if source is None or not can_read(ex, source):
        raise _Failed(f"Source {kind} {source_id} not found")
    if not has_file_access(ex.app, ex.user, source):
        raise _Failed(f"Access to the files of {kind} {source_id} is restricted (gated repository)")
    return source


def _copy(ex: Exchange, bucket: Repo, op: Operation) -> None:
    xet_hash = _xet_hash(op)
    source = _source(ex, op)
    if source.key.type == BUCKET:
        held = ex.app.buckets.has_hash(source, xet_hash)
    else:
        held = xet_hash == EMPTY_XET_HASH or ex.app.xet.repo_has_file(source.id, xet_hash)
    file = ex.app.xet.file(xet_hash)
    if not held or (file is None and xet_hash != EMPTY_XET_HASH):
        raise _Failed(f"{source.key.type} {source.key.repo_id} has no file with Xet hash {xet_hash}")
    if file is not None:
        ex.app.xet.put_file(bucket.id, file)  # the bucket's readers may now fetch it from the Xet storage
    ex.app.buckets.put(bucket, _entry(op, 0 if file is None else file.size))


def _delete(ex: Exchange, bucket: Repo, op: Operation) -> None:
    path = op.get("path")
    if not isinstance(path, str):
        raise _Failed("'path' must be a string")
    ex.app.buckets.remove(bucket, path)


_APPLY = {"addFile": _add, "copyFile": _copy, "deleteFile": _delete}


def _parse(data: bytes) -> list[Operation]:
    operations: list[Operation] = []
    for number, line in enumerate(data.splitlines(), 1):
        if not line.strip():
            continue
        op = parse_json(line, f"batch line {number}")
        if not isinstance(op, dict) or op.get("type") not in _APPLY:
            raise HubError(400, f"Batch line {number}: expected an object whose 'type' is one of {sorted(_APPLY)}")
        operations.append(op)
    return operations


def handle_bucket_batch(ex: Exchange) -> None:
    """``POST /api/buckets/{id}/batch`` (NDJSON): add, copy and delete files; ``{"failed": [...]}``."""
    bucket = writable_bucket(ex)
    operations = _parse(ex.read_limited(ex.app.max_json_bytes, "Batch body"))
    failed: list[dict[str, str]] = []
    for op in operations:
        try:
            _APPLY[str(op["type"])](ex, bucket, op)
        except _Failed as exc:
            path = op.get("path")
            failed.append({"path": path if isinstance(path, str) else "", "error": str(exc)})
    status = 422 if operations and len(failed) == len(operations) else 200
    ex.send_json({"failed": failed}, status)
