"""The state one server shares between its request threads."""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from hubmixin_core.testing._access_requests import AccessRequestStore
from hubmixin_core.testing._blobs import BlobStore
from hubmixin_core.testing._buckets import BucketStore
from hubmixin_core.testing._collections import CollectionStore
from hubmixin_core.testing._discussions import DiscussionStore
from hubmixin_core.testing._faults import FaultInjector
from hubmixin_core.testing._http import JSON_LIMIT
from hubmixin_core.testing._likes import LikeStore
from hubmixin_core.testing._orgs import OrgStore
from hubmixin_core.testing._storage import Repo, Storage
from hubmixin_core.testing.xet._store import XetStore

__all__ = ["SHARD_LIMIT", "HubApp", "UploadTicket", "UploadTickets", "commit_line_limit"]

_TICKET_TTL = 3600.0
_LINE_SLACK = 64 * 1024  # room for the path and the other fields of a commit line
SHARD_LIMIT = 256 * 1024 * 1024
"""Default largest Xet shard upload, in bytes (``LocalHub(max_shard_bytes=...)``)."""


def commit_line_limit(lfs_threshold: int) -> int:
    """The default longest NDJSON commit line: a file just below ``lfs_threshold``, base64-encoded, plus slack."""
    return 4 * ((lfs_threshold + 2) // 3) + _LINE_SLACK


@dataclass(frozen=True)
class UploadTicket:
    """Permission to PUT one LFS object into one repo (the ``href`` of an LFS batch answer)."""

    repo: Repo
    oid: str
    size: int
    expires: float


class UploadTickets:
    """Short-lived, unguessable LFS upload URLs (in memory only, like pre-signed URLs)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tickets: dict[str, UploadTicket] = {}

    def issue(self, repo: Repo, oid: str, size: int) -> str:
        """A new ticket id for uploading ``oid`` to ``repo``."""
        now = time.monotonic()
        with self._lock:
            self._tickets = {k: t for k, t in self._tickets.items() if t.expires > now}
            ticket = secrets.token_urlsafe(24)
            self._tickets[ticket] = UploadTicket(repo, oid, size, now + _TICKET_TTL)
        return ticket

    def get(self, ticket: str) -> UploadTicket | None:
        """The ticket, unless unknown or expired."""
        with self._lock:
            found = self._tickets.get(ticket)
        return found if found is not None and found.expires > time.monotonic() else None

    def consume(self, ticket: str) -> None:
        """Invalidate a ticket once its upload succeeded."""
        with self._lock:
            self._tickets.pop(ticket, None)


class HubApp:
    """Storage, blob store, faults and settings of one running server.

    Request limits (bytes; a larger request is answered 413 naming the limit): ``max_json_bytes`` for JSON and
    form bodies, ``max_commit_line_bytes`` for one NDJSON line of a commit (default: `commit_line_limit`
    of ``lfs_threshold``, room for an inlined file just below it), ``max_shard_bytes`` for a Xet shard.
    """

    def __init__(
        self,
        root: Path,
        *,
        lfs_threshold: int,
        page_size: int,
        max_json_bytes: int = JSON_LIMIT,
        max_commit_line_bytes: int | None = None,
        max_shard_bytes: int = SHARD_LIMIT,
    ) -> None:
        self.lfs_threshold = lfs_threshold
        self.page_size = page_size
        self.max_json_bytes = max_json_bytes
        self.max_commit_line_bytes = (
            commit_line_limit(lfs_threshold) if max_commit_line_bytes is None else max_commit_line_bytes
        )
        self.max_shard_bytes = max_shard_bytes
        self.root = root
        self.storage = Storage(root / "hub.sqlite")
        self.discussions = DiscussionStore(self.storage)
        self.likes = LikeStore(self.storage)
        self.collections = CollectionStore(self.storage)
        self.orgs = OrgStore(self.storage)
        self.access_requests = AccessRequestStore(self.storage)
        self.buckets = BucketStore(self.storage)
        self.blobs = BlobStore(root)
        self.faults = FaultInjector()
        self.tickets = UploadTickets()
        try:
            self.xet = XetStore(root / "xet")
        except BaseException:
            self.storage.close()
            raise
        self.endpoint = ""
        self.stopping = threading.Event()  # set on stop: cuts injected delays short

    def read_small_blob(self, sha256: str, limit: int = 1024 * 1024) -> bytes:
        """The content of a small blob (e.g. ``.gitattributes``), at most ``limit`` bytes."""
        with self.blobs.path(sha256).open("rb") as file:
            return file.read(limit)

    def close(self) -> None:
        """Release the databases."""
        self.storage.close()
        self.xet.close()
