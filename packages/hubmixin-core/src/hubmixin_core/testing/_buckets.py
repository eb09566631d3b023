"""Buckets storage: mutable, unversioned file storage of a namespace, its files kept in Xet storage.

A bucket is a row of the ``repos`` table of type ``bucket`` (`RepoKey("bucket", namespace, name)`): it shares the
ids of repositories, so Xet access tokens, the ownership of Xet files (``repo_files`` of `XetStore`), renames and
visibility work for both alike. Its files are rows of ``bucket_files``: a path, the Xet hash of the content, its size,
the client's modification time (milliseconds), the upload time and an optional content type. There is no history:
adding a path replaces it, deleting it drops the row.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from hubmixin_core.testing._storage import Repo, RepoKey, Storage, insert_repo, now_iso, repo_columns, repo_from_row

__all__ = ["BUCKET", "BucketEntry", "BucketStore"]

BUCKET = "bucket"
"""The ``repos.type`` of buckets."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS bucket_files (
    bucket_id INTEGER NOT NULL, path TEXT NOT NULL, xet_hash TEXT NOT NULL, size INTEGER NOT NULL,
    mtime INTEGER NOT NULL, uploaded_at TEXT NOT NULL, content_type TEXT, PRIMARY KEY (bucket_id, path));
CREATE INDEX IF NOT EXISTS bucket_files_by_hash ON bucket_files (bucket_id, xet_hash);
"""
_FILE_COLUMNS = "path, xet_hash, size, mtime, uploaded_at, content_type"


@dataclass(frozen=True)
class BucketEntry:
    """A file of a bucket: ``mtime`` in milliseconds since the epoch (as the client sends it)."""

    path: str
    xet_hash: str
    size: int
    mtime: int
    uploaded_at: str
    content_type: str | None = None


def _entry(row: Sequence[object]) -> BucketEntry:
    path, xet_hash, size, mtime, uploaded_at, content_type = row
    kind = None if content_type is None else str(content_type)
    return BucketEntry(str(path), str(xet_hash), int(str(size)), int(str(mtime)), str(uploaded_at), kind)


class BucketStore:
    """Buckets and their files, in the metadata database of `Storage` (same connection and lock)."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        with storage._lock:
            storage._db.executescript(_SCHEMA)

    # Buckets

    def create(self, namespace: str, name: str, *, private: bool) -> Repo | None:
        """A new empty bucket; ``None`` if the namespace has one with that name."""
        key = RepoKey(BUCKET, namespace, name)
        created = now_iso()
        with self.storage._tx() as db:
            bucket_id = insert_repo(db, key, private=private, created=created)
        return None if bucket_id is None else Repo(bucket_id, key, private, created)

    def get(self, namespace: str, name: str) -> Repo | None:
        """The bucket ``namespace/name``, if any."""
        return self.storage.get_repo(RepoKey(BUCKET, namespace, name))

    def in_namespace(self, namespace: str) -> list[Repo]:
        """The buckets of ``namespace``, newest first."""
        rows = self.storage._all(
            f"SELECT {repo_columns()} FROM repos WHERE type = ? AND namespace = ? ORDER BY id DESC", BUCKET, namespace
        )
        return [repo_from_row(row) for row in rows]

    def delete(self, bucket: Repo) -> None:
        """Delete the bucket and its files (their Xet content stays: other buckets and repositories may share it)."""
        self.storage.delete_repo(bucket, also=("bucket_files", "bucket_id"))

    def usage(self, bucket: Repo) -> tuple[int, int]:
        """``(file count, total size in bytes)`` of the bucket."""
        row = self.storage._one(
            "SELECT COUNT(*), COALESCE(SUM(size), 0) FROM bucket_files WHERE bucket_id = ?", bucket.id
        )
        return (0, 0) if row is None else (int(str(row[0])), int(str(row[1])))

    # Files

    def files(self, bucket: Repo, prefix: str = "") -> list[BucketEntry]:
        """The files whose path starts with ``prefix`` (as a string, not a folder), by path."""
        rows = self.storage._all(
            f"SELECT {_FILE_COLUMNS} FROM bucket_files WHERE bucket_id = ? AND substr(path, 1, ?) = ? ORDER BY path",
            bucket.id,
            len(prefix),
            prefix,
        )
        return [_entry(row) for row in rows]

    def file(self, bucket: Repo, path: str) -> BucketEntry | None:
        """The file at ``path``, if any."""
        row = self.storage._one(
            f"SELECT {_FILE_COLUMNS} FROM bucket_files WHERE bucket_id = ? AND path = ?", bucket.id, path
        )
        return None if row is None else _entry(row)

    def has_hash(self, bucket: Repo, xet_hash: str) -> bool:
        """Whether a file of the bucket has this Xet hash."""
        row = self.storage._one("SELECT 1 FROM bucket_files WHERE bucket_id = ? AND xet_hash = ?", bucket.id, xet_hash)
        return row is not None

    def put(self, bucket: Repo, entry: BucketEntry) -> None:
        """Add the file, replacing the one at its path."""
        with self.storage._tx() as db:
            db.execute(
                f"INSERT OR REPLACE INTO bucket_files (bucket_id, {_FILE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (bucket.id, entry.path, entry.xet_hash, entry.size, entry.mtime, entry.uploaded_at, entry.content_type),
            )

    def remove(self, bucket: Repo, path: str) -> bool:
        """Delete the file at ``path``; ``False`` if there was none."""
        with self.storage._tx() as db:
            cursor = db.execute("DELETE FROM bucket_files WHERE bucket_id = ? AND path = ?", (bucket.id, path))
            return cursor.rowcount > 0
