"""Content-addressed blob store: files named by their sha256, written through temp files."""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType

try:
    import fcntl
except ImportError:  # Windows: a file an upload holds open cannot be deleted anyway
    fcntl = None  # type: ignore[assignment]

__all__ = ["BlobStore", "BlobWriter", "lock_upload", "remove_orphans"]


def lock_upload(fd: int) -> None:
    """Mark a temp file as in use (an exclusive ``flock``) so that `remove_orphans` of another server skips it."""
    if fcntl is not None:
        with contextlib.suppress(OSError):
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)


def remove_orphans(folder: Path, prefixes: Iterable[str]) -> int:
    """Delete the temp files named ``<prefix>*`` in ``folder`` that no process is writing; return how many.

    Uploads cut short by a crash (``kill -9``) leave such files behind; a running upload holds a lock on its
    file (`lock_upload`) and is left alone, so several servers may share a root.
    """
    removed = 0
    for prefix in prefixes:
        for path in folder.glob(f"{prefix}*"):
            try:
                if not _have_locks():
                    path.unlink()  # (Windows refuses while the upload has it open; opened here, it would always)
                else:
                    with path.open("rb") as file:
                        fcntl.flock(file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                        path.unlink()
                removed += 1
            except OSError:  # in use, or gone already
                continue
    return removed


def _have_locks() -> bool:
    """Whether ``flock`` exists here (not on Windows)."""
    return fcntl is not None


UPLOAD_PREFIX = "upload-"
"""Name prefix of the temp files of uploads in progress (``<root>/tmp/upload-*``)."""


class BlobWriter:
    """Streams one blob to a temp file while hashing it; `commit` moves it into the store."""

    def __init__(self, store: BlobStore) -> None:
        self._store = store
        fd, name = tempfile.mkstemp(dir=store.tmp_dir, prefix=UPLOAD_PREFIX)
        lock_upload(fd)
        self._file = os.fdopen(fd, "wb")
        self._path = Path(name)
        self._sha256 = hashlib.sha256()
        self.size = 0

    def write(self, chunk: bytes) -> None:
        """Append ``chunk`` to the blob."""
        self._file.write(chunk)
        self._sha256.update(chunk)
        self.size += len(chunk)

    @property
    def sha256(self) -> str:
        """The sha256 (hex) of what was written so far."""
        return self._sha256.hexdigest()

    def commit(self) -> str:
        """Close the temp file, move it into the store and return its sha256 (hex)."""
        self._file.close()
        sha256 = self.sha256
        target = self._store.path(sha256)
        target.parent.mkdir(parents=True, exist_ok=True)
        self._path.replace(target)
        return sha256

    def discard(self) -> None:
        """Drop the temp file (no-op once committed)."""
        self._file.close()
        self._path.unlink(missing_ok=True)

    def __enter__(self) -> BlobWriter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.discard()


class BlobStore:
    """Blobs under ``root/blobs/<sha[:2]>/<sha256>``; uploads in progress under ``root/tmp``."""

    def __init__(self, root: Path) -> None:
        self.root = root / "blobs"
        self.tmp_dir = root / "tmp"
        self.root.mkdir(parents=True, exist_ok=True)
        self.tmp_dir.mkdir(parents=True, exist_ok=True)
        remove_orphans(self.tmp_dir, [UPLOAD_PREFIX])

    def path(self, sha256: str) -> Path:
        """Where the blob with this sha256 lives (whether or not it exists)."""
        return self.root / sha256[:2] / sha256

    def exists(self, sha256: str) -> bool:
        """Whether the blob is stored."""
        return self.path(sha256).is_file()

    def writer(self) -> BlobWriter:
        """A new streaming writer (use as a context manager; call ``commit()`` to keep the blob)."""
        return BlobWriter(self)

    def put_bytes(self, data: bytes) -> str:
        """Store ``data`` (small content) and return its sha256."""
        sha256 = hashlib.sha256(data).hexdigest()
        if not self.exists(sha256):
            with self.writer() as writer:
                writer.write(data)
                writer.commit()
        return sha256
