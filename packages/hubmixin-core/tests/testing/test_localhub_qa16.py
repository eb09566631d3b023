"""LocalHub regressions of QA round 16: a repository's storage (``usedStorage``, ``hf repos ls``) is everything it
holds, whatever revision is asked, and a file path with a trailing slash is refused."""

from __future__ import annotations

from pathlib import Path

import huggingface_hub as hf
import pytest
from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError
from localhub_raw import raw_request

from hubmixin_core.testing import LocalHub
from hubmixin_core.testing.pytest_plugin import LFS_UPLOAD_WARNING_FILTER

pytestmark = pytest.mark.filterwarnings(LFS_UPLOAD_WARNING_FILTER)


def _storage(repo_id: str, revision: str | None = None) -> int:
    used = hf.model_info(repo_id, revision=revision, expand=["usedStorage"]).used_storage
    assert used is not None
    return used


@pytest.mark.local_hub(xet=False)
def test_used_storage_counts_every_object_the_repository_holds(local_hub: LocalHub) -> None:
    repo_id = hf.create_repo("storage").repo_id
    blobs = {"w1": b"\x00" * 1000, "w2": b"\x00\x01" * 600, "pr": b"\x00\x02" * 700, "dev": b"\x00\x03" * 800}
    hf.upload_file(path_or_fileobj=blobs["w1"], path_in_repo="w.bin", repo_id=repo_id)  # LFS: binary
    hf.upload_file(path_or_fileobj=b"text", path_in_repo="notes.txt", repo_id=repo_id)  # regular
    hf.upload_file(path_or_fileobj=blobs["w2"], path_in_repo="w.bin", repo_id=repo_id)  # a new version
    hf.upload_file(path_or_fileobj=blobs["pr"], path_in_repo="pr.bin", repo_id=repo_id, create_pr=True)
    hf.create_branch(repo_id, branch="dev")
    hf.upload_file(path_or_fileobj=blobs["dev"], path_in_repo="dev.bin", repo_id=repo_id, revision="dev")
    hf.upload_file(path_or_fileobj=b"dev text", path_in_repo="dev.txt", repo_id=repo_id, revision="dev")

    lfs = sum(len(data) for data in blobs.values())
    assert sum(f.size for f in hf.list_lfs_files(repo_id)) == lfs
    (gitattributes,) = hf.get_paths_info(repo_id, [".gitattributes"])
    assert isinstance(gitattributes, hf.RepoFile)
    regular = gitattributes.size + len(b"text") + len(b"dev text")  # at the branches' heads, each content once
    assert _storage(repo_id) == lfs + regular
    assert _storage(repo_id, revision="dev") == _storage(repo_id, revision="refs/pr/1") == lfs + regular
    listed = {r.id: r.storage for r in hf.list_user_repos()}
    assert listed[repo_id] == lfs + regular  # what `hf repos ls` shows

    old = [f for f in hf.list_lfs_files(repo_id) if f.size == len(blobs["w1"])]
    hf.permanently_delete_lfs_files(repo_id, old)  # the way to give storage back
    assert _storage(repo_id) == lfs + regular - len(blobs["w1"])


def test_a_file_path_with_a_trailing_slash_is_refused(local_hub: LocalHub) -> None:
    repo_id = hf.create_repo("slash").repo_id
    hf.upload_file(path_or_fileobj=b"q", path_in_repo="sub/q.txt", repo_id=repo_id)
    for method in ("HEAD", "GET"):
        status, headers, _ = raw_request(method, f"{local_hub.endpoint}/{repo_id}/resolve/main/sub/q.txt/")
        assert status == 400 and "Invalid path 'sub/q.txt/'" in headers["X-Error-Message"]
    with pytest.raises(LocalEntryNotFoundError) as raised:  # (the client's word for a HEAD answered 400)
        hf.hf_hub_download(repo_id, "sub/q.txt/")
    refused = raised.value.__cause__
    assert isinstance(refused, HfHubHTTPError) and refused.response.status_code == 400
    assert Path(hf.hf_hub_download(repo_id, "sub/q.txt")).read_bytes() == b"q"
    assert [e.path for e in hf.list_repo_tree(repo_id, "sub")] == ["sub/q.txt"]  # (the client's tree/main/sub)
    assert {e.path for e in hf.list_repo_tree(repo_id)} == {".gitattributes", "sub"}  # (tree/main/: root)
