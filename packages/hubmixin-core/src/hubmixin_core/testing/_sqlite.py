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
    """Base of the server's stores: ``_tx()`` runs one ``BEGIN IMMEDIATE`` transaction, rolled back on error."""

    def __init__(self, path: Path, schema: str, *, wal: bool = False) -> None:
        self._lock = threading.RLock()
        try:
            self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        except sqlite3.Error as exc:  # e.g. a folder in its place
            raise DatabaseFileError(f"cannot open {path} as a LocalHub database: {exc}") from exc
        try:
            if wal:
                self._db.execute("PRAGMA journal_mode=WAL")
            self._db.executescript(schema)
        except sqlite3.Error as exc:  # a damaged file, or not a database at all
            self._db.close()
            raise DatabaseFileError(f"cannot open {path} as a LocalHub database: {exc}") from exc

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
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
