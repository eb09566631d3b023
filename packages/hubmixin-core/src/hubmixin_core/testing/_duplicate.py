"""``duplicate_repo``: ``POST /api/{type}s/{repo}/duplicate`` copies a repository, history included.

The copy gets the source's commits, trees, branches and tags (not its pull request refs, discussions, gating or
access requests) and may read the source's LFS and Xet objects, so its files download at once (``filesCopyPending``
is false). Copying a gated repository needs access to its files.
"""

from __future__ import annotations

import sqlite3

from hubmixin_core.testing._access import downloadable_repo, require_namespace_writer, require_user
from hubmixin_core.testing._http import Exchange, HubError
from hubmixin_core.testing._repos import _key_from_body
from hubmixin_core.testing._storage import Repo, RepoKey, Storage, insert_repo, now_iso
from hubmixin_core.testing.xet._store import XetStore

__all__ = ["copy_repo", "handle_duplicate_repo"]

_COPIED_TABLES = ("commits", "files", "deltas", "refs", "lfs_objects")
_ONLY = {"refs": "name NOT LIKE 'refs/pr/%'"}  # pull requests belong to the source's discussions
_ACCEPTED = {"repository", "visibility", "private"}


def _columns(db: sqlite3.Connection, table: str) -> list[str]:
    return [str(row[1]) for row in db.execute(f"PRAGMA table_info({table})")]


def copy_repo(storage: Storage, xet: XetStore, source: Repo, key: RepoKey, *, private: bool) -> Repo | None:
    """Copy ``source`` (history, branches, tags, LFS and Xet objects) to ``key``; ``None`` if ``key`` is taken."""
    created = now_iso()
    with storage._tx() as db:
        new_id = insert_repo(db, key, private=private, created=created)
        if new_id is None:
            return None
        for table in _COPIED_TABLES:
            others = [column for column in _columns(db, table) if column != "repo_id"]
            names = ", ".join(others)
            where = f" AND {_ONLY[table]}" if table in _ONLY else ""
            db.execute(
                f"INSERT INTO {table} (repo_id, {names}) SELECT ?, {names} FROM {table} WHERE repo_id = ?{where}",
                (new_id, source.id),
            )
        objects = [str(row[0]) for row in db.execute("SELECT sha256 FROM lfs_objects WHERE repo_id = ?", (new_id,))]
    for sha256 in objects:  # after the metadata: a failure here leaves plain LFS downloads working
        file = xet.repo_file(source.id, sha256)
        if file is not None:
            xet.put_file(new_id, file)
    return Repo(id=new_id, key=key, private=private, created_at=created)


def _target(ex: Exchange, body: dict[str, object], source: Repo, user: str) -> RepoKey:
    repository = body.get("repository")
    if not isinstance(repository, str) or repository.count("/") != 1:
        raise HubError(400, f"repository must be 'namespace/name', not {repository!r}")
    namespace, name = repository.split("/")
    key = _key_from_body(ex, {"name": name, "organization": namespace, "type": source.key.type}, user)
    require_namespace_writer(ex, key.namespace)
    return key


def handle_duplicate_repo(ex: Exchange) -> None:
    """``POST /api/{type}s/{repo}/duplicate`` ``{"repository": "ns/name", "visibility"?}``: copy a repo whose files
    the caller can read into a namespace they can write (theirs, or an organization where they have the write or
    admin role)."""
    user = require_user(ex)
    source = downloadable_repo(ex, ex.match.repo)
    body = ex.read_json_object()
    if unsupported := sorted(set(body) - _ACCEPTED):
        raise HubError(501, f"Duplicate options {unsupported} are not supported by the local Hub (hubmixin LocalHub)")
    key = _target(ex, body, source, user)
    visibility = body.get("visibility")
    if visibility not in (None, "private", "public"):
        raise HubError(501, f"Visibility {visibility!r} is not supported by the local Hub (hubmixin LocalHub)")
    private = source.private if visibility is None else visibility == "private"
    if isinstance(body.get("private"), bool):
        private = bool(body["private"])
    url = f"{ex.endpoint}/{key.url_path}"
    if copy_repo(ex.app.storage, ex.app.xet, source, key, private=private) is None:
        ex.send_json({"error": f"Repository {key.repo_id} already exists", "url": url}, status=409)
        return
    ex.send_json({"url": url, "filesCopyPending": False})
