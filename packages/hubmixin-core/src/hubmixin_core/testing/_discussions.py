"""Discussions and pull requests: ``/api/{type}s/{repo}/discussions[/{num}[/{comment,status,merge,title}]]`` and
``.../discussions/{num}/comment/{id}/{edit,hide}``.

Discussions and pull requests share one numbering per repo (``repos.next_pr``, also used by ``create_pr=1``
commits). A pull request ``N`` has the git ref ``refs/pr/N``; commits to that ref are events of the PR. Merging
applies the PR's changes (its tree against the commit it was based on) as one new commit on the base branch.
Anyone who can read a repo (with a write token) may open a discussion or pull request and comment; the repo's
writers (its owner, or an organization's members with the write or admin role) or the author may close/reopen or
rename it and push to a PR ref; only the repo's writers merge. A comment is edited by its author only (earlier
versions are kept in its history) and hidden by its author or the repo's writers; hiding drops its text for good.
"""

from __future__ import annotations

import json
import re
import secrets
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from hubmixin_core.testing._access import can_write, readable_repo, require_user
from hubmixin_core.testing._http import Exchange, HubError
from hubmixin_core.testing._storage import FileEntry, Repo, Storage, now_iso

__all__ = [
    "DiscussionStore",
    "check_pr_push",
    "handle_discussion",
    "handle_discussion_change",
    "handle_comment_change",
    "handle_discussions",
    "pr_commit_transaction",
    "record_pr_commit",
]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS discussions (
    repo_id INTEGER NOT NULL, num INTEGER NOT NULL, is_pr INTEGER NOT NULL, title TEXT NOT NULL,
    author TEXT NOT NULL, status TEXT NOT NULL, created_at TEXT NOT NULL, base_ref TEXT,
    base_commit TEXT, merge_commit TEXT, PRIMARY KEY (repo_id, num));
CREATE TABLE IF NOT EXISTS discussion_events (
    repo_id INTEGER NOT NULL, num INTEGER NOT NULL, seq INTEGER NOT NULL, id TEXT NOT NULL, type TEXT NOT NULL,
    author TEXT NOT NULL, created_at TEXT NOT NULL, data TEXT NOT NULL, PRIMARY KEY (repo_id, num, seq));
"""
_PAGE_SIZE = 50
_TYPES = {"all", "discussion", "pull_request"}
_STATUSES = {"all", "open", "closed", "merged", "draft"}
_STATUS_FILTERS = {"open": {"open", "draft"}, "closed": {"closed", "merged"}}  # a draft is open, a merged PR closed


@dataclass(frozen=True)
class Discussion:
    """A stored discussion or pull request."""

    num: int
    is_pr: bool
    title: str
    author: str
    status: str
    created_at: str
    base_ref: str | None
    base_commit: str | None
    merge_commit: str | None


_COLUMNS = "num, is_pr, title, author, status, created_at, base_ref, base_commit, merge_commit"


def _row(row: tuple[object, ...]) -> Discussion:
    num, is_pr, title, author, status, created, base_ref, base_commit, merge = row
    return Discussion(
        int(str(num)),
        bool(is_pr),
        str(title),
        str(author),
        str(status),
        str(created),
        None if base_ref is None else str(base_ref),
        None if base_commit is None else str(base_commit),
        None if merge is None else str(merge),
    )


class DiscussionStore:
    """Discussions and their events, in the metadata database of `Storage` (same connection and lock)."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        with storage._lock:
            storage._db.executescript(_SCHEMA)

    def _event(self, db: sqlite3.Connection, repo: Repo, num: int, kind: str, author: str, data: object) -> None:
        seq = db.execute(
            "SELECT COALESCE(MAX(seq), 0) + 1 FROM discussion_events WHERE repo_id = ? AND num = ?", (repo.id, num)
        ).fetchone()[0]
        db.execute(
            "INSERT INTO discussion_events VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (repo.id, num, seq, secrets.token_hex(12), kind, author, now_iso(), json.dumps(data)),
        )

    def add_event(self, repo: Repo, num: int, kind: str, author: str, data: object) -> None:
        """Append an event (``comment``, ``status-change``, ``commit``, ``title-change``)."""
        with self.storage._tx() as db:
            self._event(db, repo, num, kind, author, data)

    def create(
        self,
        repo: Repo,
        *,
        title: str,
        author: str,
        description: str,
        pull_request: bool,
        status: str = "open",
        num: int | None = None,
        base_commit: str | None = None,
        base_ref: str = "refs/heads/main",
    ) -> int:
        """A new discussion (number ``num`` if given, else the repo's next one); a new PR also gets ``refs/pr/N``.

        A pull request is merged into ``base_ref``; a new one starts at ``base_commit``, by default its head.
        """
        with self.storage._tx() as db:
            if num is None:
                num = int(db.execute("SELECT next_pr FROM repos WHERE id = ?", (repo.id,)).fetchone()[0])
                db.execute("UPDATE repos SET next_pr = next_pr + 1 WHERE id = ?", (repo.id,))
                if pull_request:
                    base_commit = self.storage.get_ref(repo, base_ref)
                    assert base_commit is not None
                    db.execute("INSERT INTO refs VALUES (?, ?, ?)", (repo.id, f"refs/pr/{num}", base_commit))
            db.execute(
                f"INSERT INTO discussions (repo_id, {_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)",
                (
                    repo.id,
                    num,
                    int(pull_request),
                    title,
                    author,
                    status,
                    now_iso(),
                    base_ref if pull_request else None,
                    base_commit,
                ),
            )
            self._event(db, repo, num, "comment", author, _comment_data(description, author))
        return num

    def get(self, repo: Repo, num: int) -> Discussion | None:
        """Discussion ``num`` of the repo."""
        row = self.storage._one(f"SELECT {_COLUMNS} FROM discussions WHERE repo_id = ? AND num = ?", repo.id, num)
        return None if row is None else _row(row)

    def all(self, repo: Repo) -> list[Discussion]:
        """Every discussion of the repo, newest first."""
        rows = self.storage._all(f"SELECT {_COLUMNS} FROM discussions WHERE repo_id = ? ORDER BY num DESC", repo.id)
        return [_row(row) for row in rows]

    def events(self, repo: Repo, num: int) -> list[dict[str, object]]:
        """The events of a discussion in the Hub's JSON form, oldest first."""
        rows = self.storage._all(
            "SELECT id, type, author, created_at, data FROM discussion_events WHERE repo_id = ? AND num = ? "
            "ORDER BY seq",
            repo.id,
            num,
        )
        return [
            {
                "id": str(id_),
                "type": str(kind),
                "author": _user(str(author)),
                "createdAt": str(created),
                "data": json.loads(str(data)),
            }
            for id_, kind, author, created, data in rows
        ]

    def comment(self, repo: Repo, num: int, comment_id: str) -> tuple[str, dict[str, Any]] | None:
        """The author and data of comment ``comment_id`` of discussion ``num``."""
        row = self.storage._one(
            "SELECT author, data FROM discussion_events WHERE repo_id = ? AND num = ? AND id = ? AND type = 'comment'",
            repo.id,
            num,
            comment_id,
        )
        return None if row is None else (str(row[0]), json.loads(str(row[1])))

    def set_comment(self, repo: Repo, num: int, comment_id: str, data: dict[str, Any]) -> None:
        """Replace the data of comment ``comment_id`` (an edit or a hide)."""
        with self.storage._tx() as db:
            db.execute(
                "UPDATE discussion_events SET data = ? WHERE repo_id = ? AND num = ? AND id = ?",
                (json.dumps(data), repo.id, num, comment_id),
            )

    def update(self, repo: Repo, num: int, **fields: str | None) -> None:
        """Set columns (``status``, ``title``, ``merge_commit``) of a discussion."""
        with self.storage._tx() as db:
            for column, value in fields.items():
                assert column in ("status", "title", "merge_commit")
                db.execute(f"UPDATE discussions SET {column} = ? WHERE repo_id = ? AND num = ?", (value, repo.id, num))


def _user(name: str) -> dict[str, object]:
    return {"name": name, "fullname": name, "avatarUrl": "", "type": "user", "isPro": False}


def _latest(text: str, author: str) -> dict[str, object]:
    return {"raw": text, "html": f"<p>{text}</p>" if text else "", "updatedAt": now_iso(), "author": _user(author)}


def _comment_data(text: str, author: str) -> dict[str, object]:
    latest = _latest(text, author)
    return {"edited": False, "hidden": False, "latest": latest, "numEdits": 0, "editors": [author], "history": []}


def _store(ex: Exchange) -> DiscussionStore:
    return ex.app.discussions


def _discussion_json(ex: Exchange, repo: Repo, d: Discussion) -> dict[str, object]:
    return {
        "num": d.num,
        "title": d.title,
        "author": _user(d.author),
        "createdAt": d.created_at,
        "status": d.status,
        "isPullRequest": d.is_pr,
        "repo": {"name": repo.key.repo_id, "type": repo.key.type},
        "numComments": 1,
        "pinned": False,
    }


def _string_field(body: dict[str, object], name: str, *, required: bool = True) -> str:
    value = body.get(name)
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        raise HubError(400, f"Expected a string {name!r} in the request body")
    return value.strip()


_DECIMAL = re.compile(r"[0-9]{1,9}")  # str.isdigit() also takes "²", which int() refuses


def _num(ex: Exchange) -> int:
    if not _DECIMAL.fullmatch(ex.match.arg) or int(ex.match.arg) <= 0:
        raise HubError(400, f"Invalid discussion number {ex.match.arg!r}")
    return int(ex.match.arg)


def _discussion(ex: Exchange, repo: Repo) -> Discussion:
    d = _store(ex).get(repo, _num(ex))
    if d is None:
        raise HubError(404, f"Discussion #{ex.match.arg} not found in {repo.key.url_path}")
    return d


def _check_title(title: str) -> str:
    if not 3 <= len(title) <= 200:
        raise HubError(400, "The title must be between 3 and 200 characters long")
    return title


def handle_discussions(ex: Exchange) -> None:
    """``GET .../discussions?type=&status=&author=&p=`` (a page) or ``POST`` ``{title, description, pullRequest}``."""
    if ex.method == "POST":
        user = require_user(ex)
        repo = readable_repo(ex, ex.match.repo)
        body = ex.read_json_object()
        title = _check_title(_string_field(body, "title"))
        description = _string_field(body, "description", required=False)
        pull_request = body.get("pullRequest") is True
        num = _store(ex).create(
            repo,
            title=title,
            author=user,
            description=description,
            pull_request=pull_request,
            status="draft" if pull_request else "open",
        )
        url = f"{ex.endpoint}/{repo.key.url_path}/discussions/{num}"
        ex.send_json({"num": num, "url": url, "pullRequest": pull_request})
        return
    repo = readable_repo(ex, ex.match.repo)
    kind, status = ex.query_value("type") or "all", ex.query_value("status") or "all"
    if kind not in _TYPES or status not in _STATUSES:
        raise HubError(400, f"Invalid type {kind!r} or status {status!r}")
    author, page = ex.query_value("author"), ex.query_value("p") or "0"
    if not _DECIMAL.fullmatch(page):
        raise HubError(400, f"Invalid page {page!r}")
    found = [
        d
        for d in _store(ex).all(repo)
        if (kind == "all" or d.is_pr == (kind == "pull_request"))
        and (status == "all" or d.status in _STATUS_FILTERS.get(status, {status}))
        and (author is None or d.author == author)
    ]
    start = int(page) * _PAGE_SIZE
    discussions = [_discussion_json(ex, repo, d) for d in found[start : start + _PAGE_SIZE]]
    ex.send_json({"count": len(found), "start": start, "numClosedDiscussions": 0, "discussions": discussions})


def _changes(ex: Exchange, repo: Repo, d: Discussion) -> tuple[dict[str, FileEntry], dict[str, FileEntry]]:
    """The files of the PR's base commit and of its head."""
    storage = ex.app.storage
    head = storage.get_ref(repo, f"refs/pr/{d.num}")
    base = storage.files(repo, d.base_commit) if d.base_commit else {}
    return base, storage.files(repo, head) if head else {}


def _diff(base: dict[str, FileEntry], head: dict[str, FileEntry]) -> str:
    lines = []
    for path in sorted(set(base) | set(head)):
        old, new = base.get(path), head.get(path)
        if old != new:
            lines.append(f"diff --git a/{path} b/{path}")
            if old is None:
                lines.append("new file")
            elif new is None:
                lines.append("deleted file")
            lines.append(f"--- {'/dev/null' if old is None else 'a/' + path}")
            lines.append(f"+++ {'/dev/null' if new is None else 'b/' + path}")
    return "\n".join(lines) + ("\n" if lines else "")


def handle_discussion(ex: Exchange) -> None:
    """``GET .../discussions/{num}``: the discussion with its events (and, for a PR, its changes and diff)."""
    repo = readable_repo(ex, ex.match.repo)
    d = _discussion(ex, repo)
    details = _discussion_json(ex, repo, d)
    details["events"] = _store(ex).events(repo, d.num)
    if d.is_pr:
        details["changes"] = {"base": d.base_ref, "mergeCommitId": d.merge_commit, "headCommitId": None}
        base, head = _changes(ex, repo, d)
        branch = _branch_files(ex, repo, d) if d.status in ("open", "draft") else None
        details["filesWithConflicts"] = [] if branch is None else _conflicts(base, head, branch)
        details["diff"] = _diff(base, head)
    ex.send_json(details)


def _may_moderate(ex: Exchange, repo: Repo, d: Discussion) -> bool:
    return ex.user == d.author or can_write(ex, repo.key.namespace)


def _conflicts(base: dict[str, FileEntry], head: dict[str, FileEntry], branch: dict[str, FileEntry]) -> list[str]:
    """The paths a PR changes (``base`` to ``head``) that its branch changed too since, to other contents."""
    return sorted(
        path
        for path in set(base) | set(head)
        if base.get(path) != head.get(path) and branch.get(path) not in (base.get(path), head.get(path))
    )


def _branch_files(ex: Exchange, repo: Repo, d: Discussion) -> dict[str, FileEntry] | None:
    """The files at the head of the PR's base branch; ``None`` where the branch is gone."""
    head = ex.app.storage.get_ref(repo, d.base_ref or "refs/heads/main")
    return None if head is None else ex.app.storage.files(repo, head)


def _squash_message(events: list[dict[str, Any]], d: Discussion, merger: str) -> tuple[str, str]:
    """The title and message of the commit merging pull request ``d``, as the Hub squash-merges: ``<title> (#N)``,
    then a line per commit of the pull request and a ``Co-authored-by`` line per other author of them."""
    commits = [event for event in events if event["type"] == "commit"]
    lines = [f"- {event['data']['subject']} ({str(event['data']['oid'])[:7]})" for event in commits]
    authors = dict.fromkeys(str(event["author"]["name"]) for event in commits if event["author"]["name"] != merger)
    trailers = [f"Co-authored-by: {name} <{name}@users.noreply.huggingface.co>" for name in authors]
    return f"{d.title} (#{d.num})", "\n".join(lines) + ("\n\n\n" + "\n".join(trailers) if trailers else "")


def _merge(ex: Exchange, repo: Repo, d: Discussion, user: str) -> str:
    base, head = _changes(ex, repo, d)

    def build(files: dict[str, FileEntry]) -> dict[str, FileEntry]:
        conflicts = _conflicts(base, head, files)
        if conflicts:  # (the Hub merges with git: both sides changing a file is a conflict for binary files)
            raise HubError(409, f"Pull request #{d.num} has merge conflicts: {', '.join(conflicts)}")
        files = dict(files)
        for path in set(base) | set(head):
            if base.get(path) != head.get(path):
                if path in head:
                    files[path] = head[path]
                else:
                    files.pop(path, None)
        return files

    ref = d.base_ref or "refs/heads/main"
    title, message = _squash_message(_store(ex).events(repo, d.num), d, user)
    try:
        return ex.app.storage.commit(repo, ref=ref, build=build, author=user, title=title, message=message)[0]
    except LookupError as exc:  # the branch was deleted while the pull request stayed open
        branch = ref.removeprefix("refs/heads/")
        raise HubError(400, f"The base branch {branch!r} of pull request #{d.num} no longer exists") from exc


def handle_discussion_change(ex: Exchange) -> None:
    """``POST .../discussions/{num}/{comment,status,merge,title}``."""
    user = require_user(ex)
    repo = readable_repo(ex, ex.match.repo)
    d = _discussion(ex, repo)
    store, resource = _store(ex), ex.match.path
    body = ex.read_json_object()
    comment = _string_field(body, "comment", required=resource == "comment")
    if resource == "comment":
        if not comment:
            raise HubError(400, "The comment must not be empty")
        store.add_event(repo, d.num, "comment", user, _comment_data(comment, user))
        ex.send_json({"newMessage": store.events(repo, d.num)[-1]})
        return
    if resource == "merge":
        if not can_write(ex, repo.key.namespace):
            raise HubError(403, f"You don't have the rights to merge pull requests of {repo.key.url_path}")
        # One transaction from the status check to the status change: of two merges (or a merge and a close) at
        # once, the second sees the first's status; a commit to refs/pr/N lands before (merged) or is refused.
        with ex.app.storage._tx():
            d = _discussion(ex, repo)
            if not d.is_pr or d.status not in ("open", "draft"):
                raise HubError(400, f"Discussion #{d.num} is not an open pull request (status {d.status!r})")
            oid = _merge(ex, repo, d, user)
            if comment:
                store.add_event(repo, d.num, "comment", user, _comment_data(comment, user))
            store.update(repo, d.num, status="merged", merge_commit=oid)
            store.add_event(repo, d.num, "status-change", user, {"status": "merged"})
        ex.send_json({"status": "merged", "mergeCommitId": oid})
        return
    if resource not in ("status", "title"):
        raise HubError(404, f"Unknown discussion action {resource!r}")
    if not _may_moderate(ex, repo, d):
        raise HubError(403, f"Only the author of #{d.num} or the writers of {repo.key.url_path} may change it")
    if resource == "title":
        title = _check_title(_string_field(body, "title"))
        store.update(repo, d.num, title=title)
        store.add_event(repo, d.num, "title-change", user, {"from": d.title, "to": title})
        ex.send_json({"newTitle": store.events(repo, d.num)[-1]})
        return
    status = _string_field(body, "status")
    if status not in ("open", "closed"):
        raise HubError(400, f"Invalid status {status!r}: use 'open' or 'closed'")
    with ex.app.storage._tx():  # the status checked is the one changed (see merge)
        d = _discussion(ex, repo)
        if d.status == "merged":
            raise HubError(400, f"Pull request #{d.num} is merged: its status cannot change")
        if comment:
            store.add_event(repo, d.num, "comment", user, _comment_data(comment, user))
        store.update(repo, d.num, status=status)
        store.add_event(repo, d.num, "status-change", user, {"status": status})
        event = store.events(repo, d.num)[-1]
    ex.send_json({"newStatus": event})


def handle_comment_change(ex: Exchange) -> None:
    """``POST .../discussions/{num}/comment/{id}/edit`` (``{"content": ...}``) and ``.../hide``."""
    user = require_user(ex)
    repo = readable_repo(ex, ex.match.repo)
    d = _discussion(ex, repo)
    store, comment_id = _store(ex), ex.match.path
    found = store.comment(repo, d.num, comment_id)
    if found is None:
        raise HubError(404, f"Comment {comment_id!r} not found in discussion #{d.num} of {repo.key.url_path}")
    author, data = found
    if ex.match.name == "comment-edit":
        content = _string_field(ex.read_json_object(), "content")
        if user != author:
            raise HubError(403, f"Only the author of comment {comment_id!r} ({author}) may edit it")
        if data["hidden"]:
            raise HubError(400, f"Comment {comment_id!r} is hidden: it cannot be edited")
        if not content:
            raise HubError(400, "The comment must not be empty")
        data |= {"edited": True, "numEdits": data["numEdits"] + 1, "history": [data["latest"], *data["history"]]}
        data |= {"latest": _latest(content, user), "editors": sorted({*data["editors"], user})}
    elif not data["hidden"]:
        if user != author and not can_write(ex, repo.key.namespace):
            raise HubError(
                403, f"Only the author of comment {comment_id!r} or the writers of {repo.key.url_path} may hide it"
            )
        data |= {"hidden": True, "hiddenBy": user, "latest": _latest("", author), "history": []}
    store.set_comment(repo, d.num, comment_id, data)
    ex.send_json({"updatedComment": next(e for e in store.events(repo, d.num) if e["id"] == comment_id)})


def check_pr_push(ex: Exchange, repo: Repo, ref: str) -> None:
    """A commit to ``refs/pr/N``: only the PR's author or the repo's writers, and not once merged or closed.

    Checked early (before the body is read), then again in the commit's transaction (`pr_commit_transaction`).
    """
    if not ref.startswith("refs/pr/") or not ref[len("refs/pr/") :].isdigit():
        return
    d = _store(ex).get(repo, int(ref[len("refs/pr/") :]))
    if d is None:
        if not can_write(ex, repo.key.namespace):
            raise HubError(403, f"You don't have the rights to write to {ref} of {repo.key.url_path}")
        return
    if not _may_moderate(ex, repo, d):
        raise HubError(403, f"Only the author of pull request #{d.num} or the repo's writers may push to {ref}")
    if d.status == "closed":
        raise HubError(400, f"Pull request #{d.num} is closed: reopen it (or open a new one) to push")
    if d.status == "merged":
        raise HubError(400, f"Pull request #{d.num} is merged: open a new pull request to push more changes")


@contextmanager
def pr_commit_transaction(ex: Exchange, repo: Repo, ref: str) -> Iterator[None]:
    """One transaction for a commit to ``ref`` and its `record_pr_commit`, where `check_pr_push` holds: a commit to
    ``refs/pr/N`` lands before a concurrent merge or close of the PR (and is part of the merge) or is refused."""
    with ex.app.storage._tx():
        check_pr_push(ex, repo, ref)
        yield


def record_pr_commit(ex: Exchange, repo: Repo, ref: str, oid: str, pr_num: int | None, title: str, body: str) -> None:
    """After a commit: a ``create_pr`` commit opens PR ``pr_num``; a commit to ``refs/pr/N`` is an event of PR N."""
    assert ex.user is not None
    store = _store(ex)
    if pr_num is not None:
        record = ex.app.storage.get_commit(repo, oid)
        parent = None if record is None else record.parent
        base_ref = ref if ref.startswith("refs/heads/") else "refs/heads/main"
        store.create(
            repo,
            title=title,
            author=ex.user,
            description=body,
            pull_request=True,
            num=pr_num,
            base_commit=parent,
            base_ref=base_ref,
        )
        num = pr_num
    elif ref.startswith("refs/pr/") and ref[len("refs/pr/") :].isdigit():
        num = int(ref[len("refs/pr/") :])
        d = store.get(repo, num)
        if d is None:
            return
        if d.status == "draft":
            store.update(repo, num, status="open")
    else:
        return
    store.add_event(repo, num, "commit", ex.user, {"subject": title, "oid": oid})
