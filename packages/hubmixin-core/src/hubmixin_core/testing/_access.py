"""Access control like the Hub's: public reads, invisible private repos, writes only by the namespace's writers,
gated files only for those given access.

A user reads and writes their own namespace; in an organization's namespace, members of every role read (private
repositories included) and members with the ``write`` or ``admin`` role write (see `OrgStore`). The files of a
gated repository (its contents: downloads, Xet reads, copies, pull requests) are for the members of its namespace
and the users whose access request was accepted (see `_access_requests`); its metadata stays visible to all readers,
and so does its card (``README.md``), as on the Hub, where the gate's terms are read on the repository page.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from hubmixin_core.testing._gitmeta import InvalidPathError, validate_repo_path
from hubmixin_core.testing._http import Exchange, HubError, repo_not_found, revision_not_found
from hubmixin_core.testing._orgs import WRITE_ROLES, OrgRole
from hubmixin_core.testing._storage import Repo, RepoKey

if TYPE_CHECKING:
    from hubmixin_core.testing._app import HubApp

__all__ = [
    "UNGATED_FILES",
    "account_name",
    "can_read",
    "can_write",
    "downloadable_repo",
    "gated_error",
    "has_file_access",
    "namespace_role",
    "readable_repo",
    "require_file_access",
    "require_namespace_writer",
    "require_user",
    "resolve_revision",
    "safe_path",
    "user_role",
    "writable_repo",
]

UNGATED_FILES = frozenset({"README.md"})
"""Files of a gated repository that every reader may download (the card, which shows the gate's terms)."""


def require_user(ex: Exchange, *, write: bool = True) -> str:
    """The authenticated user; 401 when anonymous, 403 when ``write`` and the token is read-only."""
    if ex.user is None:
        raise HubError(401, "Authentication required: pass a valid token (`token=...` or the HF_TOKEN variable)")
    if write and not ex.can_write:
        raise HubError(403, "This token is read-only: writing needs a token with the write role")
    return ex.user


def user_role(app: HubApp, user: str | None, namespace: str) -> OrgRole | None:
    """The role of ``user`` in ``namespace``: ``admin`` of their own, their role in an organization, else ``None``."""
    if user is None:
        return None
    if user.lower() == namespace.lower():  # names are ASCII and case-insensitive, like repository ids
        return "admin"
    return app.orgs.role(namespace, user)


def account_name(app: HubApp, namespace: str) -> str:
    """The user or organization ``namespace`` names, as created (names are case-insensitive); else ``namespace``."""
    return app.storage.user_name(namespace) or app.orgs.name(namespace) or namespace


def namespace_role(ex: Exchange, namespace: str) -> OrgRole | None:
    """The caller's role in ``namespace`` (see `user_role`)."""
    return user_role(ex.app, ex.user, namespace)


def can_read(ex: Exchange, repo: Repo) -> bool:
    """Whether the caller may see ``repo``: a public one, or a private one of a namespace they belong to."""
    return not repo.private or namespace_role(ex, repo.key.namespace) is not None


def can_write(ex: Exchange, namespace: str) -> bool:
    """Whether the caller's role lets them write to the repositories of ``namespace`` (token role aside)."""
    return namespace_role(ex, namespace) in WRITE_ROLES


def require_namespace_writer(ex: Exchange, namespace: str) -> str:
    """The caller, if they may create repositories in ``namespace`` (with a write token); 401/403 otherwise (the
    Hub's message, then who the token's user is and where they may create one)."""
    user = require_user(ex)
    if not can_write(ex, namespace):
        denied = f"You don't have the rights to create a repository under the namespace {namespace!r}"
        raise HubError(403, f"{denied}: {_where_to_create(ex.app, user, namespace)}")
    return user


def _where_to_create(app: HubApp, user: str, namespace: str) -> str:
    """What a ``user`` refused the creation of a repository in ``namespace`` can do instead: the token is theirs,
    so their own namespace, or an organization they write to. (Which user is a ``LocalHub``'s ``username`` is not
    known here: servers sharing a root each have their own, and ``add_user`` adds others.)"""
    own = f"this token belongs to the user {user!r}: create the repository as '{user}/<name>'"
    org = app.orgs.name(namespace)
    if org is not None:
        role = app.orgs.role(org, user)
        member = f"a member with the {role!r} role" if role is not None else "no member"
        return f"{own}, or be given the 'write' role in the organization {org!r}, where {user!r} is {member}"
    if app.storage.user_name(namespace) is not None:
        return f"{own}; {account_name(app, namespace)!r} is another user"
    return (
        f"{own}, or create the organization {namespace!r} with {user!r} as a writer "
        f"(LocalHub.add_organization({namespace!r}, members={{{user!r}: 'write'}}), or `hubmixin hub serve --org "
        f"{namespace}`)"
    )


def has_file_access(app: HubApp, user: str | None, repo: Repo) -> bool:
    """Whether ``user`` (``None``: anonymous) may read the files of ``repo``, which they can see: any reader of a
    repo that is not gated; for a gated one, the members of its namespace and the users whose request was accepted."""
    if not repo.gated:
        return True
    if user is None:
        return False
    if user_role(app, user, repo.key.namespace) is not None:
        return True
    request = app.access_requests.get(repo, user)
    return request is not None and request.status == "accepted"


def gated_error(app: HubApp, user: str | None, repo: Repo) -> HubError:
    """The Hub's ``GatedRepo`` answer to ``user`` for ``repo``: 401 when anonymous, 403 otherwise."""
    what = f"{repo.key.type} {repo.key.repo_id}"
    if user is None:
        message = f"Access to {what} is restricted. You must have access to it and be authenticated to access it."
        return HubError(401, message + " Please log in.", code="GatedRepo")
    request = app.access_requests.get(repo, user)
    if request is not None and request.status == "pending":
        message = f"Your request to access {what} is awaiting a review from the repo authors."
    elif request is not None and request.status == "rejected":
        message = f"Your request to access {what} has been rejected by the repo's authors."
        if request.rejection_reason:
            message += f" Reason: {request.rejection_reason}"
    else:
        message = (
            f"Access to {what} is restricted and you are not in the authorized list. "
            f"Visit {app.endpoint}/{repo.key.url_path} to ask for access."
        )
    return HubError(403, message, code="GatedRepo")


def require_file_access(ex: Exchange, repo: Repo) -> None:
    """Raise the Hub's ``GatedRepo`` error unless the caller may read the files of ``repo`` (see `has_file_access`)."""
    if not has_file_access(ex.app, ex.user, repo):
        raise gated_error(ex.app, ex.user, repo)


def downloadable_repo(ex: Exchange, key: RepoKey | None) -> Repo:
    """The repo if the caller may read its files: `readable_repo`, then `require_file_access`."""
    repo = readable_repo(ex, key)
    require_file_access(ex, repo)
    return repo


def readable_repo(ex: Exchange, key: RepoKey | None) -> Repo:
    """The repo if the caller may read it; 404 ``RepoNotFound`` otherwise (private repos stay invisible).

    A request naming a renamed repository in its path is redirected to its new name (``307``), as on the Hub.
    """
    assert key is not None
    repo = ex.app.storage.get_repo(key)
    if repo is None and key == ex.match.repo and (moved := ex.app.storage.moved_repo(key)) and can_read(ex, moved):
        raise _moved_error(ex, key, moved)
    if repo is None or not can_read(ex, repo):
        raise repo_not_found(key.repo_id)
    return repo


def _moved_error(ex: Exchange, old: RepoKey, repo: Repo) -> HubError:
    """A ``307`` to the request's URL with the repository's new name in place of ``old`` (same method and body)."""
    path, question, query = ex.handler.path.partition("?")
    segment = re.compile(rf"/{re.escape(old.namespace)}/{re.escape(old.name)}(?=/|\.git/|$)")
    location = segment.sub(f"/{repo.key.namespace}/{repo.key.name}", path, count=1) + question + query
    message = f"Repository {old.repo_id} was moved to {repo.key.repo_id}"
    return HubError(307, message, headers={"Location": location})


def writable_repo(ex: Exchange, key: RepoKey | None, *, pull_request: bool = False) -> Repo:
    """The repo if the caller may write to it (any reader with a write token, and access to the files of a gated
    repo, may open a pull request)."""
    user = require_user(ex)
    repo = readable_repo(ex, key)
    if not can_write(ex, repo.key.namespace):
        if not pull_request:
            raise HubError(403, f"You don't have the rights to write to {repo.key.url_path} (user {user!r})")
        require_file_access(ex, repo)
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
