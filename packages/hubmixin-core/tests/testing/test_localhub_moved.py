"""A renamed repository (``move_repo``): its old name redirects to the new one, as on the Hub."""

from __future__ import annotations

import os
from pathlib import Path

import huggingface_hub as hf
import pytest
from huggingface_hub.errors import RepositoryNotFoundError

from hubmixin_core.testing import LocalHub


@pytest.mark.local_hub(xet=False)
@pytest.mark.parametrize("repo_type", ["model", "dataset"])
def test_old_name_redirects_api_downloads_and_uploads(local_hub: LocalHub, tmp_path: Path, repo_type: str) -> None:
    me = local_hub.username
    old, new = f"{me}/old", f"{me}/new"
    hf.create_repo(old, repo_type=repo_type)
    big = os.urandom(11 * 1024 * 1024)  # plain LFS: the batch API goes through the redirect too
    hf.upload_file(path_or_fileobj=b"x", path_in_repo="x.txt", repo_id=old, repo_type=repo_type)
    hf.move_repo(old, new, repo_type=repo_type)

    assert hf.repo_info(old, repo_type=repo_type).id == new
    assert hf.list_repo_files(old, repo_type=repo_type) == [".gitattributes", "x.txt"]
    path = hf.hf_hub_download(old, "x.txt", repo_type=repo_type, cache_dir=tmp_path)
    assert Path(path).read_bytes() == b"x"
    hf.upload_file(path_or_fileobj=big, path_in_repo="big.bin", repo_id=old, repo_type=repo_type)
    assert hf.list_repo_files(new, repo_type=repo_type) == [".gitattributes", "big.bin", "x.txt"]
    assert Path(hf.hf_hub_download(new, "big.bin", repo_type=repo_type, cache_dir=tmp_path)).read_bytes() == big

    prefix = "" if repo_type == "model" else "/datasets"
    url = f"{local_hub.endpoint}{prefix}/{old}/resolve/main/x.txt?a=1"
    response = hf.get_session().get(url, follow_redirects=False)
    assert response.status_code == 307 and response.headers["Location"] == f"{prefix}/{new}/resolve/main/x.txt?a=1"


def test_redirects_end_when_the_name_is_taken_or_the_repo_deleted_and_hide_private_repos(local_hub: LocalHub) -> None:
    me = local_hub.username
    bob = local_hub.add_user("bob")
    hf.create_repo("first", private=True)
    hf.move_repo(f"{me}/first", f"{me}/second")
    assert hf.model_info(f"{me}/first").id == f"{me}/second"
    with pytest.raises(RepositoryNotFoundError):  # bob cannot see the private repo by its old name either
        hf.model_info(f"{me}/first", token=bob)
    hf.move_repo(f"{me}/second", f"{me}/third")
    assert hf.model_info(f"{me}/first").id == hf.model_info(f"{me}/second").id == f"{me}/third"
    hf.create_repo("first")  # a new repository takes the old name over
    assert hf.model_info(f"{me}/first").id == f"{me}/first"
    hf.delete_repo(f"{me}/third")
    with pytest.raises(RepositoryNotFoundError):
        hf.model_info(f"{me}/second")
