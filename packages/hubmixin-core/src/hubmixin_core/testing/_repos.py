"""Repository handlers: whoami, create/delete, info, refs, branches and tags."""

from __future__ import annotations

import re

from hubmixin_core.testing._access import (
    account_name,
    readable_repo,
    require_namespace_writer,
    require_user,
    resolve_revision,
    writable_repo,
)
from hubmixin_core.testing._cards import card_errors, read_card
from hubmixin_core.testing._gitmeta import DEFAULT_GITATTRIBUTES, git_blob_oid, lfs_pointer, validate_ref_name
from hubmixin_core.testing._http import ERROR_HEADER_LIMIT, Exchange, HubError, revision_not_found
from hubmixin_core.testing._safetensors import safetensors_info
from hubmixin_core.testing._storage import FileEntry, Repo, RepoKey

__all__ = [
    "check_repo_name",
    "handle_agent_harnesses",
    "handle_branch",
    "handle_create_repo",
    "handle_delete_repo",
    "handle_git",
    "handle_refs",
    "handle_repo_info",
    "handle_tag",
    "handle_validate_yaml",
    "handle_whoami",
]

_REPO_NAME = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9._-]{0,94}[A-Za-z0-9_])?")  # the Hub client's rule
_REPO_NAME_RULE = (
    "up to 96 letters, digits, '-', '_' and '.', neither starting nor ending with '-' or '.', without '--' or "
    "'..', not ending in '.git'"
)
_REPO_TYPES = {None: "model", "model": "model", "dataset": "dataset", "space": "space"}
_CREATE_FIELDS = {"name", "organization", "type", "private", "visibility", "sdk"}
_UNSUPPORTED_FIELDS = {  # what the client sends for options LocalHub does not implement, by the option's name
    "resourceGroupId": "resource groups",
    "region": "storage regions",
    "template": "Space templates",
    "hardware": "Space hardware",
    "sleepTimeSeconds": "Space sleep time",
    "secrets": "Space secrets",
    "variables": "Space variables",
    "volumes": "Space storage volumes",
}


def _repo_url(ex: Exchange, key: RepoKey) -> str:
    return f"{ex.endpoint}/{key.url_path}"


_GIT_UNSUPPORTED = (
    "git (clone, fetch, push) is not supported by the local Hub (hubmixin LocalHub): use the huggingface_hub client"
)


def handle_git(ex: Exchange) -> None:
    """``/{repo}[.git]/info/refs``, ``.../git-upload-pack`` and ``.../git-receive-pack`` (git's smart HTTP protocol):
    not served. A 501 in plain text, which git prints (``remote: ...``) instead of "repository not found"."""
    headers = {"Content-Type": "text/plain; charset=utf-8", "X-Error-Message": _GIT_UNSUPPORTED}
    ex.send_bytes(501, f"{_GIT_UNSUPPORTED}\n".encode(), headers)


def check_repo_name(name: object, what: str = "repository") -> str:
    """``name`` if it is a valid repository (or bucket) name; 400 otherwise."""
    if not isinstance(name, str) or not _valid_name(name):
        raise HubError(400, f"Invalid {what} name {name!r}: {_REPO_NAME_RULE}")
    return name


def _valid_name(name: str) -> bool:
    return bool(_REPO_NAME.fullmatch(name)) and "--" not in name and ".." not in name and not name.endswith(".git")


def _refuse_unsupported_options(body: dict[str, object]) -> None:
    """501 naming the options of ``body`` that LocalHub does not implement (rather than dropping them silently)."""
    given = {field for field, value in body.items() if value is not None}
    if unsupported := sorted(_UNSUPPORTED_FIELDS.get(field, field) for field in given - _CREATE_FIELDS):
        raise HubError(501, f"Repository options {unsupported} are not supported by the local Hub (hubmixin LocalHub)")


def _key_from_body(ex: Exchange, body: dict[str, object], user: str) -> RepoKey:
    name, organization, repo_type = check_repo_name(body.get("name")), body.get("organization"), body.get("type")
    if not (repo_type is None or isinstance(repo_type, str)) or repo_type not in _REPO_TYPES:
        raise HubError(400, f"Invalid repository type {repo_type!r}")
    namespace = account_name(ex.app, organization) if isinstance(organization, str) and organization else user
    return RepoKey(_REPO_TYPES[repo_type if isinstance(repo_type, str) else None], namespace, name)


def handle_whoami(ex: Exchange) -> None:
    """``GET /api/whoami-v2``: the caller, their token's role and their organizations (``roleInOrg``)."""
    user = require_user(ex, write=False)
    role = "write" if ex.can_write else "read"
    orgs = [
        {"type": "org", "id": org, "name": org, "fullname": org, "email": None, "canPay": False, "avatarUrl": ""}
        | {"roleInOrg": org_role, "isEnterprise": False}
        for org, org_role in ex.app.orgs.memberships(user).items()
    ]
    ex.send_json(
        {
            "type": "user",
            "id": user,
            "name": user,
            "fullname": user,
            "email": None,
            "emailVerified": False,
            "isPro": False,
            "orgs": orgs,
            "auth": {"type": "access_token", "accessToken": {"displayName": "localhub", "role": role}},
        }
    )


def handle_agent_harnesses(ex: Exchange) -> None:
    """``GET /api/agent-harnesses``: an empty registry (the client asks for it for telemetry)."""
    ex.send_json({"standardEnvVars": [], "harnesses": {}})


def handle_validate_yaml(ex: Exchange) -> None:
    """``POST /api/validate-yaml`` ``{content, repoType}``: the card's metadata checked as the Hub checks it
    (:func:`~hubmixin_core.testing._cards.card_errors`). Refused: ``400`` with ``{"errors": [{"message"}, ...]}``
    (the client raises ``ValueError("Invalid metadata in README.md ...")``), or, asked for ``text/plain`` as
    ``RepoCard.validate`` asks, a ``- Error: ...`` line per error. No warnings are sent (see ``card_errors``)."""
    body = ex.read_json_object()
    content, repo_type = body.get("content"), body.get("repoType") or "model"
    if not isinstance(content, str) or repo_type not in ("model", "dataset", "space"):
        raise HubError(400, "Expected {'content': <README.md text>, 'repoType': 'model' | 'dataset' | 'space'}")
    errors = card_errors(content, repo_type)
    answer = {"errors": [{"message": m} for m in errors], "warnings": []}
    if not errors:
        ex.send_json(answer)
        return
    headers = {"X-Error-Message": errors[0][:ERROR_HEADER_LIMIT]}
    if "text/plain" in (ex.handler.headers.get("Accept") or ""):
        text = "\n".join(f"- Error: {message}" for message in errors)
        ex.send_bytes(
            400, text.encode(errors="backslashreplace"), {"Content-Type": "text/plain; charset=utf-8", **headers}
        )
    else:
        ex.send_json({"error": "\n".join(errors), **answer}, status=400, headers=headers)


def handle_create_repo(ex: Exchange) -> None:
    """``POST /api/repos/create`` ``{name, organization, type, private | visibility, sdk}`` (``sdk``: a Space's);
    other options (resource group, region, a Space's hardware, secrets ...) answer 501."""
    user = require_user(ex)
    body = ex.read_json_object()
    _refuse_unsupported_options(body)
    key = _key_from_body(ex, body, user)
    require_namespace_writer(ex, key.namespace)
    private = body.get("private") is True or body.get("visibility") in ("private", "protected")
    files = {".gitattributes": DEFAULT_GITATTRIBUTES.encode()}
    sdk = body.get("sdk")
    if key.type == "space" and isinstance(sdk, str):  # as on the Hub, a new Space's card names its SDK
        files["README.md"] = f"---\ntitle: {key.name}\nsdk: {sdk}\n---\n".encode()
    initial = [
        FileEntry(path, ex.app.blobs.put_bytes(data), len(data), False, git_blob_oid(data))
        for path, data in files.items()
    ]
    repo = ex.app.storage.create_repo(key, private=private, author=user, initial=initial)
    url = _repo_url(ex, key)
    if repo is None:
        existing = ex.app.storage.get_repo(key)  # its name may differ in case
        url = _repo_url(ex, existing.key) if existing else url
        ex.send_json({"error": f"You already created this {key.type} repo", "url": url}, status=409)
        return
    ex.send_json({"url": url, "name": key.repo_id, "id": f"{key.type}-{key.repo_id}"})


def handle_delete_repo(ex: Exchange) -> None:
    """``DELETE /api/repos/delete`` ``{name, organization, type}``."""
    user = require_user(ex)
    repo = writable_repo(ex, _key_from_body(ex, ex.read_json_object(), user))
    ex.app.storage.delete_repo(repo)
    ex.app.likes.forget(repo)
    ex.app.collections.forget_repo(repo)
    ex.app.access_requests.forget(repo)
    ex.send_bytes(200, b"", {})


def handle_repo_info(ex: Exchange) -> None:
    """``GET /api/{type}s/{repo}[/revision/{rev}][?blobs=true]``."""
    repo = readable_repo(ex, ex.match.repo)
    commit = resolve_revision(ex, repo, ex.match.revision)
    record = ex.app.storage.get_commit(repo, commit)
    files = ex.app.storage.files(repo, commit)
    blobs = ex.query_flag("blobs")
    siblings: list[dict[str, object]] = []
    for entry in files.values():
        sibling: dict[str, object] = {"rfilename": entry.path}
        if blobs:
            sibling.update(size=entry.size, blobId=entry.git_oid)
            if entry.lfs:
                pointer_size = len(lfs_pointer(entry.sha256, entry.size))
                sibling["lfs"] = {"sha256": entry.sha256, "size": entry.size, "pointerSize": pointer_size}
        siblings.append(sibling)
    info: dict[str, object] = {
        "_id": f"{repo.id:024x}",
        "id": repo.key.repo_id,
        "author": repo.key.namespace,
        "sha": commit,
        "lastModified": record.created_at if record else repo.created_at,
        "createdAt": repo.created_at,
        "private": repo.private,
        "gated": repo.gated or False,
        "disabled": False,
        "downloads": 0,
        "likes": ex.app.likes.count(repo),
        "siblings": siblings,
        "usedStorage": ex.app.storage.used_storage(repo),
    }
    info |= read_card(ex.app, repo, commit).fields(card_data=True)
    if repo.key.type == "model":
        info["modelId"] = repo.key.repo_id
        if (weights := safetensors_info(ex, repo, files)) is not None:
            info["safetensors"] = weights
    ex.send_json(info)


def handle_refs(ex: Exchange) -> None:
    """``GET /api/{type}s/{repo}/refs``: branches, tags and pull requests."""
    repo = readable_repo(ex, ex.match.repo)
    groups: dict[str, list[dict[str, str]]] = {"branches": [], "tags": [], "pullRequests": []}
    prefixes = {"refs/heads/": "branches", "refs/tags/": "tags", "refs/pr/": "pullRequests"}
    for ref, target in ex.app.storage.refs(repo).items():
        for prefix, group in prefixes.items():
            if ref.startswith(prefix):
                name = ref if group == "pullRequests" else ref[len(prefix) :]
                groups[group].append({"name": name, "ref": ref, "targetCommit": target})
    ex.send_json({**groups, "converts": []})


def _ref_name(name: str) -> str:
    try:
        return validate_ref_name(name)
    except ValueError as exc:
        raise HubError(400, str(exc)) from exc


def _deleted_ref_name(name: str) -> str:
    """``name`` of a branch or tag to delete: one that exists may be whatever its name (a persistent root keeps the
    refs an older LocalHub made under other rules), so only names no ref has are refused."""
    if not name or "\x00" in name or ".." in name:
        raise HubError(400, f"Invalid reference name {name!r}")
    return name


def _create_ref(ex: Exchange, repo: Repo, ref: str, target: str) -> None:
    """Create ``ref``; ``409`` in the Hub's words if it exists; ``400`` naming the ref it would nest in or under
    (not a 409, which ``create_branch(exist_ok=True)`` would take for "exists" and hide)."""
    clash = ex.app.storage.create_ref(repo, ref, target)
    if clash == ref:
        raise HubError(409, f"Reference {ref} already exists")
    if clash is not None:
        name = ref.split("/", 2)[2]
        raise HubError(
            400, f"Invalid reference {name!r}: {clash!r} exists (a ref cannot be a folder of another, as in git)"
        )


def handle_branch(ex: Exchange) -> None:
    """``POST`` (create, ``{startingPoint}``) or ``DELETE`` ``/api/{type}s/{repo}/branch/{name}``."""
    repo = writable_repo(ex, ex.match.repo)
    if ex.method == "DELETE":
        name = _deleted_ref_name(ex.match.arg)
        if name == "main":  # (not a 403: the client would blame the token's permissions)
            raise HubError(400, "Cannot delete refs/heads/main")
        if not ex.app.storage.delete_ref(repo, f"refs/heads/{name}"):
            raise revision_not_found(name)
        ex.send_bytes(200, b"", {})
        return
    name = _ref_name(ex.match.arg)
    start = ex.read_json_object().get("startingPoint")
    target = resolve_revision(ex, repo, start if isinstance(start, str) else None)
    _create_ref(ex, repo, f"refs/heads/{name}", target)
    ex.send_json({})


def handle_tag(ex: Exchange) -> None:
    """``POST /api/{type}s/{repo}/tag/{rev}`` ``{tag, message}`` or ``DELETE .../tag/{tag}``."""
    repo = writable_repo(ex, ex.match.repo)
    if ex.method == "DELETE":
        if not ex.app.storage.delete_ref(repo, f"refs/tags/{_deleted_ref_name(ex.match.arg)}"):
            raise revision_not_found(ex.match.arg)
        ex.send_bytes(200, b"", {})
        return
    tag = ex.read_json_object().get("tag")
    if not isinstance(tag, str):
        raise HubError(400, "Missing 'tag' in the request body")
    target = resolve_revision(ex, repo, ex.match.arg)
    _create_ref(ex, repo, f"refs/tags/{_ref_name(tag)}", target)
    ex.send_json({})
