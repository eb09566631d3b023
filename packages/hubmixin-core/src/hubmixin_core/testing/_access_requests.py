"""Access requests of gated repositories: ``GET /api/{type}s/{repo}/user-access-request/{pending,accepted,rejected}``,
``POST .../user-access-request/handle`` ``{"user" | "requestId", "status", "rejectionReason"?}``,
``POST .../user-access-request/grant`` ``{"user"}`` and the web form ``POST /[{type}s/]{repo}/ask-access``.

A user asks for access through the repository page's form (here its ``ask-access`` route, with any token, or
`LocalHub.request_access`): under ``gated="auto"`` the request is accepted at once, under ``"manual"`` it waits in
the pending list; asking again changes nothing. The repository's writers (its owner, or an organization's members
with the write or admin role, with a write token) list the requests and move them between the lists; ``grant``
accepts a user who never asked. Who may download is decided in `_access` (`has_file_access`). Requests live in the
metadata database (they follow a moved repository and go with a deleted one).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal, get_args
from urllib.parse import parse_qs

from hubmixin_core.testing._access import has_file_access, readable_repo, require_user, writable_repo
from hubmixin_core.testing._http import Exchange, HubError, parse_json
from hubmixin_core.testing._storage import Repo, Storage, now_iso
from hubmixin_core.testing._tree import send_page

__all__ = [
    "REQUEST_STATUSES",
    "AccessRequest",
    "AccessRequestStore",
    "RequestStatus",
    "handle_access_request_grant",
    "handle_access_request_handle",
    "handle_access_requests",
    "handle_ask_access",
]

RequestStatus = Literal["pending", "accepted", "rejected"]
"""Where an access request stands: the list it is in."""

REQUEST_STATUSES: tuple[RequestStatus, ...] = get_args(RequestStatus)
_REASON_LIMIT = 200  # characters of a rejection reason, as on the Hub

_SCHEMA = """
CREATE TABLE IF NOT EXISTS access_requests (
    repo_id INTEGER NOT NULL, user TEXT NOT NULL, request_id TEXT NOT NULL UNIQUE, status TEXT NOT NULL,
    created_at TEXT NOT NULL, fields TEXT, rejection_reason TEXT, PRIMARY KEY (repo_id, user));
"""


@dataclass(frozen=True)
class AccessRequest:
    """A user's request for access to a gated repository (or a grant, which is an accepted request)."""

    request_id: str
    user: str
    status: RequestStatus
    created_at: str
    fields: dict[str, object] | None = None
    rejection_reason: str | None = None


def _status(value: object) -> RequestStatus:
    return next((status for status in REQUEST_STATUSES if status == value), "pending")


class AccessRequestStore:
    """Access requests, in the metadata database of `Storage` (same connection and lock)."""

    _COLUMNS = "request_id, user, status, created_at, fields, rejection_reason"

    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        with storage._lock:
            storage._db.executescript(_SCHEMA)

    @staticmethod
    def _from_row(row: tuple[object, ...]) -> AccessRequest:
        request_id, user, status, created, fields, reason = row
        loaded = json.loads(str(fields)) if fields is not None else None
        return AccessRequest(
            str(request_id),
            str(user),
            _status(status),
            str(created),
            loaded if isinstance(loaded, dict) else None,
            None if reason is None else str(reason),
        )

    def get(self, repo: Repo, user: str) -> AccessRequest | None:
        """The request of ``user`` for ``repo``, if any."""
        row = self.storage._one(
            f"SELECT {self._COLUMNS} FROM access_requests WHERE repo_id = ? AND user = ?", repo.id, user
        )
        return None if row is None else self._from_row(row)

    def by_id(self, repo: Repo, request_id: str) -> AccessRequest | None:
        """The request of ``repo`` with this id, if any."""
        row = self.storage._one(
            f"SELECT {self._COLUMNS} FROM access_requests WHERE repo_id = ? AND request_id = ?", repo.id, request_id
        )
        return None if row is None else self._from_row(row)

    def listing(self, repo: Repo, status: RequestStatus) -> list[AccessRequest]:
        """The requests of ``repo`` with ``status``, oldest first."""
        rows = self.storage._all(
            f"SELECT {self._COLUMNS} FROM access_requests WHERE repo_id = ? AND status = ? ORDER BY rowid",
            repo.id,
            status,
        )
        return [self._from_row(row) for row in rows]

    def request(self, repo: Repo, user: str, fields: Mapping[str, object] | None = None) -> AccessRequest:
        """``user`` asks for access to the gated ``repo``: accepted at once under ``gated="auto"``, pending
        otherwise. A user who already asked keeps their request as it is."""
        encoded = json.dumps(dict(fields)) if fields else None
        status: RequestStatus = "accepted" if repo.gated == "auto" else "pending"
        with self.storage._tx() as db:
            db.execute(
                "INSERT OR IGNORE INTO access_requests (repo_id, user, request_id, status, created_at, fields) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (repo.id, user, secrets.token_hex(12), status, now_iso(), encoded),
            )
        found = self.get(repo, user)
        assert found is not None
        return found

    def set_status(self, repo: Repo, user: str, status: RequestStatus, *, reason: str | None = None) -> None:
        """Move the request of ``user`` to ``status`` (``reason``: why it was rejected); a user without a request
        gets one (a grant)."""
        with self.storage._tx() as db:
            db.execute(
                "INSERT INTO access_requests (repo_id, user, request_id, status, created_at, rejection_reason) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (repo_id, user) "
                "DO UPDATE SET status = excluded.status, rejection_reason = excluded.rejection_reason",
                (repo.id, user, secrets.token_hex(12), status, now_iso(), reason),
            )

    def forget(self, repo: Repo) -> None:
        """Drop every request of a deleted repository."""
        with self.storage._tx() as db:
            db.execute("DELETE FROM access_requests WHERE repo_id = ?", (repo.id,))


# Handlers


def _managed_repo(ex: Exchange) -> Repo:
    """The gated repo of the route, if the caller may manage its access requests (its writers, write token)."""
    repo = writable_repo(ex, ex.match.repo)
    if not repo.gated:
        raise HubError(400, f"Repository {repo.key.repo_id} is not gated: update_repo_settings(gated=...) gates it")
    return repo


def _request_json(request: AccessRequest) -> dict[str, object]:
    user = {"user": request.user, "fullname": request.user, "email": None, "avatarUrl": "", "type": "user"}
    item: dict[str, object] = {"user": user | {"isPro": False}, "requestId": request.request_id}
    item |= {"status": request.status, "timestamp": request.created_at}
    if request.fields:
        item["fields"] = request.fields
    if request.rejection_reason is not None:
        item["rejectionReason"] = request.rejection_reason
    return item


def handle_access_requests(ex: Exchange) -> None:
    """``GET .../user-access-request/{pending,accepted,rejected}``: one list, oldest first, in pages."""
    repo = _managed_repo(ex)
    requests = ex.app.access_requests.listing(repo, _status(ex.match.arg))
    send_page(ex, [_request_json(request) for request in requests])


def _existing_user(ex: Exchange, user: object) -> str:
    if not isinstance(user, str) or not ex.app.storage.user_exists(user):
        raise HubError(404, f"User not found: {user}")
    return user


def handle_access_request_handle(ex: Exchange) -> None:
    """``POST .../user-access-request/handle``: move a request to another list (``pending`` is a cancel)."""
    repo = _managed_repo(ex)
    body = ex.read_json_object()
    status, reason = body.get("status"), body.get("rejectionReason")
    if status not in REQUEST_STATUSES:
        raise HubError(400, f"status must be one of {list(REQUEST_STATUSES)}, not {status!r}")
    if reason is not None and (status != "rejected" or not isinstance(reason, str) or len(reason) > _REASON_LIMIT):
        raise HubError(400, f"rejectionReason must be text of at most {_REASON_LIMIT} characters, when rejecting")
    if ("user" in body) == ("requestId" in body):
        raise HubError(400, "Pass exactly one of 'user' and 'requestId'")
    store = ex.app.access_requests
    if "user" in body:
        request = store.get(repo, _existing_user(ex, body["user"]))
    else:
        request_id = body["requestId"]
        request = store.by_id(repo, request_id) if isinstance(request_id, str) else None
    if request is None:
        raise HubError(404, f"No access request of this user for {repo.key.repo_id}")
    if request.status == status:
        raise HubError(404, f"The access request of {request.user} is already {status}")
    store.set_status(repo, request.user, _status(status), reason=reason if isinstance(reason, str) else None)
    ex.send_json({})


def handle_access_request_grant(ex: Exchange) -> None:
    """``POST .../user-access-request/grant`` ``{"user"}``: accept a user, whether they asked or not."""
    repo = _managed_repo(ex)
    user = _existing_user(ex, ex.read_json_object().get("user"))
    if has_file_access(ex.app, user, repo):
        raise HubError(400, f"User {user} already has access to {repo.key.repo_id}")
    ex.app.access_requests.set_status(repo, user, "accepted")
    ex.send_json({})


def _is_form_value(value: object) -> bool:
    scalar = (str, int, float, bool, type(None))
    return isinstance(value, scalar) or (isinstance(value, list) and all(isinstance(v, str) for v in value))


def _form_fields(ex: Exchange) -> dict[str, object]:
    """The fields of the form: a JSON object, or form-encoded (a field given twice becomes a list)."""
    data = ex.read_limited(ex.app.max_json_bytes, "Form body")
    if "json" in (ex.handler.headers.get("Content-Type") or "").lower():
        body = parse_json(data, "JSON body") if data.strip() else {}
        if not isinstance(body, dict) or not all(_is_form_value(value) for value in body.values()):
            raise HubError(400, "Expected a JSON object of form fields: strings, numbers, booleans or lists of strings")
        return body
    try:
        values = parse_qs(data.decode("utf-8"), keep_blank_values=True, errors="strict")
    except UnicodeDecodeError as exc:
        raise HubError(400, f"Malformed form body (not UTF-8): {exc}") from exc
    return {name: found[0] if len(found) == 1 else found for name, found in values.items()}


def handle_ask_access(ex: Exchange) -> None:
    """``POST /[{type}s/]{repo}/ask-access`` (the gate's web form, any token): ask for access; answers the
    request's ``status`` and ``requestId``."""
    user = require_user(ex, write=False)
    repo = readable_repo(ex, ex.match.repo)
    fields = _form_fields(ex)
    if not repo.gated:
        raise HubError(400, f"Repository {repo.key.repo_id} is not gated: there is no access to ask for")
    request = ex.app.access_requests.request(repo, user, fields)
    ex.send_json({"status": request.status, "requestId": request.request_id})
