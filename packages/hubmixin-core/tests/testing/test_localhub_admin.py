"""What a user's scripts call beyond uploads: list_models, auth_check, update_repo_settings, move_repo."""

from __future__ import annotations

from pathlib import Path

import huggingface_hub as hf
import pytest
from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError

from hubmixin_core.testing import LocalHub


def test_list_models_by_search_and_author(local_hub: LocalHub) -> None:
    me = local_hub.username
    for name in ("bert-tiny", "gpt-tiny", "secret-bert"):
        hf.create_repo(name, private=name.startswith("secret"))
    bob = local_hub.add_user("bob")
    hf.create_repo("bob-bert", token=bob)
    assert [m.id for m in hf.list_models(search="bert")] == ["bob/bob-bert", f"{me}/secret-bert", f"{me}/bert-tiny"]
    assert [m.id for m in hf.list_models(author="bob")] == ["bob/bob-bert"]
    assert [m.id for m in hf.list_models(search="bert", token=bob)] == ["bob/bob-bert", f"{me}/bert-tiny"]
    assert len(list(hf.list_models(limit=2))) == 2
    assert list(hf.list_models(filter="text-classification")) == []  # no repository here has tags


def test_auth_check_and_visibility(local_hub: LocalHub) -> None:
    repo_id = hf.create_repo("vis").repo_id
    bob = local_hub.add_user("bob")
    hf.auth_check(repo_id)
    hf.auth_check(repo_id, token=bob)  # a public repo: bob may read it
    hf.update_repo_settings(repo_id, private=True)
    assert hf.model_info(repo_id).private is True
    with pytest.raises(RepositoryNotFoundError):
        hf.auth_check(repo_id, token=bob)
    with pytest.raises(RepositoryNotFoundError):
        hf.update_repo_settings(repo_id, private=False, token=bob)
    hf.update_repo_settings(repo_id, private=False)
    assert hf.model_info(repo_id, token=bob).private is False


def test_move_repo_keeps_its_files(local_hub: LocalHub) -> None:
    repo_id = hf.create_repo("before").repo_id
    hf.upload_file(path_or_fileobj=b"weights", path_in_repo="w.bin", repo_id=repo_id)
    hf.move_repo(repo_id, f"{local_hub.username}/after")
    assert hf.model_info(repo_id).id == f"{local_hub.username}/after"  # the old name redirects (test_localhub_moved)
    assert hf.list_repo_files(f"{local_hub.username}/after") == [".gitattributes", "w.bin"]
    hf.create_repo("taken")
    with pytest.raises(HfHubHTTPError, match="409"):
        hf.move_repo(f"{local_hub.username}/after", f"{local_hub.username}/taken")


def test_list_user_repos_is_hf_repos_ls(local_hub: LocalHub) -> None:
    model = hf.create_repo("m", private=True).repo_id
    hf.upload_file(path_or_fileobj=b"x" * 1000, path_in_repo="w.bin", repo_id=model)
    hf.create_repo("d", repo_type="dataset")
    hf.create_repo("b-only", token=local_hub.add_user("bob"))
    repos = {r.id: r for r in hf.list_user_repos()}
    assert set(repos) == {model, f"{local_hub.username}/d"}
    assert (repos[model].type, repos[model].visibility) == ("model", "private")
    assert repos[model].storage >= 1000 and repos[f"{local_hub.username}/d"].type == "dataset"


def test_super_squash_history_keeps_the_files(local_hub: LocalHub) -> None:
    repo_id = hf.create_repo("squash").repo_id
    for i in range(3):
        hf.upload_file(path_or_fileobj=f"v{i}".encode(), path_in_repo=f"f{i}.txt", repo_id=repo_id)
    assert len(hf.list_repo_commits(repo_id)) == 4
    hf.super_squash_history(repo_id, commit_message="one commit")
    commits = hf.list_repo_commits(repo_id)
    assert [c.title for c in commits] == ["one commit"]
    assert hf.list_repo_files(repo_id) == [".gitattributes", "f0.txt", "f1.txt", "f2.txt"]
    assert Path(hf.hf_hub_download(repo_id, "f2.txt")).read_bytes() == b"v2"
    with pytest.raises(HfHubHTTPError, match="404"):
        hf.super_squash_history(repo_id, branch="nope")
