"""Collections through the real client: create, read, list, update, reorder and delete collections and their items,
with the Hub's access rules (private collections, organization namespaces) and what repository moves and deletions
do to the items."""

from __future__ import annotations

import json
from pathlib import Path

import huggingface_hub as hf
import pytest
from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError
from localhub_raw import raw_request

from hubmixin_core.testing import LocalHub

ORG = "my-org"
THEMES = {"orange", "blue", "green", "purple", "pink", "indigo"}


def _status(call: object, *args: object, **kwargs: object) -> int:
    """The HTTP status of the error ``call`` raises."""
    assert callable(call)
    with pytest.raises(HfHubHTTPError) as excinfo:
        call(*args, **kwargs)
    return int(excinfo.value.response.status_code)


def _owner(collection: hf.Collection) -> dict[str, object]:
    owner: object = collection.owner  # the Hub answers an object (the client annotates it as the name)
    assert isinstance(owner, dict)
    return owner


def _items(slug: str, token: str | bool | None = None) -> list[tuple[str, str, int, str | None]]:
    return [(i.item_id, i.item_type, i.position, i.note) for i in hf.get_collection(slug, token=token).items]


def _slugs(collections: object) -> list[str]:
    assert isinstance(collections, list)
    return [collection.slug for collection in collections]


def test_create_get_update_and_delete(local_hub: LocalHub) -> None:
    me = local_hub.username
    first = hf.create_collection("My cool stuff 42", description="Contains a lot of cool stuff")
    assert first.slug.startswith(f"{me}/my-cool-stuff-42-") and len(first.slug.rpartition("-")[2]) == 24
    assert first.url == f"{local_hub.endpoint}/collections/{first.slug}"
    assert (first.title, first.description, first.items, first.private) == (
        "My cool stuff 42",
        "Contains a lot of cool stuff",
        [],
        False,
    )
    assert (_owner(first)["name"], _owner(first)["type"], first.position, first.upvotes) == (me, "user", 0, 0)
    assert first.theme in THEMES
    second = hf.create_collection("Second", private=True)
    assert (second.description, second.private, second.position) == (None, True, 1)

    updated = hf.update_collection_metadata(
        first.slug, title="New title", description="New description", private=True, theme="pink"
    )
    assert (updated.title, updated.description, updated.private, updated.theme) == (
        "New title",
        "New description",
        True,
        "pink",
    )
    assert updated.slug == f"{me}/new-title-{first.slug.rpartition('-')[2]}"  # new title, same id
    assert updated.last_updated >= first.last_updated
    assert hf.get_collection(first.slug).slug == updated.slug  # the old slug still finds it
    assert hf.get_collection(updated.slug).description == "New description"
    assert hf.update_collection_metadata(updated.slug, description="").description is None

    hf.delete_collection(updated.slug)
    assert _status(hf.get_collection, updated.slug) == 404
    assert _status(hf.delete_collection, updated.slug) == 404
    hf.delete_collection(updated.slug, missing_ok=True)
    assert hf.get_collection(second.slug).position == 0  # positions close up
    assert _status(hf.get_collection, f"{me}/nothing-{'0' * 24}") == 404
    assert _status(hf.get_collection, f"someone-else/second-{second.slug.rpartition('-')[2]}") == 404


def test_a_title_taken_in_the_namespace_is_a_conflict(local_hub: LocalHub) -> None:
    first = hf.create_collection("Models")
    assert _status(hf.create_collection, "models!") == 409  # same slug
    again = hf.create_collection("Models", description="ignored", exists_ok=True)
    assert (again.slug, again.description) == (first.slug, None)  # the existing one, unchanged
    other = hf.create_collection("Datasets")
    assert _status(hf.update_collection_metadata, other.slug, title="MODELS") == 409
    bob = local_hub.add_user("bob")
    assert hf.create_collection("Models", token=bob).slug.startswith("bob/models-")  # another namespace


def test_items_are_added_reordered_annotated_and_removed(local_hub: LocalHub) -> None:
    model = hf.create_repo("model").repo_id
    dataset = hf.create_repo("data", repo_type="dataset").repo_id
    space = hf.create_repo("demo", repo_type="space", space_sdk="static").repo_id
    nested = hf.create_collection("Nested").slug
    slug = hf.create_collection("Everything").slug

    after = hf.add_collection_item(slug, model, "model", note="This is <my> model")
    assert [(i.item_id, i.note) for i in after.items] == [(model, "This is <my> model")]
    hf.add_collection_item(slug, dataset, "dataset")
    hf.add_collection_item(slug, space, "space")
    hf.add_collection_item(slug, nested, "collection")
    hf.add_collection_item(slug, "2311.12983", "paper")
    assert _items(slug) == [
        (model, "model", 0, "This is <my> model"),
        (dataset, "dataset", 1, None),
        (space, "space", 2, None),
        (nested, "collection", 3, None),
        ("2311.12983", "paper", 4, None),
    ]

    assert _status(hf.add_collection_item, slug, model, "model") == 409
    assert len(hf.add_collection_item(slug, model, "model", exists_ok=True).items) == 5
    with pytest.raises(RepositoryNotFoundError):
        hf.add_collection_item(slug, model, "dataset")  # no such dataset
    with pytest.raises(RepositoryNotFoundError):
        hf.add_collection_item(slug, f"{local_hub.username}/missing", "model")
    assert _status(hf.add_collection_item, slug, f"{local_hub.username}/gone-{'0' * 24}", "collection") == 404

    items = hf.get_collection(slug).items
    hf.update_collection_item(slug, items[0].item_object_id, note="New note", position=3)  # the others move up
    hf.update_collection_item(slug, items[4].item_object_id, position=0)  # the others move down
    assert _items(slug) == [
        ("2311.12983", "paper", 0, None),
        (dataset, "dataset", 1, None),
        (space, "space", 2, None),
        (nested, "collection", 3, None),
        (model, "model", 4, "New note"),
    ]
    hf.update_collection_item(slug, items[1].item_object_id, position=99)  # beyond the end: last
    assert [item_id for item_id, *_ in _items(slug)] == ["2311.12983", space, nested, model, dataset]

    hf.delete_collection_item(slug, items[1].item_object_id)
    assert _status(hf.delete_collection_item, slug, items[1].item_object_id) == 404
    hf.delete_collection_item(slug, items[1].item_object_id, missing_ok=True)
    assert _status(hf.update_collection_item, slug, items[1].item_object_id, note="x") == 404
    assert [(item_id, position) for item_id, _, position, _ in _items(slug)] == [
        ("2311.12983", 0),
        (space, 1),
        (nested, 2),
        (model, 3),
    ]
    hf.delete_collection(nested)  # the items of a deleted collection go with it
    assert [item_id for item_id, *_ in _items(slug)] == ["2311.12983", space, model]


def test_collections_are_reordered_in_their_namespace(local_hub: LocalHub) -> None:
    a, b, c = (hf.create_collection(title).slug for title in ("A", "B", "C"))
    assert [hf.get_collection(s).position for s in (a, b, c)] == [0, 1, 2]
    assert hf.update_collection_metadata(c, position=0).position == 0
    assert [hf.get_collection(s).position for s in (c, a, b)] == [0, 1, 2]
    hf.delete_collection(a)
    assert [hf.get_collection(s).position for s in (c, b)] == [0, 1]


def test_list_collections_filters(local_hub: LocalHub) -> None:
    bob = local_hub.add_user("bob")
    model = hf.create_repo("model").repo_id
    dataset = hf.create_repo("data", repo_type="dataset").repo_id
    mine = hf.create_collection("Mine")
    bobs = hf.create_collection("Bob's", token=bob)
    hf.add_collection_item(bobs.slug, model, "model", token=bob)
    hf.add_collection_item(mine.slug, dataset, "dataset")
    hf.add_collection_item(mine.slug, "2311.12983", "paper")
    hf.add_collection_item(mine.slug, bobs.slug, "collection")

    assert _slugs(list(hf.list_collections())) == [mine.slug, bobs.slug]  # the last updated first
    assert _slugs(list(hf.list_collections(owner="bob"))) == [bobs.slug]
    assert _slugs(list(hf.list_collections(owner=["bob", local_hub.username]))) == [mine.slug, bobs.slug]
    assert _slugs(list(hf.list_collections(owner="nobody"))) == []
    assert _slugs(list(hf.list_collections(item=f"models/{model}"))) == [bobs.slug]
    assert _slugs(list(hf.list_collections(item=f"datasets/{dataset}"))) == [mine.slug]
    assert _slugs(list(hf.list_collections(item=f"datasets/{model}"))) == []
    assert _slugs(list(hf.list_collections(item="papers/2311.12983"))) == [mine.slug]
    assert _slugs(list(hf.list_collections(item=f"collections/{bobs.slug}"))) == [mine.slug]
    both = [f"models/{model}", f"datasets/{dataset}"]
    assert _slugs(list(hf.list_collections(item=both))) == [mine.slug, bobs.slug]  # any of them
    assert _slugs(list(hf.list_collections(limit=1))) == [mine.slug]
    for sort in ("lastModified", "trending", "upvotes"):  # no upvotes nor trends here: the same order
        assert _slugs(list(hf.list_collections(sort=sort))) == [mine.slug, bobs.slug]
    assert _status(lambda: list(hf.list_collections(sort="likes"))) == 400  # type: ignore[arg-type]
    assert _status(lambda: list(hf.list_collections(item="things/x"))) == 400

    for i in range(4):
        hf.add_collection_item(bobs.slug, f"{i}.00001", "paper", token=bob)
    listed = next(iter(hf.list_collections(owner="bob")))
    assert len(listed.items) == 4 and len(hf.get_collection(bobs.slug).items) == 5  # listings show 4 items


def test_private_collections_are_seen_by_their_owner_only(local_hub: LocalHub) -> None:
    bob = local_hub.add_user("bob")
    secret = hf.create_collection("Secret", private=True).slug
    for token in (bob, False):
        assert _status(hf.get_collection, secret, token=token) == 404
        assert _slugs(list(hf.list_collections(token=token))) == []
    assert _status(hf.update_collection_metadata, secret, title="Mine now", token=bob) == 404
    assert _status(hf.delete_collection, secret, token=bob) == 404
    assert _status(hf.add_collection_item, secret, "1234.56789", "paper", token=bob) == 404
    assert _status(hf.add_collection_item, secret, "1234.56789", "paper", token=False) == 401
    assert _slugs(list(hf.list_collections())) == [secret]
    private_nested = hf.create_collection("Also secret", private=True).slug
    assert (
        _status(
            hf.add_collection_item,
            hf.create_collection("Bob's", token=bob).slug,
            private_nested,
            "collection",
            token=bob,
        )
        == 404
    )

    hf.update_collection_metadata(secret, private=False)
    assert hf.get_collection(secret, token=bob).private is False
    assert hf.get_collection(secret, token=False).title == "Secret"
    assert _status(hf.update_collection_metadata, secret, title="Mine now", token=bob) == 403
    assert _status(hf.delete_collection, secret, token=bob) == 403
    assert _status(hf.add_collection_item, secret, "1234.56789", "paper", token=bob) == 403
    read_only = local_hub.create_token(local_hub.username, write=False)
    assert _status(hf.create_collection, "Read only", token=read_only) == 403
    assert _status(hf.delete_collection, secret, token=read_only) == 403


def test_items_of_repos_the_caller_cannot_read_are_left_out(local_hub: LocalHub) -> None:
    bob = local_hub.add_user("bob")
    public = hf.create_repo("public").repo_id
    private = hf.create_repo("private", private=True).repo_id
    hidden = hf.create_collection("Hidden", private=True).slug
    slug = hf.create_collection("Mixed").slug
    hf.add_collection_item(slug, private, "model")
    hf.add_collection_item(slug, public, "model")
    hf.add_collection_item(slug, hidden, "collection")
    assert [i[0] for i in _items(slug)] == [private, public, hidden]
    for token in (bob, False):
        assert [(i[0], i[2]) for i in _items(slug, token)] == [(public, 1)]
    assert _slugs(list(hf.list_collections(item=f"models/{private}", token=bob))) == []
    bobs = hf.create_collection("Bob's", token=bob).slug
    with pytest.raises(RepositoryNotFoundError):
        hf.add_collection_item(bobs, private, "model", token=bob)
    outer = hf.create_collection("Outer").slug
    hf.add_collection_item(outer, slug, "collection")  # holds "Mixed": 3 items, 1 of which bob may see
    url = f"{local_hub.endpoint}/api/collections/{outer}"
    counts = [
        json.loads(raw_request("GET", url, token=t)[2])["items"][0]["numberItems"] for t in (local_hub.token, bob)
    ]
    assert counts == [3, 1]
    hf.update_repo_settings(private, private=False)
    assert [i[0] for i in _items(slug, bob)] == [private, public]


def test_organization_collections_follow_member_roles(local_hub: LocalHub) -> None:
    tokens = {name: local_hub.add_user(name) for name in ("reader", "writer", "outsider")}
    local_hub.add_organization(ORG, members={"reader": "read", "writer": "write"})
    collection = hf.create_collection("Team picks", namespace=ORG, private=True, token=tokens["writer"])
    assert collection.slug.startswith(f"{ORG}/team-picks-")
    assert (_owner(collection)["name"], _owner(collection)["type"]) == (ORG, "org")
    assert hf.get_collection(collection.slug, token=tokens["reader"]).private is True
    assert _slugs(list(hf.list_collections(owner=ORG, token=tokens["reader"]))) == [collection.slug]
    assert _status(hf.update_collection_metadata, collection.slug, theme="blue", token=tokens["reader"]) == 403
    assert _status(hf.get_collection, collection.slug, token=tokens["outsider"]) == 404
    assert _status(hf.get_collection, collection.slug) == 404  # the default user is no member
    assert _status(hf.create_collection, "Intruder", namespace=ORG, token=tokens["reader"]) == 403
    assert _status(hf.create_collection, "Intruder", namespace=ORG, token=tokens["outsider"]) == 403
    assert _status(hf.create_collection, "Not mine", namespace="writer") == 403
    hf.add_collection_item(collection.slug, "2311.12983", "paper", token=tokens["writer"])
    hf.update_collection_metadata(collection.slug, theme="blue", token=tokens["writer"])
    hf.delete_collection(collection.slug, token=tokens["writer"])


def test_items_follow_repository_moves_and_deletions(local_hub: LocalHub) -> None:
    me = local_hub.username
    model = hf.create_repo("model").repo_id
    dataset = hf.create_repo("data", repo_type="dataset").repo_id
    slug = hf.create_collection("Repos").slug
    hf.add_collection_item(slug, model, "model", note="kept")
    hf.add_collection_item(slug, dataset, "dataset")
    hf.move_repo(model, f"{me}/renamed")
    assert _items(slug) == [(f"{me}/renamed", "model", 0, "kept"), (dataset, "dataset", 1, None)]
    assert _slugs(list(hf.list_collections(item=f"models/{me}/renamed"))) == [slug]
    assert _slugs(list(hf.list_collections(item=f"models/{model}"))) == []
    hf.delete_repo(f"{me}/renamed")
    assert _items(slug) == [(dataset, "dataset", 0, None)]
    hf.create_repo("renamed")  # a new repository with the name is another one
    assert _items(slug) == [(dataset, "dataset", 0, None)]


def test_collections_persist_across_restarts(tmp_path: Path) -> None:
    with LocalHub(tmp_path) as hub, hub.configure_client():
        model = hf.create_repo("model").repo_id
        slug = hf.create_collection("Kept", description="across restarts", private=True).slug
        hf.add_collection_item(slug, model, "model", note="a note")
    with LocalHub(tmp_path) as hub, hub.configure_client():
        kept = hf.get_collection(slug)
        assert (kept.title, kept.description, kept.private) == ("Kept", "across restarts", True)
        assert [(i.item_id, i.note) for i in kept.items] == [(model, "a note")]
        assert _status(hf.create_collection, "Kept") == 409


def test_unsupported_and_malformed_requests(local_hub: LocalHub) -> None:
    slug = hf.create_collection("Things").slug
    assert _status(hf.add_collection_item, slug, f"{local_hub.username}/bucket", "bucket") == 501
    assert _status(hf.create_collection, "Grouped", resource_group_id="6" * 24) == 501
    assert _status(hf.update_collection_resource_group, slug, "6" * 24) == 501
    assert _status(hf.add_collection_item, slug, "x", "widget") == 400
    assert _status(hf.update_collection_metadata, slug, theme="black") == 400
    assert _status(hf.update_collection_metadata, slug, description="x" * 151) == 400
    assert _status(hf.add_collection_item, slug, "2311.12983", "paper", note="x" * 501) == 400
    assert _status(hf.create_collection, "!!!") == 400
    url = f"{local_hub.endpoint}/api/collections/{slug}"
    status, _, body = raw_request("PATCH", url, token=local_hub.token, body=b'{"position": -1}')
    assert status == 400 and "position" in json.loads(body)["error"]
    status, _, _ = raw_request("PATCH", url, token=local_hub.token, body=b'{"gating": true}')
    assert status == 501
    assert hf.get_collection(slug).title == "Things"
    assert raw_request("GET", f"{local_hub.endpoint}/api/collections?limit=-1", token=local_hub.token)[0] == 400
