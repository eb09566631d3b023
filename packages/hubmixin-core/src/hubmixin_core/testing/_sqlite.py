"""A SQLite database shared by the server's threads: one connection, one lock, explicit transactions."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from hubmixin_core.errors import HubMixinOSError

__all__ = ["DatabaseFileError", "SqliteDatabase"]


class DatabaseFileError(HubMixinOSError):
    """A database file of a data folder that SQLite cannot open or read (damaged, foreign, a folder)."""


class SqliteDatabase:
    """Base of the server's stores: ``_tx()`` runs one ``BEGIN IMMEDIATE`` transaction, rolled back on error; a
    ``_tx()`` inside another (same thread) is a savepoint of it, so several steps commit as one."""

    def __init__(self, path: Path, schema: str, *, wal: bool = False) -> None:
        self._lock = threading.RLock()
        try:
            self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        except sqlite3.Error as exc:  # e.g. a folder in its place
            raise DatabaseFileError(f"cannot open {path} as a LocalHub database: {exc}") from exc
        try:
            foreign = _foreign_tables(self._db, schema)
            if not foreign:
                if wal:
                    self._db.execute("PRAGMA journal_mode=WAL")
                self._db.executescript(schema)
        except sqlite3.Error as exc:  # a damaged file, or not a database at all
            self._db.close()
            raise DatabaseFileError(f"cannot open {path} as a LocalHub database: {exc}") from exc
        if foreign:  # another application's database: never altered
            self._db.close()
            raise DatabaseFileError(
                f"cannot open {path} as a LocalHub database: it holds tables or columns LocalHub never makes "
                f"({', '.join(foreign)}): another application's file"
            )

    def add_missing_columns(self, table: str, columns: dict[str, str]) -> None:
        """Add the ``columns`` (name: SQL declaration with a default) that a database of an older version lacks."""
        with self._lock:
            present = {str(row[1]) for row in self._db.execute(f"PRAGMA table_info({table})")}
            for name, declaration in columns.items():
                if name not in present:
                    self._db.execute(f"ALTER TABLE {table} ADD COLUMN {name} {declaration}")

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._db.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            if self._db.in_transaction:  # inside this thread's own transaction (the lock is held): a part of it
                yield from self._savepoint()
                return
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _savepoint(self) -> Iterator[sqlite3.Connection]:
        self._db.execute("SAVEPOINT nested")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK TO nested")
            self._db.execute("RELEASE nested")
            raise
        self._db.execute("RELEASE nested")


def _foreign_tables(db: sqlite3.Connection, schema: str) -> list[str]:
    """What marks ``db`` as another application's: columns (``table.column``) that ``schema``'s tables never have
    (an older LocalHub only lacks some), or, in a database holding tables, none of ``schema``'s (other LocalHub
    stores may add tables of their own beside them)."""
    ours = sqlite3.connect(":memory:")
    try:
        ours.executescript(schema)
        expected = {table: _columns(ours, table) for table in _tables(ours)}
    finally:
        ours.close()
    present = _tables(db)
    shared = [table for table in present if table in expected]
    if present and not shared:
        return present
    return [f"{table}.{column}" for table in shared for column in sorted(_columns(db, table) - expected[table])]


def _tables(db: sqlite3.Connection) -> list[str]:
    rows = db.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
    return sorted(str(row[0]) for row in rows)


def _columns(db: sqlite3.Connection, table: str) -> set[str]:
    return {str(row[1]) for row in db.execute(f'PRAGMA table_info("{table}")')}
