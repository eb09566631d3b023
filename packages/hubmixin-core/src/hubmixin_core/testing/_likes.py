"""Likes: ``POST``/``DELETE /api/{type}s/{repo}/like``, ``GET .../likers`` and ``GET /api/users/{user}/likes``.

Any user with a write token may like a repository they can read (its owner too); liking twice counts once and
unliking a repository one does not like changes nothing. Listings show only the repositories the caller can read:
a like of a private repository is seen by those who can read it. The counts are the ``likes`` of ``model_info`` and of
the listings (which ``sort="likes"`` orders by).
"""

from __future__ import annotations

from dataclasses import dataclass

from hubmixin_core.testing._access import can_read, readable_repo, require_user
from hubmixin_core.testing._http import Exchange
from hubmixin_core.testing._storage import Repo, Storage, now_iso, repo_columns, repo_from_row
from hubmixin_core.testing._user_api import existing_user

__all__ = ["Like", "LikeStore", "handle_like", "handle_likers", "handle_user_likes"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS likes (
    repo_id INTEGER NOT NULL, user TEXT NOT NULL, created_at TEXT NOT NULL, PRIMARY KEY (repo_id, user));
CREATE INDEX IF NOT EXISTS likes_by_user ON likes (user);
"""


@dataclass(frozen=True)
class Like:
    """A user's like of a repository (the repository as it is now: renamed, made private ...)."""

    user: str
    repo: Repo
    created_at: str


class LikeStore:
    """Likes, in the metadata database of `Storage` (same connection and lock)."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        with storage._lock:
            storage._db.executescript(_SCHEMA)

    def like(self, repo: Repo, user: str) -> None:
        """``user`` likes ``repo`` (no change if they already do)."""
        with self.storage._tx() as db:
            db.execute("INSERT OR IGNORE INTO likes VALUES (?, ?, ?)", (repo.id, user, now_iso()))

    def unlike(self, repo: Repo, user: str) -> None:
        """``user`` no longer likes ``repo``."""
        with self.storage._tx() as db:
            db.execute("DELETE FROM likes WHERE repo_id = ? AND user = ?", (repo.id, user))

    def forget(self, repo: Repo) -> None:
        """Drop every like of a deleted repository."""
        with self.storage._tx() as db:
            db.execute("DELETE FROM likes WHERE repo_id = ?", (repo.id,))

    def count(self, repo: Repo) -> int:
        """How many users like ``repo``."""
        row = self.storage._one("SELECT COUNT(*) FROM likes WHERE repo_id = ?", repo.id)
        return int(str(row[0])) if row is not None else 0

    def counts(self) -> dict[int, int]:
        """The like count of every liked repository, by repository id."""
        rows = self.storage._all("SELECT repo_id, COUNT(*) FROM likes GROUP BY repo_id")
        return {int(str(repo_id)): int(str(count)) for repo_id, count in rows}

    def _likes(self, where: str, arg: object) -> list[Like]:
        rows = self.storage._all(
            f"SELECT l.user, l.created_at, {repo_columns('r')} "
            f"FROM likes l JOIN repos r ON r.id = l.repo_id WHERE {where} ORDER BY l.created_at DESC, l.rowid DESC",
            arg,
        )
        return [Like(str(row[0]), repo_from_row(row[2:]), str(row[1])) for row in rows]

    def likers(self, repo: Repo) -> list[Like]:
        """The likes of ``repo``, newest first."""
        return self._likes("l.repo_id = ?", repo.id)

    def liked_by(self, user: str) -> list[Like]:
        """The likes of ``user``, newest first."""
        return self._likes("l.user = ?", user)


def handle_like(ex: Exchange) -> None:
    """``POST`` (like) or ``DELETE`` (unlike) ``/api/{type}s/{repo}/like``: needs a write token."""
    user = require_user(ex)
    repo = readable_repo(ex, ex.match.repo)
    if ex.method == "DELETE":
        ex.app.likes.unlike(repo, user)
    else:
        ex.app.likes.like(repo, user)
    ex.send_json({})


def handle_likers(ex: Exchange) -> None:
    """``GET /api/{type}s/{repo}/likers``: the users who like a repository the caller can read."""
    repo = readable_repo(ex, ex.match.repo)
    likers = [
        {"user": like.user, "fullname": like.user, "avatarUrl": "", "type": "user", "isPro": False}
        for like in ex.app.likes.likers(repo)
    ]
    ex.send_json(likers)


def handle_user_likes(ex: Exchange) -> None:
    """``GET /api/users/{user}/likes``: what ``user`` likes, among the repositories the caller can read."""
    user = existing_user(ex)
    likes = [
        {"createdAt": like.created_at, "repo": {"name": like.repo.key.repo_id, "type": like.repo.key.type}}
        for like in ex.app.likes.liked_by(user)
        if can_read(ex, like.repo)
    ]
    ex.send_json(likes)
