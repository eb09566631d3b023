"""Listing order (``sort=``, ``direction=``) and the gated setting, through the real client."""

from __future__ import annotations

import json
import time
from typing import Any

import huggingface_hub as hf
import pytest
from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError
from localhub_raw import raw_request

from hubmixin_core.testing import LocalHub


def _ids(models: object) -> list[str]:
    assert isinstance(models, list)
    return [str(m.id).split("/")[1] for m in models]


def test_list_models_sorted_by_dates_and_id(local_hub: LocalHub) -> None:
    for name in ("b", "a", "c"):
        hf.create_repo(name)
    time.sleep(0.01)
    hf.upload_file(path_or_fileobj=b"x", path_in_repo="x.txt", repo_id=f"{local_hub.username}/a")
    assert _ids(list(hf.list_models())) == ["c", "a", "b"]  # no sort: newest first
    assert _ids(list(hf.list_models(sort="created_at"))) == ["c", "a", "b"]
    assert _ids(list(hf.list_models(sort="last_modified"))) == ["a", "c", "b"]
    by_id: Any = "id"  # the Hub sorts by id too; the client's type lists fewer fields
    assert _ids(list(hf.list_models(sort=by_id))) == ["c", "b", "a"]  # descending unless direction=1
    assert _ids(list(hf.list_models(sort="downloads"))) == ["c", "a", "b"]  # ties keep newest first
    assert _ids(list(hf.list_models(sort="last_modified", limit=1))) == ["a"]
    models = list(hf.list_models(sort="last_modified"))
    assert all(m.last_modified is not None and m.created_at is not None for m in models)


def test_direction_one_is_ascending(local_hub: LocalHub) -> None:
    for name in ("b", "a", "c"):
        hf.create_repo(name)

    def ids(query: str) -> list[str]:
        status, _, body = raw_request("GET", f"{local_hub.endpoint}/api/models?{query}")
        assert status == 200, body
        return [item["id"].split("/")[1] for item in json.loads(body)]

    assert ids("sort=id&direction=1") == ["a", "b", "c"]
    assert ids("sort=id&direction=-1") == ["c", "b", "a"]
    assert ids("sort=createdAt&direction=1") == ["b", "a", "c"]
    assert ids("direction=1") == ["b", "a", "c"]  # no sort: oldest first
    assert raw_request("GET", f"{local_hub.endpoint}/api/models?sort=id&direction=2")[0] == 400


def test_unknown_sort_is_a_400_naming_the_choices(local_hub: LocalHub) -> None:
    with pytest.raises(HfHubHTTPError) as excinfo:
        list(hf.list_models(sort="size"))  # type: ignore[arg-type]
    assert excinfo.value.response.status_code == 400 and "lastModified" in str(excinfo.value)


def test_sort_applies_to_datasets_and_spaces_and_hides_private_repos(local_hub: LocalHub) -> None:
    bob = local_hub.add_user("bob")
    hf.create_repo("d1", repo_type="dataset")
    hf.create_repo("d2", repo_type="dataset", private=True)
    hf.create_repo("d3", repo_type="dataset", token=bob)
    me = local_hub.username
    by_id: Any = "id"  # the Hub sorts by id too; the client's type lists fewer fields
    assert [d.id for d in hf.list_datasets(sort=by_id)] == [f"{me}/d2", f"{me}/d1", "bob/d3"]
    assert [d.id for d in hf.list_datasets(sort=by_id, token=bob)] == [f"{me}/d1", "bob/d3"]
    hf.create_repo("s1", repo_type="space", space_sdk="static")
    hf.create_repo("s2", repo_type="space", space_sdk="static")
    assert [s.id for s in hf.list_spaces(sort="created_at")] == [f"{me}/s2", f"{me}/s1"]


def test_gated_setting_is_stored_and_reported(local_hub: LocalHub) -> None:
    repo_id = hf.create_repo("gated").repo_id
    hf.create_repo("open")
    assert hf.model_info(repo_id).gated is False
    hf.update_repo_settings(repo_id, gated="auto")
    assert hf.model_info(repo_id).gated == "auto"
    assert [m.id for m in hf.list_models(gated=True)] == [repo_id]
    assert [m.id for m in hf.list_models(gated=False)] == [f"{local_hub.username}/open"]
    assert next(iter(hf.list_models(search="gated"))).gated == "auto"
    hf.update_repo_settings(repo_id, gated="manual", private=True)  # with another setting in one call
    info = hf.model_info(repo_id)
    assert (info.gated, info.private) == ("manual", True)
    hf.update_repo_settings(repo_id, gated=False)
    assert hf.model_info(repo_id).gated is False
    dataset = hf.create_repo("gd", repo_type="dataset").repo_id
    hf.update_repo_settings(dataset, gated="manual", repo_type="dataset")
    assert hf.dataset_info(dataset).gated == "manual"


def test_gated_setting_needs_the_owner_and_a_write_token(local_hub: LocalHub) -> None:
    repo_id = hf.create_repo("gated").repo_id
    private = hf.create_repo("gated-private", private=True).repo_id
    bob = local_hub.add_user("bob")
    read_only = local_hub.create_token(local_hub.username, write=False)
    with pytest.raises(HfHubHTTPError) as excinfo:
        hf.update_repo_settings(repo_id, gated="auto", token=read_only)
    assert excinfo.value.response.status_code == 403
    with pytest.raises(HfHubHTTPError) as excinfo:
        hf.update_repo_settings(repo_id, gated="auto", token=bob)
    assert excinfo.value.response.status_code == 403
    with pytest.raises(RepositoryNotFoundError):
        hf.update_repo_settings(private, gated="auto", token=bob)
    assert hf.model_info(repo_id).gated is False and hf.model_info(private).gated is False
    url = f"{local_hub.endpoint}/api/models/{repo_id}/settings"
    for bad in (b'{"gated": true}', b'{"gated": "sometimes"}', b'{"gated": 0}', b'{"gated": ["auto"]}'):
        status, _, body = raw_request("PUT", url, token=local_hub.token, body=bad)
        assert status == 400 and b"gated must be" in body, body


def test_a_new_space_card_names_its_sdk(local_hub: LocalHub) -> None:
    space = hf.create_repo("demo", repo_type="space", space_sdk="gradio").repo_id
    assert hf.space_info(space).sdk == "gradio"
    assert hf.list_repo_files(space, repo_type="space") == [".gitattributes", "README.md"]
    assert [(s.id, s.sdk) for s in hf.list_spaces()] == [(space, "gradio")]
    hf.upload_file(
        path_or_fileobj=b"---\nsdk: docker\n---\n", path_in_repo="README.md", repo_id=space, repo_type="space"
    )
    assert hf.space_info(space).sdk == "docker"  # read from the card, as the Hub does
