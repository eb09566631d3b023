"""Buckets API: ``GET /api/buckets/{namespace}`` (list), ``POST``/``GET``/``DELETE /api/buckets/{namespace}/{name}``
(create, info, delete), ``PUT /api/buckets/{id}/settings`` and ``GET /api/buckets/{id}/xet-{read,write}-token``.
Moves go through ``POST /api/repos/move`` with ``"type": "bucket"`` (see `_admin`).

Access rules are those of repositories: a public bucket is read by everyone, a private one by those who may read its
namespace (its owner, the members of its organization; others get ``404``); creating, changing, deleting a bucket or
writing its files needs a write token and write access to the namespace (``403`` otherwise). ``me`` as the namespace
of a creation or a listing names the caller. Resource groups and regions answer ``501``.
"""

from __future__ import annotations

from hubmixin_core.testing._access import account_name, can_read, can_write, require_namespace_writer, require_user
from hubmixin_core.testing._http import Exchange, HubError
from hubmixin_core.testing._repos import check_repo_name
from hubmixin_core.testing._storage import Repo
from hubmixin_core.testing._tree import send_page
from hubmixin_core.testing.xet._handlers import send_xet_token

__all__ = [
    "bucket_not_found",
    "handle_bucket",
    "handle_bucket_settings",
    "handle_bucket_xet_token",
    "handle_buckets",
    "readable_bucket",
    "writable_bucket",
]

_CREATE_FIELDS = {"visibility", "private"}
_UNSUPPORTED_FIELDS = {"resourceGroupId": "resource groups", "region": "storage regions"}


def bucket_not_found(bucket_id: str) -> HubError:
    """404 ``RepoNotFound`` on a bucket route, which the client raises as ``BucketNotFoundError``."""
    return HubError(404, f"Bucket not found: {bucket_id}", code="RepoNotFound")


def readable_bucket(ex: Exchange) -> Repo:
    """The bucket the route names if the caller may read it; 404 otherwise (private buckets stay invisible)."""
    key = ex.match.repo
    assert key is not None
    bucket = ex.app.buckets.get(key.namespace, key.name)
    if bucket is None or not can_read(ex, bucket):
        raise bucket_not_found(key.repo_id)
    return bucket


def writable_bucket(ex: Exchange) -> Repo:
    """The bucket the route names if the caller may write to it (with a write token); 401/403/404 otherwise."""
    user = require_user(ex)
    bucket = readable_bucket(ex)
    if not can_write(ex, bucket.key.namespace):
        raise HubError(403, f"You don't have the rights to write to bucket {bucket.key.repo_id} (user {user!r})")
    return bucket


def _url(ex: Exchange, bucket_id: str) -> str:
    return f"{ex.endpoint}/buckets/{bucket_id}"


def _bucket_json(ex: Exchange, bucket: Repo) -> dict[str, object]:
    count, size = ex.app.buckets.usage(bucket)
    return {
        "_id": f"{bucket.id:024x}",
        "id": bucket.key.repo_id,
        "author": bucket.key.namespace,
        "private": bucket.private,
        "createdAt": bucket.created_at,
        "size": size,
        "totalFiles": count,
    }


def _private_field(body: dict[str, object]) -> bool | None:
    """``private`` from ``{"private": bool}`` or ``{"visibility": "private"|"public"}``; ``None`` when absent."""
    private = body.get("private")
    if private is not None and not isinstance(private, bool):
        raise HubError(400, "private must be true or false")
    if "visibility" in body:
        if body["visibility"] not in ("private", "public"):
            raise HubError(400, f"visibility must be 'private' or 'public', not {body['visibility']!r}")
        private = body["visibility"] == "private"
    return private


def _namespace(ex: Exchange, namespace: str) -> str:
    """``namespace`` as its account was created (names are case-insensitive), the caller for ``me``."""
    return require_user(ex, write=False) if namespace == "me" else account_name(ex.app, namespace)


def handle_buckets(ex: Exchange) -> None:
    """``GET /api/buckets/{namespace}[?search=]``: the buckets of a user or organization the caller may see, newest
    first (paginated); ``DELETE`` there (a bucket id without its namespace) answers 404 as on the Hub."""
    if ex.method == "DELETE":
        raise bucket_not_found(ex.match.arg)
    namespace = _namespace(ex, ex.match.arg)
    if not (ex.app.storage.user_exists(namespace) or ex.app.orgs.exists(namespace)):
        raise HubError(404, f"No user or organization {namespace!r}")
    search = (ex.query_value("search") or "").lower()
    buckets = ex.app.buckets.in_namespace(namespace)
    items: list[object] = [
        _bucket_json(ex, bucket) for bucket in buckets if can_read(ex, bucket) and search in bucket.key.name.lower()
    ]
    send_page(ex, items)


def handle_bucket(ex: Exchange) -> None:
    """``GET`` (info), ``POST`` (create: ``{"visibility"}``) or ``DELETE`` ``/api/buckets/{namespace}/{name}``."""
    if ex.method == "POST":
        _create(ex)
    elif ex.method == "DELETE":
        ex.app.buckets.delete(writable_bucket(ex))
        ex.send_bytes(200, b"", {})
    else:
        ex.send_json(_bucket_json(ex, readable_bucket(ex)))


def _create(ex: Exchange) -> None:
    key = ex.match.repo
    assert key is not None
    require_user(ex)
    namespace = _namespace(ex, key.namespace)
    name = check_repo_name(key.name, "bucket")
    require_namespace_writer(ex, namespace)
    body = ex.read_json_object()
    if unsupported := sorted(_UNSUPPORTED_FIELDS.get(field, field) for field in set(body) - _CREATE_FIELDS):
        raise HubError(501, f"Bucket options {unsupported} are not supported by the local Hub (hubmixin LocalHub)")
    bucket_id = f"{namespace}/{name}"
    if ex.app.buckets.create(namespace, name, private=bool(_private_field(body))) is None:
        ex.send_json({"error": f"You already created this bucket: {bucket_id}", "url": _url(ex, bucket_id)}, 409)
        return
    ex.send_json({"url": _url(ex, bucket_id), "id": bucket_id, "name": bucket_id})


def handle_bucket_settings(ex: Exchange) -> None:
    """``PUT /api/buckets/{id}/settings`` ``{"private": bool}`` (or ``{"visibility": ...}``)."""
    bucket = writable_bucket(ex)
    body = ex.read_json_object()
    if unsupported := sorted(set(body) - _CREATE_FIELDS):
        raise HubError(501, f"Bucket settings {unsupported} are not supported by the local Hub (hubmixin LocalHub)")
    private = _private_field(body)
    if private is not None:
        ex.app.storage.set_private(bucket, private)
    ex.send_json({"private": bucket.private if private is None else private})


def handle_bucket_xet_token(ex: Exchange) -> None:
    """``GET /api/buckets/{id}/xet-write-token`` (for the bucket's writers) or ``.../xet-read-token`` (readers)."""
    write = ex.match.arg == "xet-write-token"
    send_xet_token(ex, writable_bucket(ex) if write else readable_bucket(ex), write=write)
