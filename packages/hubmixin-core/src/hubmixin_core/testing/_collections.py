"""Collections storage: a namespace's ordered, titled lists of repositories, papers and other collections.

A collection has a random 24-hex id and the slug ``{namespace}/{title-slug}-{id}``: renaming it changes the slug,
and the id alone finds it (an old slug keeps working). Collections of a namespace, and the items of a collection,
are ordered by ``position`` (0, 1, ...). An item of a repository refers to the repository row, so it follows a
move and goes with a deletion (`forget_repo`); an item of a collection goes when that collection is deleted.
Papers are opaque ids: LocalHub has no papers to check them against.
"""

from __future__ import annotations

import re
import secrets
import sqlite3
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, replace

from hubmixin_core.testing._storage import Repo, Storage, now_iso, repo_columns, repo_from_row

__all__ = [
    "ITEM_TYPES",
    "REPO_ITEM_TYPES",
    "THEMES",
    "Collection",
    "CollectionItem",
    "CollectionStore",
    "TitleTakenError",
    "title_slug",
]

THEMES = ("orange", "blue", "green", "purple", "pink", "indigo")
"""The colour themes of the Hub's collection pages."""
REPO_ITEM_TYPES = ("model", "dataset", "space")
"""Item types that are repositories."""
ITEM_TYPES = (*REPO_ITEM_TYPES, "paper", "collection")
"""Item types LocalHub stores (the Hub's ``bucket`` items are not among them)."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS collections (
    id TEXT PRIMARY KEY, namespace TEXT NOT NULL, title TEXT NOT NULL, description TEXT, private INTEGER NOT NULL,
    theme TEXT NOT NULL, position INTEGER NOT NULL, updated_at TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS collections_by_namespace ON collections (namespace, position);
CREATE TABLE IF NOT EXISTS collection_items (
    id TEXT PRIMARY KEY, collection_id TEXT NOT NULL, type TEXT NOT NULL, repo_id INTEGER NOT NULL, ref TEXT NOT NULL,
    note TEXT, position INTEGER NOT NULL, UNIQUE (collection_id, type, repo_id, ref));
CREATE INDEX IF NOT EXISTS collection_items_by_collection ON collection_items (collection_id, position);
CREATE INDEX IF NOT EXISTS collection_items_by_target ON collection_items (type, repo_id, ref);
"""
# An item targets a repository (repo_id, ref '') or a paper / collection (repo_id 0, ref = its id).
_COLLECTION_COLUMNS = "id, namespace, title, description, private, theme, position, updated_at"


def title_slug(title: str) -> str:
    """The slug of a title: ASCII letters and digits, lower case, other runs of characters as one ``-``."""
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^a-z0-9]+", "-", ascii_title.lower()).strip("-")


@dataclass(frozen=True)
class Collection:
    """A stored collection; ``position`` orders the collections of its namespace."""

    id: str
    namespace: str
    title: str
    description: str | None
    private: bool
    theme: str
    position: int
    updated_at: str

    @property
    def slug(self) -> str:
        """``namespace/title-slug-id``, what the client puts in URLs."""
        return f"{self.namespace}/{title_slug(self.title)}-{self.id}"


@dataclass(frozen=True)
class CollectionItem:
    """An item of a collection: a repository (``repo``, as it is now) or a paper or collection id (``ref``)."""

    id: str
    type: str
    position: int
    note: str | None
    repo: Repo | None
    ref: str


class TitleTakenError(Exception):
    """The namespace already has a collection with that title slug (``existing``)."""

    def __init__(self, existing: Collection) -> None:
        super().__init__(existing.slug)
        self.existing = existing


def _collection(row: Sequence[object]) -> Collection:
    cid, namespace, title, description, private, theme, position, updated = row
    text = None if description is None else str(description)
    return Collection(
        str(cid), str(namespace), str(title), text, bool(private), str(theme), int(str(position)), str(updated)
    )


def _renumber(db: sqlite3.Connection, table: str, group: str, value: str, move: tuple[str, int] | None = None) -> None:
    """Give the rows of one group positions 0, 1, ... in their order, after moving ``move[0]`` to ``move[1]``."""
    ids = [
        str(row[0])
        for row in db.execute(f"SELECT id FROM {table} WHERE {group} = ? ORDER BY position, rowid", (value,))
    ]
    if move is not None and move[0] in ids:
        ids.remove(move[0])
        ids.insert(min(max(move[1], 0), len(ids)), move[0])
    db.executemany(f"UPDATE {table} SET position = ? WHERE id = ?", list(enumerate(ids)))


class CollectionStore:
    """Collections and their items, in the metadata database of `Storage` (same connection and lock)."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        with storage._lock:
            storage._db.executescript(_SCHEMA)

    # Collections

    @staticmethod
    def _check_title(db: sqlite3.Connection, namespace: str, title: str, own_id: str = "") -> None:
        slug = title_slug(title)
        rows = db.execute(f"SELECT {_COLLECTION_COLUMNS} FROM collections WHERE namespace = ?", (namespace,))
        for row in rows.fetchall():
            if str(row[0]) != own_id and title_slug(str(row[2])) == slug:
                raise TitleTakenError(_collection(row))

    def create(self, namespace: str, title: str, *, description: str | None, private: bool, theme: str) -> Collection:
        """A new collection, last of its namespace; `TitleTakenError` if the namespace has one titled alike."""
        with self.storage._tx() as db:
            self._check_title(db, namespace, title)
            count = db.execute("SELECT COUNT(*) FROM collections WHERE namespace = ?", (namespace,)).fetchone()[0]
            found = Collection(secrets.token_hex(12), namespace, title, description, private, theme, count, now_iso())
            db.execute(
                f"INSERT INTO collections ({_COLLECTION_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (found.id, namespace, title, description, int(private), theme, count, found.updated_at),
            )
        return found

    def get(self, collection_id: str) -> Collection | None:
        """The collection with this id, if any."""
        row = self.storage._one(f"SELECT {_COLLECTION_COLUMNS} FROM collections WHERE id = ?", collection_id)
        return None if row is None else _collection(row)

    def collections(self) -> list[Collection]:
        """Every collection, the last updated first."""
        rows = self.storage._all(f"SELECT {_COLLECTION_COLUMNS} FROM collections ORDER BY updated_at DESC, rowid DESC")
        return [_collection(row) for row in rows]

    def update(
        self,
        collection: Collection,
        *,
        title: str | None = None,
        description: str | None = None,
        private: bool | None = None,
        theme: str | None = None,
        position: int | None = None,
    ) -> Collection:
        """Change what is given (``description=""`` removes it); `TitleTakenError` on a title taken in the namespace."""
        changed = replace(collection, updated_at=now_iso())
        if title is not None:
            changed = replace(changed, title=title)
        if description is not None:
            changed = replace(changed, description=description or None)
        if private is not None:
            changed = replace(changed, private=private)
        if theme is not None:
            changed = replace(changed, theme=theme)
        with self.storage._tx() as db:
            if title is not None:
                self._check_title(db, collection.namespace, title, collection.id)
            db.execute(
                "UPDATE collections SET title = ?, description = ?, private = ?, theme = ?, updated_at = ? "
                "WHERE id = ?",
                (
                    changed.title,
                    changed.description,
                    int(changed.private),
                    changed.theme,
                    changed.updated_at,
                    changed.id,
                ),
            )
            if position is not None:
                _renumber(db, "collections", "namespace", collection.namespace, (collection.id, position))
        return self.get(collection.id) or changed

    def delete(self, collection: Collection) -> None:
        """Delete the collection, its items and the items of other collections that refer to it."""
        with self.storage._tx() as db:
            db.execute("DELETE FROM collection_items WHERE collection_id = ?", (collection.id,))
            self._delete_items(db, "type = 'collection' AND ref = ?", collection.id)
            db.execute("DELETE FROM collections WHERE id = ?", (collection.id,))
            _renumber(db, "collections", "namespace", collection.namespace)

    # Items

    def items(self, collection: Collection) -> list[CollectionItem]:
        """The items of the collection, by position."""
        rows = self.storage._all(
            f"SELECT i.id, i.type, i.position, i.note, i.ref, {repo_columns('r')} FROM collection_items i "
            "LEFT JOIN repos r ON r.id = i.repo_id WHERE i.collection_id = ? ORDER BY i.position, i.rowid",
            collection.id,
        )
        return [
            CollectionItem(
                str(row[0]),
                str(row[1]),
                int(str(row[2])),
                None if row[3] is None else str(row[3]),
                None if row[5] is None else repo_from_row(row[5:]),
                str(row[4]),
            )
            for row in rows
        ]

    def add_item(
        self, collection: Collection, item_type: str, *, repo: Repo | None = None, ref: str = "", note: str | None
    ) -> CollectionItem | None:
        """Append an item (a ``repo``, or a paper or collection id as ``ref``); ``None`` if it is there already."""
        item_id = secrets.token_hex(12)
        with self.storage._tx() as db:
            count = db.execute("SELECT COUNT(*) FROM collection_items WHERE collection_id = ?", (collection.id,))
            position = int(count.fetchone()[0])
            try:
                db.execute(
                    "INSERT INTO collection_items VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (item_id, collection.id, item_type, repo.id if repo else 0, "" if repo else ref, note, position),
                )
            except sqlite3.IntegrityError:
                return None
            db.execute("UPDATE collections SET updated_at = ? WHERE id = ?", (now_iso(), collection.id))
        return CollectionItem(item_id, item_type, position, note, repo, "" if repo else ref)

    def update_item(self, collection: Collection, item_id: str, *, note: str | None, position: int | None) -> bool:
        """Change an item's note (``""`` removes it) and/or move it to ``position``; ``False`` if it is not there."""
        with self.storage._tx() as db:
            where = "WHERE id = ? AND collection_id = ?"
            if db.execute(f"SELECT 1 FROM collection_items {where}", (item_id, collection.id)).fetchone() is None:
                return False
            if note is not None:
                db.execute(f"UPDATE collection_items SET note = ? {where}", (note or None, item_id, collection.id))
            if position is not None:
                _renumber(db, "collection_items", "collection_id", collection.id, (item_id, position))
            db.execute("UPDATE collections SET updated_at = ? WHERE id = ?", (now_iso(), collection.id))
        return True

    def delete_item(self, collection: Collection, item_id: str) -> bool:
        """Remove an item; ``False`` if it is not there."""
        with self.storage._tx() as db:
            cursor = db.execute(
                "DELETE FROM collection_items WHERE id = ? AND collection_id = ?", (item_id, collection.id)
            )
            if cursor.rowcount == 0:
                return False
            _renumber(db, "collection_items", "collection_id", collection.id)
            db.execute("UPDATE collections SET updated_at = ? WHERE id = ?", (now_iso(), collection.id))
        return True

    def forget_repo(self, repo: Repo) -> None:
        """Drop the items of a deleted repository from every collection."""
        with self.storage._tx() as db:
            self._delete_items(db, "repo_id = ? AND type IN ('model', 'dataset', 'space')", repo.id)

    @staticmethod
    def _delete_items(db: sqlite3.Connection, where: str, arg: object) -> None:
        holders = [
            str(row[0])
            for row in db.execute(f"SELECT DISTINCT collection_id FROM collection_items WHERE {where}", (arg,))
        ]
        db.execute(f"DELETE FROM collection_items WHERE {where}", (arg,))
        for holder in holders:
            _renumber(db, "collection_items", "collection_id", holder)

    def holding(self, item_type: str, *, repo: Repo | None = None, ref: str = "") -> set[str]:
        """The ids of the collections that hold the item."""
        rows = self.storage._all(
            "SELECT collection_id FROM collection_items WHERE type = ? AND repo_id = ? AND ref = ?",
            item_type,
            repo.id if repo else 0,
            "" if repo else ref,
        )
        return {str(row[0]) for row in rows}
