"""The download handler: ``HEAD``/``GET /{repo}/resolve/{rev}/{path}`` with the headers the client relies on.

The files of a gated repository are for those given access (`require_file_access`), its card excepted.
"""

from __future__ import annotations

import mimetypes
import re
from urllib.parse import quote

from hubmixin_core.testing._access import (
    UNGATED_FILES,
    has_file_access,
    readable_repo,
    require_file_access,
    resolve_revision,
    safe_path,
)
from hubmixin_core.testing._http import Exchange, HubError, entry_not_found
from hubmixin_core.testing.xet._data import xet_content, xet_file_headers

__all__ = ["handle_resolve", "parse_range"]

_RANGE = re.compile(r"bytes=([0-9]*)-([0-9]*)")
_HUGE = 1 << 62  # an offset of more than 18 digits: beyond the end of any file (and no huge int() parse)


def _offset(digits: str) -> int:
    return int(digits) if len(digits) <= 18 else _HUGE


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """``(start, length)`` of a single ``Range: bytes=...`` header; ``None`` for the whole file.

    Raises ``HubError(416)`` when the range cannot be satisfied. Multi-range requests get the whole file.
    """
    if not header:
        return None
    match = _RANGE.fullmatch(header.strip())
    if match is None:
        return None
    first, last = match.groups()
    if first:
        start = _offset(first)
        end = min(_offset(last), size - 1) if last else size - 1
    elif last:
        start, end = max(size - _offset(last), 0), size - 1
    else:
        return None
    if start >= size or end < start:
        headers = {"Content-Range": f"bytes */{size}"}
        raise HubError(416, f"Range {header!r} not satisfiable for {size} bytes", headers=headers)
    return start, end - start + 1


def handle_resolve(ex: Exchange) -> None:
    """Serve a file (or its metadata for ``HEAD``): streamed, resumable with ``Range``."""
    repo = readable_repo(ex, ex.match.repo)
    if ex.match.path not in UNGATED_FILES:
        require_file_access(ex, repo)
    commit = resolve_revision(ex, repo, ex.match.revision)
    path = safe_path(ex.match.path)
    entry = ex.app.storage.file(repo, commit, path)
    if entry is None:
        raise entry_not_found(path, commit)
    if entry.lfs and ex.app.storage.lfs_size(repo, entry.sha256) is None:  # see permanently_delete_lfs_files
        error = entry_not_found(path, commit)
        raise HubError(404, f"{error.message}: its LFS object was deleted", code=error.code, headers=error.headers)
    etag = f'"{entry.sha256 if entry.lfs else entry.git_oid}"'
    filename = path.rsplit("/", 1)[-1]
    headers = {
        "X-Repo-Commit": commit,
        "ETag": etag,
        "Accept-Ranges": "bytes",
        "Content-Type": mimetypes.guess_type(filename)[0] or "application/octet-stream",
        "Content-Disposition": f"inline; filename*=UTF-8''{quote(filename)}",
    }
    if entry.lfs:
        headers.update({"X-Linked-Etag": etag, "X-Linked-Size": str(entry.size)})
    xet_file, xet_headers = xet_file_headers(ex, repo, commit, entry.sha256) if entry.lfs else (None, {})
    if has_file_access(ex.app, ex.user, repo):  # else an ungated card: its Xet read token would be refused
        headers.update(xet_headers)  # uploaded through Xet: Xet clients download through the CAS
    try:
        span = parse_range(ex.handler.headers.get("Range"), entry.size)
    except HubError as error:
        error.headers.update({"X-Repo-Commit": commit, "ETag": etag})
        raise
    status, (start, length) = (200, (0, entry.size)) if span is None else (206, span)
    if span is not None:
        headers["Content-Range"] = f"bytes {start}-{start + length - 1}/{entry.size}"
    blob = ex.app.blobs.path(entry.sha256)
    if xet_file is not None and not blob.is_file():  # plain download of a Xet file: reconstruct it
        pieces = xet_content(ex, xet_file, start, length)
        ex.start(status, {**headers, "Content-Length": str(length)})
        if ex.method == "GET":
            for piece in pieces:
                ex.write(piece)
        return
    if not blob.is_file():
        raise HubError(500, f"Blob of {path!r} is missing from the store")
    ex.start(status, {**headers, "Content-Length": str(length)})
    if ex.method == "GET" and length:
        ex.send_file(blob, start, length)
