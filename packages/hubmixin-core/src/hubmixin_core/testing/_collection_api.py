"""Collections API: ``GET``/``POST /api/collections``, ``GET``/``PATCH``/``DELETE /api/collections/{slug}``,
``POST /api/collections/{slug}/items`` and ``PATCH``/``DELETE /api/collections/{slug}/items/{item_id}``.

A public collection is seen by everyone, a private one by those who may read its namespace (its owner, the members
of its organization); changing one (or creating one) needs a write token and write access to the namespace (the
user's own, or an organization's with the ``write`` or ``admin`` role). A collection the caller may not see answers
404, one they may see but not change 403. Items of repositories or collections the caller may not read are left
out of the answers. An item must exist and be readable when added: a repository of the given type, a collection
(by slug or id); papers are taken as opaque ids. ``bucket`` items and resource groups answer 501.
"""

from __future__ import annotations

import html
import itertools
import random

from hubmixin_core.testing._access import (
    account_name,
    can_read,
    can_write,
    namespace_role,
    readable_repo,
    require_user,
)
from hubmixin_core.testing._collections import (
    ITEM_TYPES,
    REPO_ITEM_TYPES,
    THEMES,
    Collection,
    CollectionItem,
    TitleTakenError,
    title_slug,
)
from hubmixin_core.testing._http import Exchange, HubError
from hubmixin_core.testing._storage import RepoKey

__all__ = [
    "handle_add_collection_item",
    "handle_collection",
    "handle_collection_item",
    "handle_collections",
]

_DESCRIPTION_LIMIT = 150
_NOTE_LIMIT = 500
_LISTED_ITEMS = 4  # a listing shows the first items of each collection, as the Hub does
_SORTS = ("lastModified", "trending", "upvotes")
_PLURALS = {f"{kind}s": kind for kind in ITEM_TYPES}
_UNSUPPORTED = "is not supported by the local Hub (hubmixin LocalHub)"


# Access


def _can_see(ex: Exchange, collection: Collection) -> bool:
    return not collection.private or namespace_role(ex, collection.namespace) is not None


def _by_slug(ex: Exchange, slug: str) -> Collection | None:
    """The collection a slug (``namespace/title-id``) or a bare id names, if the caller may see it."""
    namespace, _, rest = slug.rpartition("/")
    found = ex.app.collections.get(rest.rpartition("-")[2])
    if found is None or namespace not in ("", found.namespace) or not _can_see(ex, found):
        return None
    return found


def _readable(ex: Exchange) -> Collection:
    found = _by_slug(ex, ex.match.arg)
    if found is None:
        raise HubError(404, f"Collection not found: {ex.match.arg}")
    return found


def _writable(ex: Exchange) -> Collection:
    user = require_user(ex)
    found = _readable(ex)
    if not can_write(ex, found.namespace):
        raise HubError(403, f"You don't have the rights to change the collection {found.slug} (user {user!r})")
    return found


# Request bodies


def _body(ex: Exchange, allowed: set[str]) -> dict[str, object]:
    body = ex.read_json_object()
    unsupported = sorted(set(body) - allowed)
    if unsupported:
        raise HubError(501, f"Collection fields {unsupported} {_UNSUPPORTED}")
    return body


def _text(body: dict[str, object], field: str, limit: int | None = None) -> str | None:
    value = body.get(field)
    if value is None:
        return None
    if not isinstance(value, str):
        raise HubError(400, f"{field} must be a string")
    if limit is not None and len(value) > limit:
        raise HubError(400, f"{field} is too long: at most {limit} characters")
    return value


def _title(body: dict[str, object]) -> str | None:
    title = _text(body, "title")
    if title is not None and not title_slug(title):
        raise HubError(400, "title must contain a letter or a digit")
    return title


def _position(body: dict[str, object]) -> int | None:
    position = body.get("position")
    if position is not None and (not isinstance(position, int) or isinstance(position, bool) or position < 0):
        raise HubError(400, "position must be a non-negative integer")
    return position


def _flag(body: dict[str, object], field: str) -> bool | None:
    value = body.get(field)
    if value is not None and not isinstance(value, bool):
        raise HubError(400, f"{field} must be true or false")
    return value


# Answers


def _owner(ex: Exchange, namespace: str) -> dict[str, object]:
    kind = "org" if ex.app.orgs.exists(namespace) else "user"
    owner: dict[str, object] = {"name": namespace, "fullname": namespace, "avatarUrl": "", "type": kind}
    return owner | {"isPro": False, "isHf": False, "isHfAdmin": False, "isMod": False}


def _summary(ex: Exchange, collection: Collection) -> dict[str, object]:
    """What a collection and an item of type ``collection`` share."""
    data: dict[str, object] = {"slug": collection.slug, "title": collection.title}
    if collection.description is not None:
        data["description"] = collection.description
    data |= {"lastUpdated": collection.updated_at, "owner": _owner(ex, collection.namespace)}
    data |= {"theme": collection.theme, "upvotes": 0, "isUpvotedByUser": False}
    return data | {"shareUrl": f"{ex.endpoint}/collections/{collection.slug}"}


def _visible(ex: Exchange, item: CollectionItem) -> bool:
    """Whether the caller may see the item (a readable repo, a collection they may see, any paper)."""
    if item.repo is not None:
        return can_read(ex, item.repo)
    if item.type == "collection":
        nested = ex.app.collections.get(item.ref)
        return nested is not None and _can_see(ex, nested)
    return True


def _item_json(ex: Exchange, item: CollectionItem) -> dict[str, object] | None:
    """An item as the Hub shows it; ``None`` for one the caller may not see."""
    data: dict[str, object] = {"_id": item.id, "position": item.position, "type": item.type}
    if item.note is not None:
        data["note"] = {"text": item.note, "html": html.escape(item.note)}
    if not _visible(ex, item):
        return None
    if item.repo is not None:
        repo = item.repo
        head = ex.app.storage.resolve(repo, "main")
        record = ex.app.storage.get_commit(repo, head) if head is not None else None
        data |= {"id": repo.key.repo_id, "author": repo.key.namespace, "repoType": repo.key.type}
        data |= {"private": repo.private, "gated": repo.gated or False, "likes": ex.app.likes.count(repo)}
        return data | {"downloads": 0, "lastModified": record.created_at if record else repo.created_at}
    if item.type == "collection":
        nested = ex.app.collections.get(item.ref)
        assert nested is not None
        readable = sum(_visible(ex, inner) for inner in ex.app.collections.items(nested))
        return data | {"id": nested.id, "numberItems": readable} | _summary(ex, nested)
    return data | {"id": item.ref}  # a paper: LocalHub knows nothing more of it


def _collection_json(ex: Exchange, collection: Collection, *, listed: bool = False) -> dict[str, object]:
    """The collection with its items; a listing's entry has no ``position`` and at most 4 items."""
    shown = (data for item in ex.app.collections.items(collection) if (data := _item_json(ex, item)) is not None)
    items = list(itertools.islice(shown, _LISTED_ITEMS) if listed else shown)
    data = _summary(ex, collection) | {"items": items, "gating": False, "private": collection.private}
    return data if listed else data | {"position": collection.position}


# Handlers


def handle_collections(ex: Exchange) -> None:
    """``GET /api/collections?owner=&item=&sort=&limit=`` (list) or ``POST /api/collections`` (create)."""
    if ex.method == "POST":
        _create(ex)
        return
    owners = {account_name(ex.app, owner) for owner in ex.query.get("owner") or []}
    holders: set[str] | None = None
    for value in ex.query.get("item") or []:
        holders = (holders or set()) | _holders(ex, value)
    sort = ex.query_value("sort")
    if sort is not None and sort not in _SORTS:
        raise HubError(400, f"Unknown sort {sort!r}: use one of {list(_SORTS)}")
    try:
        limit = int(ex.query_value("limit") or 0) or None
    except ValueError:
        raise HubError(400, "limit must be an integer") from None
    if limit is not None and limit < 0:
        raise HubError(400, f"limit must not be negative, not {limit}")
    found = [
        _collection_json(ex, collection, listed=True)
        for collection in ex.app.collections.collections()  # the last updated first: no upvotes nor trends here
        if (not owners or collection.namespace in owners)
        and (holders is None or collection.id in holders)
        and _can_see(ex, collection)
    ]
    ex.send_json(found[:limit])


def _holders(ex: Exchange, value: str) -> set[str]:
    """The ids of the collections holding the item of an ``item=`` filter (``models/ns/name``, ``papers/id`` ...)."""
    plural, _, ref = value.partition("/")
    item_type = _PLURALS.get(plural)
    if item_type is None or not ref:
        raise HubError(400, f"item must be '<type>s/<id>' with a type of {list(ITEM_TYPES)}, not {value!r}")
    if item_type in REPO_ITEM_TYPES:
        namespace, _, name = ref.partition("/")
        repo = ex.app.storage.get_repo(RepoKey(item_type, namespace, name))
        return set() if repo is None or not can_read(ex, repo) else ex.app.collections.holding(item_type, repo=repo)
    if item_type == "collection":
        nested = _by_slug(ex, ref)
        return set() if nested is None else ex.app.collections.holding(item_type, ref=nested.id)
    return ex.app.collections.holding(item_type, ref=ref)


def _create(ex: Exchange) -> None:
    """``POST /api/collections`` ``{title, namespace, private, description}``: 409 with the ``slug`` of a collection
    of the namespace titled alike."""
    user = require_user(ex)
    body = _body(ex, {"title", "namespace", "private", "description", "resourceGroupId"})
    if body.get("resourceGroupId") is not None:
        raise HubError(501, f"Resource groups {_UNSUPPORTED}")
    title = _title(body)
    if title is None:
        raise HubError(400, "Missing 'title' in the request body")
    namespace = account_name(ex.app, _text(body, "namespace") or user)  # (as created: names are case-insensitive)
    if not can_write(ex, namespace):
        raise HubError(403, f"You don't have the rights to create a collection under the namespace {namespace!r}")
    description = _text(body, "description", _DESCRIPTION_LIMIT) or None
    private = bool(_flag(body, "private"))
    theme = random.choice(THEMES)  # any theme: update_collection_metadata(theme=...) picks one
    try:
        created = ex.app.collections.create(namespace, title, description=description, private=private, theme=theme)
    except TitleTakenError as taken:
        slug = taken.existing.slug
        ex.send_json({"error": f"A collection titled alike already exists: {slug}", "slug": slug}, status=409)
        return
    ex.send_json(_collection_json(ex, created))


def handle_collection(ex: Exchange) -> None:
    """``GET`` (read), ``PATCH`` (``{title, description, private, theme, position}``) or ``DELETE`` a collection."""
    if ex.method == "GET":
        ex.send_json(_collection_json(ex, _readable(ex)))
        return
    collection = _writable(ex)
    if ex.method == "DELETE":
        ex.app.collections.delete(collection)
        ex.send_json({"success": True})
        return
    body = _body(ex, {"title", "description", "private", "theme", "position"})
    theme = _text(body, "theme")
    if theme is not None and theme not in THEMES:
        raise HubError(400, f"theme must be one of {list(THEMES)}, not {theme!r}")
    try:
        updated = ex.app.collections.update(
            collection,
            title=_title(body),
            description=_text(body, "description", _DESCRIPTION_LIMIT),
            private=_flag(body, "private"),
            theme=theme,
            position=_position(body),
        )
    except TitleTakenError as taken:
        raise HubError(409, f"A collection titled alike already exists: {taken.existing.slug}") from None
    ex.send_json({"success": True, "data": _collection_json(ex, updated)})


def handle_add_collection_item(ex: Exchange) -> None:
    """``POST /api/collections/{slug}/items`` ``{item: {id, type}, note}``: 404 for an item that does not exist
    (or that the caller may not read), 409 for one already in the collection."""
    collection = _writable(ex)
    body = _body(ex, {"item", "note"})
    item = body.get("item")
    if not isinstance(item, dict) or not isinstance(item.get("id"), str) or not isinstance(item.get("type"), str):
        raise HubError(400, "Expected 'item': {'id': str, 'type': str} in the request body")
    item_id, item_type = str(item["id"]), str(item["type"])
    note = _text(body, "note", _NOTE_LIMIT) or None
    store = ex.app.collections
    if item_type in REPO_ITEM_TYPES:
        namespace, _, name = item_id.partition("/")
        added = store.add_item(
            collection, item_type, repo=readable_repo(ex, RepoKey(item_type, namespace, name)), note=note
        )
    elif item_type == "collection":
        nested = _by_slug(ex, item_id)
        if nested is None:
            raise HubError(404, f"Collection not found: {item_id}")
        added = store.add_item(collection, item_type, ref=nested.id, note=note)
    elif item_type == "paper":
        if not item_id.strip() or "/" in item_id:
            raise HubError(400, f"Invalid paper id {item_id!r}")
        added = store.add_item(collection, item_type, ref=item_id, note=note)
    elif item_type == "bucket":
        raise HubError(501, f"Bucket items {_UNSUPPORTED}")
    else:
        raise HubError(400, f"Unknown item type {item_type!r}: use one of {list(ITEM_TYPES)}")
    if added is None:
        raise HubError(409, f"The {item_type} {item_id} is already in the collection {collection.slug}")
    ex.send_json(_collection_json(ex, store.get(collection.id) or collection))


def handle_collection_item(ex: Exchange) -> None:
    """``PATCH`` (``{note, position}``) or ``DELETE /api/collections/{slug}/items/{item_id}``; 404 if not there."""
    collection = _writable(ex)
    item_id = ex.match.path
    if ex.method == "DELETE":
        found = ex.app.collections.delete_item(collection, item_id)
    else:
        body = _body(ex, {"note", "position"})
        note, position = _text(body, "note", _NOTE_LIMIT), _position(body)
        found = ex.app.collections.update_item(collection, item_id, note=note, position=position)
    if not found:
        raise HubError(404, f"Item {item_id} not found in the collection {collection.slug}")
    ex.send_json({"success": True})
