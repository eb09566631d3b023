"""SQLite metadata store of the local Hub: users, tokens, repositories, commits, file trees and refs."""

from __future__ import annotations

import hashlib
import re
import secrets
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from hubmixin_core.errors import HubMixinValueError
from hubmixin_core.testing._gitmeta import new_commit_oid
from hubmixin_core.testing._sqlite import SqliteDatabase

__all__ = [
    "CommitRecord",
    "FileEntry",
    "ParentMismatchError",
    "Repo",
    "RepoKey",
    "Storage",
    "insert_repo",
    "now_iso",
    "repo_columns",
    "repo_from_row",
]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS users (name TEXT PRIMARY KEY, created_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS tokens (
    digest TEXT PRIMARY KEY, user TEXT NOT NULL, can_write INTEGER NOT NULL, created_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS repos (
    id INTEGER PRIMARY KEY AUTOINCREMENT, type TEXT NOT NULL, namespace TEXT NOT NULL, name TEXT NOT NULL,
    private INTEGER NOT NULL, created_at TEXT NOT NULL, next_pr INTEGER NOT NULL DEFAULT 1,
    gated TEXT NOT NULL DEFAULT '', UNIQUE (type, namespace, name));
CREATE TABLE IF NOT EXISTS commits (
    repo_id INTEGER NOT NULL, oid TEXT NOT NULL, parent TEXT, author TEXT NOT NULL, title TEXT NOT NULL,
    message TEXT NOT NULL, created_at TEXT NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY (repo_id, oid));
CREATE TABLE IF NOT EXISTS files (
    repo_id INTEGER NOT NULL, commit_oid TEXT NOT NULL, path TEXT NOT NULL, sha256 TEXT NOT NULL,
    size INTEGER NOT NULL, lfs INTEGER NOT NULL, git_oid TEXT NOT NULL, PRIMARY KEY (repo_id, commit_oid, path));
CREATE TABLE IF NOT EXISTS refs (
    repo_id INTEGER NOT NULL, name TEXT NOT NULL, target TEXT NOT NULL, PRIMARY KEY (repo_id, name));
CREATE TABLE IF NOT EXISTS lfs_objects (
    repo_id INTEGER NOT NULL, sha256 TEXT NOT NULL, size INTEGER NOT NULL, pushed_at TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (repo_id, sha256));
CREATE TABLE IF NOT EXISTS deltas (
    repo_id INTEGER NOT NULL, commit_oid TEXT NOT NULL, base TEXT NOT NULL, depth INTEGER NOT NULL,
    PRIMARY KEY (repo_id, commit_oid));
CREATE TABLE IF NOT EXISTS moved_repos (
    type TEXT NOT NULL, namespace TEXT NOT NULL, name TEXT NOT NULL, repo_id INTEGER NOT NULL,
    PRIMARY KEY (type, namespace, name));
"""
# ``moved_repos``: the former names of renamed repositories (``move_repo``), until a repository takes the name.
# A commit's tree is stored whole (a snapshot: its rows in ``files``), or, when it has a row in ``deltas``, as the
# rows that differ from the tree of ``base`` (deleted paths as rows with an empty sha256). Chains are at most
# _MAX_DEPTH long, so a commit stores O(changed files) rows and a read walks at most _MAX_DEPTH commits.
_MAX_DEPTH = 32
_DELETED = ""

_ADDED_COLUMNS = {  # columns newer than the first databases: added to those when opened
    "repos": {"gated": "TEXT NOT NULL DEFAULT ''"},
    "lfs_objects": {"pushed_at": "TEXT NOT NULL DEFAULT ''"},
}

_SHORT_SHA = re.compile(r"[0-9a-f]{7,40}")
# Repo ids are case-insensitive, as on the Hub: a repository keeps the casing it was created with.
_SAME_KEY = "type = ? AND namespace = ? COLLATE NOCASE AND name = ? COLLATE NOCASE"


def now_iso() -> str:
    """The current UTC time in the Hub's format (``2024-01-31T12:00:00.000Z``)."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class RepoKey:
    """A repository address: type (``model``, ``dataset``, ``space``), namespace and name."""

    type: str
    namespace: str
    name: str

    @property
    def repo_id(self) -> str:
        """``namespace/name``."""
        return f"{self.namespace}/{self.name}"

    @property
    def url_path(self) -> str:
        """The web path of the repo: ``ns/name`` for models, ``datasets/ns/name`` for datasets."""
        prefix = "" if self.type == "model" else f"{self.type}s/"
        return prefix + self.repo_id


@dataclass(frozen=True)
class Repo:
    """A stored repository; ``gated`` is ``"auto"``, ``"manual"`` or ``""`` (not gated)."""

    id: int
    key: RepoKey
    private: bool
    created_at: str
    gated: str = ""


@dataclass(frozen=True)
class FileEntry:
    """A file in a commit's tree; ``git_oid`` is the git blob id (of the LFS pointer for LFS files)."""

    path: str
    sha256: str
    size: int
    lfs: bool
    git_oid: str


@dataclass(frozen=True)
class CommitRecord:
    """A commit's metadata."""

    oid: str
    parent: str | None
    author: str
    title: str
    message: str
    created_at: str


class ParentMismatchError(Exception):
    """The branch moved past the ``parentCommit`` the client based its commit on."""


_REPO_COLUMNS = ("id", "type", "namespace", "name", "private", "created_at", "gated")


def repo_columns(table: str = "") -> str:
    """The columns `repo_from_row` reads, for a ``SELECT`` (each prefixed with ``table.`` if given)."""
    return ", ".join(f"{table}.{column}" if table else column for column in _REPO_COLUMNS)


def repo_from_row(row: Sequence[object]) -> Repo:
    """The repository of a ``repos`` row selected with `repo_columns`."""
    repo_id, repo_type, namespace, name, private, created, gated = row
    key = RepoKey(str(repo_type), str(namespace), str(name))
    return Repo(int(str(repo_id)), key, bool(private), str(created), str(gated))


def insert_repo(db: sqlite3.Connection, key: RepoKey, *, private: bool, created: str) -> int | None:
    """Insert the row of a new repository inside the transaction ``db``; its id, ``None`` if ``key`` is taken
    (whatever its casing)."""
    if _key_taken(db, key):
        return None
    try:
        cursor = db.execute(
            "INSERT INTO repos (type, namespace, name, private, created_at) VALUES (?, ?, ?, ?, ?)",
            (key.type, key.namespace, key.name, int(private), created),
        )
    except sqlite3.IntegrityError:
        return None
    assert cursor.lastrowid is not None
    _forget_former_name(db, key)  # the name is a repository's own again
    return cursor.lastrowid


def _key_taken(db: sqlite3.Connection, key: RepoKey, *, but: int | None = None) -> bool:
    """Whether a repository other than the one of id ``but`` has ``key``, whatever its casing."""
    found = db.execute(f"SELECT 1 FROM repos WHERE {_SAME_KEY} AND id IS NOT ?", (*_key_args(key), but))
    return found.fetchone() is not None


def _key_args(key: RepoKey) -> tuple[str, str, str]:
    return key.type, key.namespace, key.name


def _forget_former_name(db: sqlite3.Connection, key: RepoKey) -> None:
    db.execute(f"DELETE FROM moved_repos WHERE {_SAME_KEY}", _key_args(key))


class Storage(SqliteDatabase):
    """Thread-safe access to the SQLite metadata database (one connection, serialized)."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, _SCHEMA)
        for table, columns in _ADDED_COLUMNS.items():
            self.add_missing_columns(table, columns)

    def _one(self, sql: str, *args: object) -> tuple[object, ...] | None:
        with self._lock:
            row: tuple[object, ...] | None = self._db.execute(sql, args).fetchone()
            return row

    def _all(self, sql: str, *args: object) -> list[tuple[object, ...]]:
        with self._lock:
            rows: list[tuple[object, ...]] = self._db.execute(sql, args).fetchall()
            return rows

    # Users and tokens

    def ensure_user(self, name: str) -> None:
        """Create the user ``name`` unless it exists."""
        with self._tx() as db:
            db.execute("INSERT OR IGNORE INTO users VALUES (?, ?)", (name, now_iso()))

    def user_exists(self, name: str) -> bool:
        """Whether the user exists."""
        return self._one("SELECT 1 FROM users WHERE name = ?", name) is not None

    def user_name(self, name: str) -> str | None:
        """The name of the user ``name`` whatever its casing (as on the Hub, names are case-insensitive), as created."""
        row = self._one("SELECT name FROM users WHERE name = ? COLLATE NOCASE", name)
        return None if row is None else str(row[0])

    def create_token(self, user: str, *, write: bool, token: str | None = None) -> str:
        """Mint a token for ``user`` (or register the given ``token``); only its sha256 is stored."""
        token = "hf_" + secrets.token_hex(17) if token is None else token
        with self._tx() as db:
            db.execute(
                "INSERT OR REPLACE INTO tokens VALUES (?, ?, ?, ?)", (_digest(token), user, int(write), now_iso())
            )
        return token

    def authenticate(self, token: str) -> tuple[str, bool] | None:
        """``(user, can_write)`` for a valid token, else ``None``."""
        row = self._one("SELECT user, can_write FROM tokens WHERE digest = ?", _digest(token))
        return None if row is None else (str(row[0]), bool(row[1]))

    # Repositories

    def get_repo(self, key: RepoKey) -> Repo | None:
        """The repository at ``key`` (whatever its casing), if any."""
        row = self._one(f"SELECT {repo_columns()} FROM repos WHERE {_SAME_KEY}", *_key_args(key))
        return None if row is None else repo_from_row(row)

    def create_repo(self, key: RepoKey, *, private: bool, author: str, initial: Sequence[FileEntry]) -> Repo | None:
        """Create the repo with an initial commit holding the files ``initial``; ``None`` if it already exists."""
        with self._tx() as db:
            created = now_iso()
            repo_id = insert_repo(db, key, private=private, created=created)
            if repo_id is None:
                return None
            oid = new_commit_oid(None, "initial commit", author, created)
            db.execute(
                "INSERT INTO commits VALUES (?, ?, NULL, ?, 'initial commit', '', ?, 0)",
                (repo_id, oid, author, created),
            )
            self._insert_files(db, repo_id, oid, list(initial))
            db.execute("INSERT INTO refs VALUES (?, 'refs/heads/main', ?)", (repo_id, oid))
        return Repo(id=repo_id, key=key, private=private, created_at=created)

    def list_repos(self, repo_type: str) -> list[Repo]:
        """Every repository of ``repo_type``, newest first."""
        rows = self._all(f"SELECT {repo_columns()} FROM repos WHERE type = ? ORDER BY id DESC", repo_type)
        return [repo_from_row(row) for row in rows]

    def public_repo_counts(self, namespace: str) -> dict[str, int]:
        """How many public models, datasets and spaces ``namespace`` owns."""
        rows = self._all(
            "SELECT type, COUNT(*) FROM repos WHERE namespace = ? AND private = 0 "
            "AND type IN ('model', 'dataset', 'space') GROUP BY type",
            namespace,
        )
        return {"model": 0, "dataset": 0, "space": 0} | {str(kind): int(str(n)) for kind, n in rows}

    def set_private(self, repo: Repo, private: bool) -> None:
        """Make ``repo`` private or public."""
        with self._tx() as db:
            db.execute("UPDATE repos SET private = ? WHERE id = ?", (int(private), repo.id))

    def set_gated(self, repo: Repo, gated: str) -> None:
        """Gate ``repo`` (``"auto"`` or ``"manual"`` approval of access requests) or ungate it (``""``)."""
        with self._tx() as db:
            db.execute("UPDATE repos SET gated = ? WHERE id = ?", (gated, repo.id))

    def move_repo(self, repo: Repo, key: RepoKey) -> bool:
        """Rename ``repo`` to ``key`` (history, refs and files follow, its old name leads to it: `moved_repo`); False
        if ``key`` is taken (a new casing of its own name is not)."""
        old = repo.key
        try:
            with self._tx() as db:
                if _key_taken(db, key, but=repo.id):
                    return False
                db.execute("UPDATE repos SET namespace = ?, name = ? WHERE id = ?", (key.namespace, key.name, repo.id))
                _forget_former_name(db, key)
                former = (old.type, old.namespace, old.name, repo.id)
                db.execute("INSERT OR REPLACE INTO moved_repos VALUES (?, ?, ?, ?)", former)
        except sqlite3.IntegrityError:
            return False
        return True

    def moved_repo(self, key: RepoKey) -> Repo | None:
        """The repository that was renamed away from ``key`` (no repository has that name now), if any."""
        row = self._one(
            f"SELECT {repo_columns('r')} FROM moved_repos m JOIN repos r ON r.id = m.repo_id "
            "WHERE m.type = ? AND m.namespace = ? COLLATE NOCASE AND m.name = ? COLLATE NOCASE",
            *_key_args(key),
        )
        return None if row is None else repo_from_row(row)

    def delete_repo(self, repo: Repo, *, also: tuple[str, str] | None = None) -> None:
        """Delete the repo and all its metadata (blobs stay in the content-addressed store), in one transaction;
        ``also=(table, column)`` deletes that table's rows whose column holds the repo's id too."""
        with self._tx() as db:
            for table, column in (
                ("files", "repo_id"),
                ("deltas", "repo_id"),
                ("commits", "repo_id"),
                ("refs", "repo_id"),
                ("lfs_objects", "repo_id"),
                *([also] if also else []),
            ):
                db.execute(f"DELETE FROM {table} WHERE {column} = ?", (repo.id,))
            db.execute("DELETE FROM moved_repos WHERE repo_id = ?", (repo.id,))
            db.execute("DELETE FROM repos WHERE id = ?", (repo.id,))

    # Refs

    def refs(self, repo: Repo) -> dict[str, str]:
        """Every ref name (``refs/heads/main``, ``refs/tags/v1``, ``refs/pr/1``) with its target commit."""
        rows = self._all("SELECT name, target FROM refs WHERE repo_id = ? ORDER BY name", repo.id)
        return {str(name): str(target) for name, target in rows}

    def get_ref(self, repo: Repo, name: str) -> str | None:
        """The commit a full ref name points to."""
        row = self._one("SELECT target FROM refs WHERE repo_id = ? AND name = ?", repo.id, name)
        return None if row is None else str(row[0])

    def create_ref(self, repo: Repo, name: str, target: str) -> str | None:
        """Create a ref; ``None`` once created, else the ref that prevents it: ``name`` itself, or (git keeps each
        ref as a file, so no ref is a folder of another) a ref ``name/...`` or one that ``name`` is under."""
        with self._tx() as db:
            clash = db.execute(
                "SELECT name FROM refs WHERE repo_id = ? AND (name = ? OR substr(name, 1, ?) = ? "
                "OR substr(?, 1, length(name) + 1) = name || '/') ORDER BY name != ? LIMIT 1",
                (repo.id, name, len(name) + 1, name + "/", name, name),
            ).fetchone()
            if clash is not None:
                return str(clash[0])
            db.execute("INSERT INTO refs VALUES (?, ?, ?)", (repo.id, name, target))
        return None

    def delete_ref(self, repo: Repo, name: str) -> bool:
        """Delete a ref; ``False`` if it did not exist."""
        with self._tx() as db:
            return db.execute("DELETE FROM refs WHERE repo_id = ? AND name = ?", (repo.id, name)).rowcount > 0

    def branch_ref(self, repo: Repo, revision: str) -> str | None:
        """The full ref name if ``revision`` names a branch or a PR ref (what commits may target)."""
        for name in (f"refs/heads/{revision}", revision):
            if name.startswith(("refs/heads/", "refs/pr/")) and self.get_ref(repo, name) is not None:
                return name
        return None

    def resolve(self, repo: Repo, revision: str) -> str | None:
        """The commit id of a branch, tag, full ref name or (possibly short) commit id."""
        for name in (f"refs/heads/{revision}", f"refs/tags/{revision}", revision):
            if (target := self.get_ref(repo, name)) is not None:
                return target
        return self.commit_of_prefix(repo, revision) if _SHORT_SHA.fullmatch(revision) else None

    def commit_of_prefix(self, repo: Repo, prefix: str) -> str | None:
        """The one commit of ``repo`` whose id starts with ``prefix``; ``None`` if none or several do."""
        rows = self._all(
            "SELECT oid FROM commits WHERE repo_id = ? AND substr(oid, 1, ?) = ?", repo.id, len(prefix), prefix
        )
        return str(rows[0][0]) if len(rows) == 1 else None

    # Commits and trees

    def _chain(self, repo_id: int, commit: str) -> tuple[list[str], int]:
        """The commits whose rows make the tree of ``commit`` (newest first, down to a snapshot), and its depth."""
        chain = [commit]
        depth: int | None = None
        while (
            row := self._one("SELECT base, depth FROM deltas WHERE repo_id = ? AND commit_oid = ?", repo_id, chain[-1])
        ) is not None:
            if depth is None:
                depth = int(str(row[1]))
            chain.append(str(row[0]))
        return chain, depth or 0

    def files(self, repo: Repo, commit: str) -> dict[str, FileEntry]:
        """Every file of the commit, by path."""
        files: dict[str, FileEntry] = {}
        with self._lock:
            for oid in reversed(self._chain(repo.id, commit)[0]):
                rows = self._all(
                    "SELECT path, sha256, size, lfs, git_oid FROM files WHERE repo_id = ? AND commit_oid = ?",
                    repo.id,
                    oid,
                )
                for r in rows:
                    if r[1] == _DELETED:
                        files.pop(str(r[0]), None)
                    else:
                        files[str(r[0])] = FileEntry(str(r[0]), str(r[1]), int(str(r[2])), bool(r[3]), str(r[4]))
        return dict(sorted(files.items()))

    def file(self, repo: Repo, commit: str, path: str) -> FileEntry | None:
        """One file of the commit."""
        with self._lock:
            for oid in self._chain(repo.id, commit)[0]:
                row = self._one(
                    "SELECT sha256, size, lfs, git_oid FROM files WHERE repo_id = ? AND commit_oid = ? AND path = ?",
                    repo.id,
                    oid,
                    path,
                )
                if row is not None:
                    if row[0] == _DELETED:
                        return None
                    return FileEntry(path, str(row[0]), int(str(row[1])), bool(row[2]), str(row[3]))
        return None

    def get_commit(self, repo: Repo, oid: str) -> CommitRecord | None:
        """A commit's metadata."""
        row = self._one(
            "SELECT oid, parent, author, title, message, created_at FROM commits WHERE repo_id = ? AND oid = ?",
            repo.id,
            oid,
        )
        if row is None:
            return None
        return CommitRecord(
            str(row[0]),
            None if row[1] is None else str(row[1]),
            str(row[2]),
            str(row[3]),
            str(row[4]),
            str(row[5]),
        )

    def history(self, repo: Repo, oid: str) -> list[CommitRecord]:
        """The commit and its ancestors, newest first."""
        out: list[CommitRecord] = []
        current: str | None = oid
        while current is not None and (record := self.get_commit(repo, current)) is not None:
            out.append(record)
            current = record.parent
        return out

    def squash(self, repo: Repo, ref: str, *, author: str, title: str) -> str | None:
        """Replace the history of ``ref`` by one root commit holding its current tree; the new id (None: no ref)."""
        with self._tx() as db:
            head = self.get_ref(repo, ref)
            if head is None:
                return None
            entries = list(self.files(repo, head).values())
            created = now_iso()
            oid = new_commit_oid(None, title, author, created)
            seq = db.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM commits WHERE repo_id = ?", (repo.id,))
            db.execute(
                "INSERT INTO commits VALUES (?, ?, NULL, ?, ?, '', ?, ?)",
                (repo.id, oid, author, title, created, seq.fetchone()[0]),
            )
            self._insert_files(db, repo.id, oid, entries)  # a snapshot: the squashed commit has no base
            db.execute("UPDATE refs SET target = ? WHERE repo_id = ? AND name = ?", (oid, repo.id, ref))
        return oid

    def commit(
        self,
        repo: Repo,
        *,
        ref: str,
        build: Callable[[dict[str, FileEntry]], dict[str, FileEntry]],
        author: str,
        title: str,
        message: str,
        expected_parent: str | None = None,
        create_pr: bool = False,
        start: str | None = None,
    ) -> tuple[str, int | None]:
        """Atomically commit ``build(files at the head of ref)`` on top of ``ref``.

        ``expected_parent`` (a full commit id) must be the head of ``ref``. With ``create_pr`` the ref is left alone
        and a new ``refs/pr/N`` points to the commit, made on top of the commit ``start`` of the repo if given (else
        the head of ``ref``). Returns the commit id and the PR number (or ``None``). Exceptions raised by ``build``
        roll everything back; `LookupError` when ``ref`` or ``start`` does not exist.
        """
        if start is not None and not create_pr:
            raise HubMixinValueError("start is only for a commit that opens a pull request")
        with self._tx() as db:
            head = self.get_ref(repo, ref)
            if head is None:
                raise LookupError(ref)
            if expected_parent is not None and head != expected_parent:
                raise ParentMismatchError(head)
            if start is not None:
                if self.get_commit(repo, start) is None:
                    raise LookupError(start)
                head = start
            old = self.files(repo, head)
            entries = build(old)
            created = now_iso()
            oid = new_commit_oid(head, title, author, created)
            seq_row = db.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM commits WHERE repo_id = ?", (repo.id,))
            db.execute(
                "INSERT INTO commits VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (repo.id, oid, head, author, title, message, created, seq_row.fetchone()[0]),
            )
            changed = [entry for path, entry in entries.items() if old.get(path) != entry]
            deleted = [FileEntry(path, _DELETED, 0, False, "") for path in old if path not in entries]
            depth = self._chain(repo.id, head)[1] + 1
            if depth >= _MAX_DEPTH or len(changed) + len(deleted) >= len(entries):
                self._insert_files(db, repo.id, oid, list(entries.values()))  # a snapshot
            else:
                self._insert_files(db, repo.id, oid, changed + deleted)
                db.execute("INSERT INTO deltas VALUES (?, ?, ?, ?)", (repo.id, oid, head, depth))
            pr_num: int | None = None
            if create_pr:
                pr_num = int(db.execute("SELECT next_pr FROM repos WHERE id = ?", (repo.id,)).fetchone()[0])
                db.execute("UPDATE repos SET next_pr = next_pr + 1 WHERE id = ?", (repo.id,))
                db.execute("INSERT INTO refs VALUES (?, ?, ?)", (repo.id, f"refs/pr/{pr_num}", oid))
            else:
                db.execute("UPDATE refs SET target = ? WHERE repo_id = ? AND name = ?", (oid, repo.id, ref))
        return oid, pr_num

    @staticmethod
    def _insert_files(db: sqlite3.Connection, repo_id: int, commit: str, entries: list[FileEntry]) -> None:
        db.executemany(
            "INSERT INTO files VALUES (?, ?, ?, ?, ?, ?, ?)",
            [(repo_id, commit, e.path, e.sha256, e.size, int(e.lfs), e.git_oid) for e in entries],
        )

    # LFS objects

    def link_lfs(self, repo: Repo, sha256: str, size: int) -> None:
        """Record that ``repo`` holds the LFS object (uploaded by one of its writers)."""
        with self._tx() as db:
            db.execute(
                "INSERT OR IGNORE INTO lfs_objects (repo_id, sha256, size, pushed_at) VALUES (?, ?, ?, ?)",
                (repo.id, sha256, size, now_iso()),
            )

    def used_storage(self, repo: Repo) -> int:
        """The bytes ``repo`` takes, as the Hub counts them whatever revision is asked: every LFS (or Xet) object
        it holds (those of old commits, other branches, tags and pull requests too, until
        ``permanently_delete_lfs_files`` removes them), and the regular files at the heads of its branches, each
        content once."""
        row = self._one("SELECT COALESCE(SUM(size), 0) FROM lfs_objects WHERE repo_id = ?", repo.id)
        regular: dict[str, int] = {}
        for ref, target in self.refs(repo).items():
            if ref.startswith("refs/heads/"):
                regular |= {e.git_oid: e.size for e in self.files(repo, target).values() if not e.lfs}
        return int(str(row[0] if row else 0)) + sum(regular.values())

    def lfs_size(self, repo: Repo, sha256: str) -> int | None:
        """The size of an LFS object of ``repo``, or ``None`` if the repo never received it."""
        row = self._one("SELECT size FROM lfs_objects WHERE repo_id = ? AND sha256 = ?", repo.id, sha256)
        return None if row is None else int(str(row[0]))
