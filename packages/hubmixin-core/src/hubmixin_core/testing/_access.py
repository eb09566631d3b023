"""Access control like the Hub's: public reads, invisible private repos, writes only by the namespace's writers.

A user reads and writes their own namespace; in an organization's namespace, members of every role read (private
repositories included) and members with the ``write`` or ``admin`` role write (see `OrgStore`).
"""

from __future__ import annotations

from hubmixin_core.testing._gitmeta import InvalidPathError, validate_repo_path
from hubmixin_core.testing._http import Exchange, HubError, repo_not_found, revision_not_found
from hubmixin_core.testing._orgs import WRITE_ROLES, OrgRole
from hubmixin_core.testing._storage import Repo, RepoKey

__all__ = [
    "can_read",
    "can_write",
    "namespace_role",
    "readable_repo",
    "require_namespace_writer",
    "require_user",
    "resolve_revision",
    "safe_path",
    "writable_repo",
]


def require_user(ex: Exchange, *, write: bool = True) -> str:
    """The authenticated user; 401 when anonymous, 403 when ``write`` and the token is read-only."""
    if ex.user is None:
        raise HubError(401, "Authentication required: pass a valid token (`token=...` or the HF_TOKEN variable)")
    if write and not ex.can_write:
        raise HubError(403, "This token is read-only: writing needs a token with the write role")
    return ex.user


def namespace_role(ex: Exchange, namespace: str) -> OrgRole | None:
    """The caller's role in ``namespace``: ``admin`` of their own, their role in an organization, else ``None``."""
    if ex.user is None:
        return None
    if ex.user == namespace:
        return "admin"
    return ex.app.orgs.role(namespace, ex.user)


def can_read(ex: Exchange, repo: Repo) -> bool:
    """Whether the caller may see ``repo``: a public one, or a private one of a namespace they belong to."""
    return not repo.private or namespace_role(ex, repo.key.namespace) is not None


def can_write(ex: Exchange, namespace: str) -> bool:
    """Whether the caller's role lets them write to the repositories of ``namespace`` (token role aside)."""
    return namespace_role(ex, namespace) in WRITE_ROLES


def require_namespace_writer(ex: Exchange, namespace: str) -> str:
    """The caller, if they may create repositories in ``namespace`` (with a write token); 401/403 otherwise."""
    user = require_user(ex)
    if not can_write(ex, namespace):
        raise HubError(403, f"You don't have the rights to create a repository under the namespace {namespace!r}")
    return user


def readable_repo(ex: Exchange, key: RepoKey | None) -> Repo:
    """The repo if the caller may read it; 404 ``RepoNotFound`` otherwise (private repos stay invisible)."""
    assert key is not None
    repo = ex.app.storage.get_repo(key)
    if repo is None or not can_read(ex, repo):
        raise repo_not_found(key.repo_id)
    return repo


def writable_repo(ex: Exchange, key: RepoKey | None, *, pull_request: bool = False) -> Repo:
    """The repo if the caller may write to it (any reader with a write token may open a pull request)."""
    user = require_user(ex)
    repo = readable_repo(ex, key)
    if not pull_request and not can_write(ex, repo.key.namespace):
        raise HubError(403, f"You don't have the rights to write to {repo.key.url_path} (user {user!r})")
    return repo


def resolve_revision(ex: Exchange, repo: Repo, revision: str | None) -> str:
    """The commit id of ``revision`` (default ``main``); 404 ``RevisionNotFound`` if unknown."""
    revision = revision or "main"
    commit = ex.app.storage.resolve(repo, revision)
    if commit is None:
        raise revision_not_found(revision)
    return commit


def safe_path(path: str) -> str:
    """``path`` if it stays inside the repository; 400 otherwise."""
    try:
        return validate_repo_path(path)
    except InvalidPathError as exc:
        raise HubError(400, str(exc)) from exc
