"""Access control like the Hub's: public reads, invisible private repos, writes only by owners."""

from __future__ import annotations

from hubmixin_core.testing._gitmeta import InvalidPathError, validate_repo_path
from hubmixin_core.testing._http import Exchange, HubError, repo_not_found, revision_not_found
from hubmixin_core.testing._storage import Repo, RepoKey

__all__ = ["readable_repo", "require_user", "resolve_revision", "safe_path", "writable_repo"]


def require_user(ex: Exchange, *, write: bool = True) -> str:
    """The authenticated user; 401 when anonymous, 403 when ``write`` and the token is read-only."""
    if ex.user is None:
        raise HubError(401, "Authentication required: pass a valid token (`token=...` or the HF_TOKEN variable)")
    if write and not ex.can_write:
        raise HubError(403, "This token is read-only: writing needs a token with the write role")
    return ex.user


def readable_repo(ex: Exchange, key: RepoKey | None) -> Repo:
    """The repo if the caller may read it; 404 ``RepoNotFound`` otherwise (private repos stay invisible)."""
    assert key is not None
    repo = ex.app.storage.get_repo(key)
    if repo is None or (repo.private and ex.user != repo.key.namespace):
        raise repo_not_found(key.repo_id)
    return repo


def writable_repo(ex: Exchange, key: RepoKey | None, *, pull_request: bool = False) -> Repo:
    """The repo if the caller may write to it (any reader with a write token may open a pull request)."""
    user = require_user(ex)
    repo = readable_repo(ex, key)
    if not pull_request and user != repo.key.namespace:
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
