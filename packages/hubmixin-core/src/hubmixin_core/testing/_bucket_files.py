"""Reading a bucket's files: ``GET /api/buckets/{id}/tree[/{prefix}]``, ``POST /api/buckets/{id}/paths-info`` and
``HEAD``/``GET /buckets/{id}/resolve/{path}``.

A tree's prefix is matched as a string, as on the Hub (``logs`` also lists ``logs.json`` and ``logs_old/...``).
Without ``recursive`` (or with ``recursive=true``) the listing holds every file under it; with ``recursive=false``
the entries one level below the prefix taken as a folder: files, and folders (``directory`` entries, dated by their
latest upload). ``resolve`` answers the Xet headers Xet clients download with (``X-Xet-Hash``, a refresh route to
the bucket's read token) and, for a ``GET``, the bytes, reconstructed from the Xet storage (``Range`` honoured).
"""

from __future__ import annotations

import mimetypes
from datetime import UTC, datetime
from urllib.parse import quote

from hubmixin_core.testing._bucket_api import readable_bucket
from hubmixin_core.testing._buckets import BucketEntry
from hubmixin_core.testing._download import parse_range
from hubmixin_core.testing._http import Exchange, HubError, entry_not_found
from hubmixin_core.testing._tree import send_page
from hubmixin_core.testing.xet._data import xet_content

__all__ = [
    "file_json",
    "handle_bucket_paths_info",
    "handle_bucket_resolve",
    "handle_bucket_tree",
    "mtime_iso",
]


def mtime_iso(mtime_ms: int) -> str:
    """A time in milliseconds since the epoch in the Hub's format (``2024-01-31T12:00:00.123Z``)."""
    seconds, millis = divmod(mtime_ms, 1000)
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S") + f".{millis:03d}Z"


def file_json(entry: BucketEntry) -> dict[str, object]:
    """A bucket file as the tree and paths-info routes describe it."""
    return {
        "type": "file",
        "path": entry.path,
        "size": entry.size,
        "xetHash": entry.xet_hash,
        "mtime": mtime_iso(entry.mtime),
        "uploadedAt": entry.uploaded_at,
    }


def _one_level(entries: list[BucketEntry], prefix: str) -> list[object]:
    """The files and folders one level below ``prefix`` (a folder, whether or not it ends with ``/``)."""
    depth = prefix.rstrip("/").count("/") + 1 if prefix.rstrip("/") else 0
    folders: dict[str, str] = {}  # folder path -> latest upload
    items: dict[str, object] = {}
    for entry in entries:
        parts = entry.path.split("/")
        if len(parts) <= depth + 1:
            items[entry.path] = file_json(entry)
            continue
        folder = "/".join(parts[: depth + 1])
        folders[folder] = max(folders.get(folder, ""), entry.uploaded_at)
    for folder, uploaded_at in folders.items():
        items[f"{folder}/"] = {"type": "directory", "path": folder, "uploadedAt": uploaded_at}
    return [items[key] for key in sorted(items)]


def handle_bucket_tree(ex: Exchange) -> None:
    """``GET /api/buckets/{id}/tree[/{prefix}][?recursive=]`` (paginated)."""
    bucket = readable_bucket(ex)
    prefix = ex.match.path
    entries = ex.app.buckets.files(bucket, prefix)
    if ex.query_value("recursive") is None or ex.query_flag("recursive"):
        send_page(ex, [file_json(entry) for entry in entries])
    else:
        send_page(ex, _one_level(entries, prefix))


def handle_bucket_paths_info(ex: Exchange) -> None:
    """``POST /api/buckets/{id}/paths-info`` ``{"paths": [...]}``: the files among ``paths`` (others are left out)."""
    bucket = readable_bucket(ex)
    body = ex.read_json()
    paths = body.get("paths") if isinstance(body, dict) else None
    if not isinstance(paths, list) or not all(isinstance(path, str) for path in paths):
        raise HubError(400, "Expected a JSON object {'paths': [string, ...]}")
    found = (ex.app.buckets.file(bucket, path) for path in dict.fromkeys(paths))
    ex.send_json([file_json(entry) for entry in found if entry is not None])


def handle_bucket_resolve(ex: Exchange) -> None:
    """``HEAD``/``GET /buckets/{id}/resolve/{path}``: a file's metadata, and its content for ``GET``."""
    bucket = readable_bucket(ex)
    path = ex.match.path
    entry = ex.app.buckets.file(bucket, path)
    if entry is None:
        raise entry_not_found(path, None)
    filename = path.rsplit("/", 1)[-1]
    refresh_route = f"{ex.endpoint}/api/buckets/{bucket.key.repo_id}/xet-read-token"
    headers = {
        "ETag": f'"{entry.xet_hash}"',
        "X-Xet-Hash": entry.xet_hash,
        "X-Xet-Refresh-Route": refresh_route,
        "X-Linked-Size": str(entry.size),
        "Accept-Ranges": "bytes",
        "Content-Type": entry.content_type or mimetypes.guess_type(filename)[0] or "application/octet-stream",
        "Content-Disposition": f"inline; filename*=UTF-8''{quote(filename)}",
    }
    span = parse_range(ex.handler.headers.get("Range"), entry.size) if entry.size else None
    status, (start, length) = (200, (0, entry.size)) if span is None else (206, span)
    if span is not None:
        headers["Content-Range"] = f"bytes {start}-{start + length - 1}/{entry.size}"
    if ex.method == "HEAD" or length == 0:
        ex.start(status, {**headers, "Content-Length": str(length)})
        return
    xet_file = ex.app.xet.file(entry.xet_hash)
    if xet_file is None:
        raise HubError(500, f"Xet file {entry.xet_hash} of {path!r} is missing from the Xet storage")
    pieces = xet_content(ex, xet_file, start, length)  # 501 here, before any header, without the hub extra
    ex.start(status, {**headers, "Content-Length": str(length)})
    for piece in pieces:
        ex.write(piece)
