"""Likes through the real client: ``unlike``, ``list_liked_repos``, ``list_repo_likers``, ``likes`` counts.

``huggingface_hub`` 2.x has no ``like`` (the Hub's ``POST /api/{type}s/{repo}/like`` is not for scripts): tests
like through raw HTTP, as the Hub's web page does, and read everything else through the client.
"""

from __future__ import annotations

import huggingface_hub as hf
import pytest
from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError
from localhub_raw import raw_request

from hubmixin_core.testing import LocalHub


def _like(hub: LocalHub, repo_id: str, token: str | None, *, repo_type: str = "model", method: str = "POST") -> int:
    return raw_request(method, f"{hub.endpoint}/api/{repo_type}s/{repo_id}/like", token=token)[0]


def test_like_unlike_and_counts(local_hub: LocalHub) -> None:
    repo_id = hf.create_repo("liked").repo_id
    other = hf.create_repo("other").repo_id
    bob = local_hub.add_user("bob")
    assert hf.model_info(repo_id).likes == 0
    assert _like(local_hub, repo_id, local_hub.token) == 200
    assert _like(local_hub, repo_id, bob) == 200
    assert _like(local_hub, repo_id, bob) == 200  # liking twice counts once
    assert hf.model_info(repo_id).likes == 2
    assert {m.id: m.likes for m in hf.list_models()} == {repo_id: 2, other: 0}
    assert [u.username for u in hf.list_repo_likers(repo_id)] == ["bob", local_hub.username]  # newest first
    assert [m.id for m in hf.list_models(sort="likes")] == [repo_id, other]
    hf.unlike(repo_id, token=bob)
    hf.unlike(repo_id, token=bob)  # not liked any more: no change
    assert hf.model_info(repo_id).likes == 1
    assert [u.username for u in hf.list_repo_likers(repo_id)] == [local_hub.username]
    assert _like(local_hub, other, bob) == 200
    assert _like(local_hub, other, local_hub.token) == 200
    assert [m.id for m in hf.list_models(sort="likes")] == [other, repo_id]


def test_list_liked_repos_by_type(local_hub: LocalHub) -> None:
    model = hf.create_repo("m").repo_id
    dataset = hf.create_repo("d", repo_type="dataset").repo_id
    space = hf.create_repo("s", repo_type="space", space_sdk="static").repo_id
    bob = local_hub.add_user("bob")
    _like(local_hub, model, bob)
    _like(local_hub, dataset, bob, repo_type="dataset")
    _like(local_hub, space, bob, repo_type="space")
    likes = hf.list_liked_repos("bob")
    assert (likes.user, likes.total) == ("bob", 3)
    assert (likes.models, likes.datasets, likes.spaces) == ([model], [dataset], [space])
    assert hf.list_liked_repos(token=bob).total == 3  # the token's user
    assert hf.dataset_info(dataset).likes == 1 and hf.space_info(space).likes == 1
    hf.unlike(dataset, repo_type="dataset", token=bob)
    assert hf.list_liked_repos("bob").datasets == []
    hf.delete_repo(model)
    assert hf.list_liked_repos("bob").models == []
    with pytest.raises(HfHubHTTPError) as excinfo:
        hf.list_liked_repos("nobody")
    assert excinfo.value.response.status_code == 404


def test_likes_of_private_repos_are_seen_by_their_owner_only(local_hub: LocalHub) -> None:
    me = local_hub.username
    private = hf.create_repo("secret", private=True).repo_id
    public = hf.create_repo("open").repo_id
    bob = local_hub.add_user("bob")
    assert _like(local_hub, private, bob) == 404  # bob cannot see it
    assert _like(local_hub, private, local_hub.token) == 200
    assert _like(local_hub, public, local_hub.token) == 200
    assert hf.list_liked_repos(me).models == [public, private]
    assert hf.list_liked_repos(me, token=bob).models == [public]
    assert hf.list_liked_repos(me, token=False).models == [public]
    assert hf.model_info(private).likes == 1
    with pytest.raises(RepositoryNotFoundError):
        list(hf.list_repo_likers(private, token=bob))
    with pytest.raises(RepositoryNotFoundError):
        hf.unlike(private, token=bob)


def test_liking_needs_a_write_token(local_hub: LocalHub) -> None:
    repo_id = hf.create_repo("liked").repo_id
    read_only = local_hub.create_token(local_hub.username, write=False)
    assert _like(local_hub, repo_id, read_only) == 403
    assert _like(local_hub, repo_id, None) == 401
    assert _like(local_hub, repo_id, local_hub.token) == 200
    with pytest.raises(HfHubHTTPError) as excinfo:
        hf.unlike(repo_id, token=read_only)
    assert excinfo.value.response.status_code == 403
    assert hf.model_info(repo_id).likes == 1
    assert [u.username for u in hf.list_repo_likers(repo_id, token=read_only)] == [local_hub.username]
