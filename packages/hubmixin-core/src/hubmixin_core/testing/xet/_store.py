"""On-disk Xet storage of one server: xorbs (content-addressed, shared by all repos) and file reconstructions.

Layout under ``<hub root>/xet``: ``xorbs/<hh>/<xorb hash>`` (the xorb as uploaded) plus ``.idx`` (chunk index),
and ``xet.sqlite`` (files, which repos hold them, chunk -> xorb lookup for global deduplication). Needs no
third-party module: only the code that checks uploads (`_format`) does.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from hubmixin_core.testing._blobs import lock_upload, remove_orphans
from hubmixin_core.testing._sqlite import SqliteDatabase

__all__ = ["XetFile", "XetStore"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS files (
    file_hash TEXT PRIMARY KEY, sha256 TEXT NOT NULL, size INTEGER NOT NULL, terms BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS files_sha256 ON files (sha256);
CREATE TABLE IF NOT EXISTS repo_files (repo_id INTEGER NOT NULL, file_hash TEXT NOT NULL,
    PRIMARY KEY (repo_id, file_hash));
CREATE TABLE IF NOT EXISTS chunks (chunk_hash TEXT PRIMARY KEY, xorb TEXT NOT NULL);
"""


@dataclass(frozen=True)
class XetFile:
    """A file stored as Xet terms: its Xet hash (hex), sha256 (hex), size and serialized terms."""

    file_hash: str
    sha256: str
    size: int
    terms: bytes


def _store_id(secret: bytes, database: Path) -> str:
    """Names a store in its CAS URL. hf_xet keys its shard cache by that URL and deduplicates uploads against it,
    so other data at the same address must get another URL: a new store has another secret, and a copy of a data
    folder (a restored backup, a template copied per run) has another database file: another inode, or (a file
    put back in place, which may reuse the inode) another change time. A store written since its last start gets a
    new URL too: hf_xet then deduplicates less, but never against xorbs this store lacks. Downloads through an
    earlier URL of this store keep working (see ``_handlers._cas_parts``)."""
    stat = database.stat()
    named = b"cas-url:%s:%d:%d:%d" % (secret, stat.st_dev, stat.st_ino, stat.st_ctime_ns)
    return hashlib.sha256(named).hexdigest()[:16]


class XetStore(SqliteDatabase):
    """Xorbs and file reconstructions under ``root`` (thread-safe)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.xorb_dir = root / "xorbs"
        self.tmp_dir = root / "tmp"
        self.xorb_dir.mkdir(parents=True, exist_ok=True)
        self.tmp_dir.mkdir(parents=True, exist_ok=True)
        remove_orphans(self.tmp_dir, ["xet-", "xorb-"])  # left by a crash in the middle of a write
        super().__init__(root / "xet.sqlite", _SCHEMA, wal=True)
        secret_file = root / "secret"
        if not secret_file.is_file():
            self._write_atomic(secret_file, secrets.token_bytes(32))
        self.secret = secret_file.read_bytes()
        self.store_id = _store_id(self.secret, root / "xet.sqlite")

    def _write_atomic(self, target: Path, data: bytes) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=self.tmp_dir, prefix="xet-")
        lock_upload(fd)
        try:
            with os.fdopen(fd, "wb") as file:
                file.write(data)
            Path(name).replace(target)
        except BaseException:
            Path(name).unlink(missing_ok=True)
            raise

    # Xorbs

    def xorb_path(self, xorb: str) -> Path:
        """Where the serialized xorb lives."""
        return self.xorb_dir / xorb[:2] / xorb

    def has_xorb(self, xorb: str) -> bool:
        """Whether the xorb is stored (with its index)."""
        return self.xorb_path(xorb).with_suffix(".idx").is_file()

    @contextmanager
    def xorb_writer(self) -> Iterator[BinaryIO]:
        """A temp file for an incoming xorb (removed on exit unless `put_xorb` moved it into the store)."""
        fd, name = tempfile.mkstemp(dir=self.tmp_dir, prefix="xorb-")
        os.close(fd)
        try:
            with open(name, "wb") as file:  # its .name is the path put_xorb moves
                lock_upload(file.fileno())
                yield file
        finally:
            Path(name).unlink(missing_ok=True)

    def put_xorb(self, xorb: str, upload: BinaryIO, index: bytes, chunk_hashes: list[str]) -> bool:
        """Move a checked xorb (the file of `xorb_writer`) into the store with its index; ``False`` if known."""
        if self.has_xorb(xorb):
            return False
        path = self.xorb_path(xorb)
        path.parent.mkdir(parents=True, exist_ok=True)
        upload.close()
        Path(upload.name).replace(path)
        self._write_atomic(path.with_suffix(".idx"), index)  # written last: marks the xorb complete
        with self._tx() as db:
            db.executemany("INSERT OR IGNORE INTO chunks VALUES (?, ?)", [(h, xorb) for h in chunk_hashes])
        return True

    def xorb_index(self, xorb: str) -> bytes | None:
        """The stored index of a xorb, ``None`` if unknown."""
        try:
            return self.xorb_path(xorb).with_suffix(".idx").read_bytes()
        except FileNotFoundError:
            return None

    def xorb_of_chunk(self, chunk: str) -> str | None:
        """A xorb holding the chunk (global deduplication)."""
        with self._lock:
            row = self._db.execute("SELECT xorb FROM chunks WHERE chunk_hash = ?", (chunk,)).fetchone()
        return None if row is None else str(row[0])

    # Files

    def put_file(self, repo_id: int, file: XetFile) -> None:
        """Record a file reconstruction and that ``repo_id`` holds it."""
        with self._tx() as db:
            db.execute(
                "INSERT OR IGNORE INTO files VALUES (?, ?, ?, ?)", (file.file_hash, file.sha256, file.size, file.terms)
            )
            db.execute("INSERT OR IGNORE INTO repo_files VALUES (?, ?)", (repo_id, file.file_hash))

    def file(self, file_hash: str) -> XetFile | None:
        """A file by its Xet hash."""
        with self._lock:
            row = self._db.execute("SELECT * FROM files WHERE file_hash = ?", (file_hash,)).fetchone()
        return None if row is None else XetFile(str(row[0]), str(row[1]), int(row[2]), bytes(row[3]))

    def file_with_sha256(self, sha256: str) -> XetFile | None:
        """A Xet file (of any repo) with this sha256, if any."""
        with self._lock:
            row = self._db.execute("SELECT * FROM files WHERE sha256 = ? LIMIT 1", (sha256,)).fetchone()
        return None if row is None else XetFile(str(row[0]), str(row[1]), int(row[2]), bytes(row[3]))

    def repo_file(self, repo_id: int, sha256: str) -> XetFile | None:
        """The Xet file with this sha256 that ``repo_id`` holds, if any."""
        with self._lock:
            row = self._db.execute(
                "SELECT f.* FROM files f JOIN repo_files r ON r.file_hash = f.file_hash "
                "WHERE r.repo_id = ? AND f.sha256 = ? LIMIT 1",
                (repo_id, sha256),
            ).fetchone()
        return None if row is None else XetFile(str(row[0]), str(row[1]), int(row[2]), bytes(row[3]))

    def repo_has_file(self, repo_id: int, file_hash: str) -> bool:
        """Whether a writer of ``repo_id`` uploaded this file to it."""
        with self._lock:
            row = self._db.execute(
                "SELECT 1 FROM repo_files WHERE repo_id = ? AND file_hash = ?", (repo_id, file_hash)
            ).fetchone()
        return row is not None

    def remove_repo_file(self, repo_id: int, sha256: str) -> None:
        """Forget that ``repo_id`` holds the file of this sha256 (file and xorbs stay: other repos may share them)."""
        with self._tx() as db:
            db.execute(
                "DELETE FROM repo_files WHERE repo_id = ? "
                "AND file_hash IN (SELECT file_hash FROM files WHERE sha256 = ?)",
                (repo_id, sha256),
            )

    def stored_bytes(self) -> int:
        """Bytes of xorb data on disk (what deduplication saves shows here)."""
        return sum(path.stat().st_size for path in self.xorb_dir.glob("*/*") if path.suffix != ".idx")
