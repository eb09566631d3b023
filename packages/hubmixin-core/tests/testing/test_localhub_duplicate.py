"""duplicate_repo through the real client: history, branches, tags and files (Xet and LFS) are copied."""

from __future__ import annotations

import os
from pathlib import Path

import huggingface_hub as hf
import pytest
from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError

from hubmixin_core.testing import LocalHub


def test_duplicate_repo_copies_history_refs_and_large_files(local_hub: LocalHub) -> None:
    me = local_hub.username
    weights = os.urandom(11 * 1024 * 1024)  # through Xet, the client's default
    source = hf.create_repo("source", private=True).repo_id
    hf.upload_file(path_or_fileobj=weights, path_in_repo="w.bin", repo_id=source)
    hf.upload_file(path_or_fileobj=b"{}", path_in_repo="config.json", repo_id=source)
    hf.create_tag(source, tag="v1")
    hf.create_branch(source, branch="dev")
    hf.create_pull_request(source, title="Not copied")

    url = hf.duplicate_repo(source, to_id=f"{me}/copy")
    assert (url.repo_id, url.files_copy_pending) == (f"{me}/copy", False)
    copy = url.repo_id
    assert hf.model_info(copy).private is True  # the source's visibility by default
    assert [c.commit_id for c in hf.list_repo_commits(copy)] == [c.commit_id for c in hf.list_repo_commits(source)]
    refs = hf.list_repo_refs(copy, include_pull_requests=True)
    assert sorted(b.name for b in refs.branches) == ["dev", "main"] and [t.name for t in refs.tags] == ["v1"]
    assert refs.pull_requests == [] and list(hf.get_repo_discussions(copy)) == []
    assert Path(hf.hf_hub_download(copy, "w.bin", revision="v1")).read_bytes() == weights

    hf.upload_file(path_or_fileobj=b"new", path_in_repo="new.txt", repo_id=copy)  # the copy lives on its own
    assert "new.txt" not in hf.list_repo_files(source)
    assert hf.create_pull_request(copy, title="Numbered from 1").num == 1


def test_duplicate_repo_rules(local_hub: LocalHub) -> None:
    me = local_hub.username
    bob = local_hub.add_user("bob")
    public = hf.create_repo("public", repo_type="dataset").repo_id
    hf.upload_file(path_or_fileobj=b"rows", path_in_repo="data.csv", repo_id=public, repo_type="dataset")
    mine = hf.duplicate_repo(public, repo_type="dataset", token=bob)  # anyone who reads it may copy it
    assert mine.repo_id == "bob/public" and mine.repo_type == "dataset"
    assert hf.dataset_info("bob/public", token=bob).private is False
    secret = hf.duplicate_repo(public, to_id="bob/secret", repo_type="dataset", private=True, token=bob)
    assert hf.dataset_info(secret.repo_id, token=bob).private is True
    with pytest.raises(RepositoryNotFoundError):
        hf.dataset_info(secret.repo_id)
    with pytest.raises(RepositoryNotFoundError):  # a private source stays invisible
        hf.duplicate_repo(secret.repo_id, to_id=f"{me}/stolen", repo_type="dataset")
    with pytest.raises(HfHubHTTPError) as excinfo:  # into someone else's namespace
        hf.duplicate_repo(public, to_id="bob/mine-now", repo_type="dataset")
    assert excinfo.value.response.status_code == 403
    with pytest.raises(HfHubHTTPError) as excinfo:
        hf.duplicate_repo(public, to_id="bob/public", repo_type="dataset", token=bob)
    assert excinfo.value.response.status_code == 409
    again = hf.duplicate_repo(public, to_id="bob/public", repo_type="dataset", token=bob, exist_ok=True)
    assert again.repo_id == "bob/public"
    space = hf.create_repo("app", repo_type="space", space_sdk="static").repo_id
    with pytest.raises(HfHubHTTPError) as excinfo:  # Spaces run nothing here
        hf.duplicate_repo(space, to_id=f"{me}/app-copy", repo_type="space", space_hardware=hf.SpaceHardware.T4_MEDIUM)
    assert excinfo.value.response.status_code == 501 and "'hardware'" in str(excinfo.value)
