"""Repository listing and administration: ``list_models`` (filters, ``sort=``), ``list_user_repos`` (``hf repos ls``,
of the caller or of an organization), ``auth_check`` (``GatedRepo`` for a gated repository the caller has no access
to), ``update_repo_settings`` (visibility, ``gated``: see `_access` for what gating restricts and `_access_requests`
for the requests), ``move_repo``, ``super_squash_history``."""

from __future__ import annotations

from hubmixin_core.testing._access import (
    account_name,
    can_read,
    downloadable_repo,
    namespace_role,
    require_namespace_writer,
    require_user,
    writable_repo,
)
from hubmixin_core.testing._buckets import BUCKET
from hubmixin_core.testing._cards import read_card
from hubmixin_core.testing._http import Exchange, HubError, revision_not_found
from hubmixin_core.testing._org_api import existing_org
from hubmixin_core.testing._repos import check_repo_name
from hubmixin_core.testing._safetensors import safetensors_info
from hubmixin_core.testing._sort import sort_listing
from hubmixin_core.testing._storage import Repo, RepoKey

__all__ = [
    "handle_auth_check",
    "handle_list_repos",
    "handle_move_repo",
    "handle_org_repos",
    "handle_repo_settings",
    "handle_squash",
    "handle_user_repos",
]

_TYPES = {"models": "model", "datasets": "dataset", "spaces": "space"}


def handle_list_repos(ex: Exchange) -> None:
    """``GET /api/{type}s?search=&author=&filter=&pipeline_tag=&gated=&sort=&direction=&limit=``: readable repos
    (private ones for the members of their namespace).

    ``filter`` values must all be tags of the repository (from its card, see `card_tags`); ``cardData=True``
    adds the card metadata, ``full=True`` that and the head commit (``sha``) and files (``siblings``), which
    ``expand=sha``/``expand=siblings`` ask for one by one; the order is newest first unless ``sort`` says otherwise
    (see `sort_listing`).
    """
    search = (ex.query.get("search") or [""])[0].lower()
    author = (ex.query.get("author") or [""])[0]
    filters = set(ex.query.get("filter") or [])
    pipeline_tag = ex.query_value("pipeline_tag")
    gated = ex.query_value("gated")
    full = ex.query_flag("full")
    expand = set(ex.query.get("expand") or []) | set(ex.query.get("expand[]") or [])
    card_data = ex.query_flag("cardData") or full or "cardData" in expand
    try:
        limit = int((ex.query.get("limit") or ["0"])[0]) or None
    except ValueError:
        raise HubError(400, "limit must be an integer") from None
    likes = ex.app.likes.counts()
    found: list[tuple[Repo, dict[str, object]]] = []
    for repo in ex.app.storage.list_repos(_TYPES[ex.match.arg]):
        if not can_read(ex, repo):
            continue
        if (author and repo.key.namespace != author) or search not in repo.key.repo_id.lower():
            continue
        if gated is not None and bool(repo.gated) != (gated.lower() == "true"):
            continue
        head = ex.app.storage.resolve(repo, "main")
        card = read_card(ex.app, repo, head)
        if not filters <= set(card.tags) or pipeline_tag not in (None, card.text("pipeline_tag")):
            continue
        record = ex.app.storage.get_commit(repo, head) if head is not None else None
        item: dict[str, object] = {"_id": f"{repo.id:024x}", "id": repo.key.repo_id, "private": repo.private}
        item |= {"author": repo.key.namespace, "createdAt": repo.created_at, "downloads": 0, "trendingScore": 0}
        item |= {"lastModified": record.created_at if record else repo.created_at, "likes": likes.get(repo.id, 0)}
        item |= {"gated": repo.gated or False} | card.fields(card_data=card_data)
        if head is not None and (full or "sha" in expand):
            item["sha"] = head
        if head is not None and (full or "siblings" in expand):
            item["siblings"] = [{"rfilename": path} for path in ex.app.storage.files(repo, head)]
        if repo.key.type == "model":
            item["modelId"] = repo.key.repo_id
        if head is not None and repo.key.type == "model" and "safetensors" in expand:
            weights = safetensors_info(ex, repo, ex.app.storage.files(repo, head))
            item |= {} if weights is None else {"safetensors": weights}
        found.append((repo, item))
    ex.send_json(sort_listing(found, ex.query_value("sort"), ex.query_value("direction"))[:limit])


def handle_auth_check(ex: Exchange) -> None:
    """``GET /api/{type}s/{repo}/auth-check[/write]``: 200 when the caller may read (or write) the repository; for a
    gated one, reading needs access to its files. As ``auth_check`` documents it: ``RepoNotFound`` (404) for a
    repository the caller cannot see, ``GatedRepo`` (401 anonymously, 403 for a user) for files they may not read;
    anonymous callers read public repositories, writing needs a token."""
    if ex.match.arg == "write":
        writable_repo(ex, ex.match.repo)
    else:
        downloadable_repo(ex, ex.match.repo)
    ex.send_json({"ok": True})


def handle_repo_settings(ex: Exchange) -> None:
    """``PUT /api/{type}s/{repo}/settings`` ``{"private": bool}`` or ``{"visibility": "private"|"public"}``, and
    ``{"gated": "auto"|"manual"|false}``: a gated repository's files are for its namespace's members and the users
    given access (requests accepted at once with ``auto``, by its writers with ``manual``); ``false`` reopens them."""
    repo = writable_repo(ex, ex.match.repo)
    body = ex.read_json_object()
    private = body.get("private")
    if "visibility" in body:
        if body["visibility"] not in ("private", "public"):
            raise HubError(400, f"visibility must be 'private' or 'public', not {body['visibility']!r}")
        private = body["visibility"] == "private"
    unsupported = sorted(set(body) - {"private", "visibility", "gated"})
    if unsupported:
        raise HubError(501, f"Repository settings {unsupported} are not supported by the local Hub (hubmixin LocalHub)")
    gated = body.get("gated")
    if gated is not None and gated is not False and gated not in ("auto", "manual"):
        raise HubError(400, f"gated must be 'auto', 'manual' or false, not {gated!r}")
    if private is not None and not isinstance(private, bool):
        raise HubError(400, "private must be true or false")
    if private is not None:
        ex.app.storage.set_private(repo, private)
    if gated is not None:
        ex.app.storage.set_gated(repo, gated or "")
    ex.send_json({"private": private if private is not None else repo.private})


def handle_move_repo(ex: Exchange) -> None:
    """``POST /api/repos/move`` ``{"fromRepo", "toRepo", "type"}``: rename a repository (or a bucket, ``"type":
    "bucket"``), possibly into another namespace; the caller must be able to write to both (their own, or an
    organization's as a writer)."""
    require_user(ex)
    body = ex.read_json()
    if not isinstance(body, dict) or not all(isinstance(body.get(k), str) for k in ("fromRepo", "toRepo")):
        raise HubError(400, "Expected a JSON object with string fields fromRepo and toRepo")
    repo_type = body.get("type") or "model"
    if repo_type not in (*_TYPES.values(), BUCKET):
        raise HubError(400, f"Unknown repository type {repo_type!r}")
    keys = []
    for field in ("fromRepo", "toRepo"):
        namespace, _, name = str(body[field]).partition("/")
        if not namespace or not name or "/" in name:
            raise HubError(400, f"{field} must be 'namespace/name', not {body[field]!r}")
        keys.append(RepoKey(str(repo_type), account_name(ex.app, namespace), name))
    source, target = keys
    check_repo_name(target.name, "bucket" if repo_type == BUCKET else "repository")
    repo = writable_repo(ex, source)
    require_namespace_writer(ex, target.namespace)
    if not ex.app.storage.move_repo(repo, target):
        raise HubError(409, f"{'Bucket' if repo_type == BUCKET else 'Repository'} {target.repo_id} already exists")
    ex.send_bytes(200, b"", {})


def handle_user_repos(ex: Exchange) -> None:
    """``GET /api/settings/repositories``: the caller's repositories of every type, with their storage (bytes, and
    percent of the namespace's)."""
    _send_namespace_repos(ex, require_user(ex, write=False))


def handle_org_repos(ex: Exchange) -> None:
    """``GET /api/organizations/{org}/settings/repositories``: an organization's repositories (for its members)."""
    require_user(ex, write=False)
    org = existing_org(ex)
    if namespace_role(ex, org) is None:
        raise HubError(403, f"Only the members of {org!r} may list its repositories")
    _send_namespace_repos(ex, org)


def _send_namespace_repos(ex: Exchange, namespace: str) -> None:
    storage = ex.app.storage
    repos = [
        (repo_type, repo, storage.used_storage(repo))
        for repo_type in _TYPES.values()
        for repo in storage.list_repos(repo_type)
        if repo.key.namespace == namespace
    ]
    total = sum(size for _, _, size in repos)
    found: list[dict[str, object]] = []
    for repo_type, repo, size in repos:
        head = storage.resolve(repo, "main")
        record = storage.get_commit(repo, head) if head is not None else None
        found.append(
            {
                "id": repo.key.repo_id,
                "type": repo_type,
                "updatedAt": record.created_at if record is not None else repo.created_at,
                "visibility": "private" if repo.private else "public",
                "storage": size,
                "storagePercent": 100 * size / total if total else 0.0,  # its share of the namespace's storage
            }
        )
    ex.send_json(found)


def handle_squash(ex: Exchange) -> None:
    """``POST /api/{type}s/{repo}/super-squash/{branch}`` ``{"message"}``: the branch's history becomes one commit."""
    user = require_user(ex)
    repo = writable_repo(ex, ex.match.repo)
    body = ex.read_json()
    message = body.get("message") if isinstance(body, dict) else None
    title = message if isinstance(message, str) and message else f"Super-squash branch '{ex.match.arg}'"
    if ex.app.storage.squash(repo, f"refs/heads/{ex.match.arg}", author=user, title=title) is None:
        raise revision_not_found(ex.match.arg)
    ex.send_json({})
