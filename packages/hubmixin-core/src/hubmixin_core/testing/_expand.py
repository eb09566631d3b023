"""Metadata the Hub adds on request: ``expand=True`` on tree and paths-info entries (each path's last commit, and a
file's security scan status) and ``expand[]=formatted`` on commits (title and message as HTML).

LocalHub scans nothing, so every file's ``securityFileStatus`` says ``unscanned``, as the Hub's does for a file it
has not scanned. The "HTML" of a commit is its text, escaped (Markdown is not rendered).
"""

from __future__ import annotations

import html
from collections.abc import Iterable

from hubmixin_core.testing._gitmeta import folders_of
from hubmixin_core.testing._storage import CommitRecord, FileEntry, Repo, Storage

__all__ = ["UNSCANNED", "formatted", "last_commit_json", "last_commits"]

_SCANNERS = ("avScan", "pickleImportScan", "protectAiScan", "jFrogScan", "virusTotalScan")
UNSCANNED: dict[str, object] = {"status": "unscanned"} | {name: {"status": "unscanned"} for name in _SCANNERS}
"""The ``securityFileStatus`` of a file nothing scanned."""


def _changed(tree: dict[str, FileEntry], parent: dict[str, FileEntry]) -> set[str]:
    return {path for path in tree.keys() | parent.keys() if tree.get(path) != parent.get(path)}


def last_commits(storage: Storage, repo: Repo, commit: str, paths: Iterable[str]) -> dict[str, CommitRecord]:
    """For each path (a file or a folder) of ``commit``'s tree, the newest commit of its history that changed it.

    Walks the history from ``commit`` until every path is found (the first commit created them all at the latest).
    """
    pending = set(paths)
    found: dict[str, CommitRecord] = {}
    tree = storage.files(repo, commit)
    for record in storage.history(repo, commit):
        if not pending:
            break
        parent = storage.files(repo, record.parent) if record.parent is not None else {}
        changed = _changed(tree, parent)
        folders = folders_of(changed)
        for path in [p for p in pending if p in changed or p in folders]:
            found[path] = record
            pending.discard(path)
        tree = parent
    return found


def last_commit_json(record: CommitRecord) -> dict[str, object]:
    """A ``lastCommit`` object: ``{id, title, date}``."""
    return {"id": record.oid, "title": record.title, "date": record.created_at}


def formatted(record: CommitRecord) -> dict[str, str]:
    """A commit's ``formatted`` object: its title and message as (escaped) HTML."""
    message = "<br>".join(html.escape(line) for line in record.message.splitlines())
    return {"title": html.escape(record.title), "message": f"<p>{message}</p>" if message else ""}
