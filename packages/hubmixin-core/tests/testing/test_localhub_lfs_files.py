"""``list_lfs_files`` and ``permanently_delete_lfs_files`` through the real client (plain LFS and Xet)."""

from __future__ import annotations

import hashlib
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import huggingface_hub as hf
import pytest
from huggingface_hub.errors import EntryNotFoundError, HfHubHTTPError, RepositoryNotFoundError
from localhub_raw import raw_request

from hubmixin_core.testing import LocalHub
from hubmixin_core.testing._lfs_files import lfs_objects
from hubmixin_core.testing._storage import Repo, RepoKey, Storage


def _upload(repo_id: str, name: str, data: bytes, revision: str | None = None) -> None:
    hf.upload_file(path_or_fileobj=data, path_in_repo=name, repo_id=repo_id, revision=revision)


def _the_hub_client_scenario(local_hub: LocalHub) -> str:
    """What huggingface_hub's own test does against the Hub (tests/test_hf_api.py, list and delete LFS files)."""
    repo_id = hf.create_repo("lfs").repo_id
    _upload(repo_id, "lfs_file.bin", b"LFS content")
    _upload(repo_id, "txt_file.txt", b"TXT content")
    _upload(repo_id, "lfs_file_2.bin", b"LFS content 2")
    _upload(repo_id, "txt_file_2.txt", b"TXT content 2")
    hf.create_branch(repo_id, branch="my-branch")
    _upload(repo_id, "lfs_file_branch.bin", b"LFS content branch", revision="my-branch")
    _upload(repo_id, "txt_file_branch.txt", b"TXT content branch", revision="my-branch")

    lfs_files = list(hf.list_lfs_files(repo_id))
    assert len(lfs_files) == 3
    assert {f.filename for f in lfs_files} == {"lfs_file.bin", "lfs_file_2.bin", "lfs_file_branch.bin"}
    by_name = {f.filename: f for f in lfs_files}
    assert by_name["lfs_file.bin"].file_oid == hashlib.sha256(b"LFS content").hexdigest()
    assert by_name["lfs_file.bin"].oid == by_name["lfs_file.bin"].file_oid
    assert by_name["lfs_file_2.bin"].size == len(b"LFS content 2")
    assert by_name["lfs_file_branch.bin"].ref == "refs/heads/my-branch"
    assert lfs_files[0].filename == "lfs_file_branch.bin"  # newest first
    assert all(f.pushed_at.year >= 2024 for f in lfs_files)
    on_main = [f for f in lfs_files if f.ref in ("main", "refs/heads/main")]
    assert len(on_main) == 2

    hf.permanently_delete_lfs_files(repo_id, on_main)
    assert {f.filename for f in hf.list_lfs_files(repo_id)} == {"lfs_file_branch.bin"}
    assert set(hf.list_repo_files(repo_id)) == {".gitattributes", "txt_file.txt", "txt_file_2.txt"}
    with pytest.raises(EntryNotFoundError):
        hf.hf_hub_download(repo_id, "lfs_file.bin")
    # History is rewritten: no commit holds the deleted files any more, the branch keeps its own file.
    for commit in hf.list_repo_commits(repo_id):
        assert "lfs_file.bin" not in hf.list_repo_files(repo_id, revision=commit.commit_id)
    assert set(hf.list_repo_files(repo_id, revision="my-branch")) == {
        ".gitattributes",
        "txt_file.txt",
        "txt_file_2.txt",
        "lfs_file_branch.bin",
        "txt_file_branch.txt",
    }
    path = hf.hf_hub_download(repo_id, "lfs_file_branch.bin", revision="my-branch")
    assert Path(path).read_bytes() == b"LFS content branch"
    return repo_id


@pytest.mark.local_hub(xet=False)
def test_list_and_delete_lfs_files_plain_lfs(local_hub: LocalHub) -> None:
    repo_id = _the_hub_client_scenario(local_hub)
    assert all(vars(f).get("xetHash") for f in hf.list_lfs_files(repo_id))  # migrated to Xet, as on the Hub


def test_list_and_delete_lfs_files_xet(local_hub: LocalHub) -> None:
    pytest.importorskip("hf_xet")
    repo_id = hf.create_repo("xet").repo_id
    _upload(repo_id, "w.bin", b"xet content" * 1000)
    (lfs_file,) = hf.list_lfs_files(repo_id)
    assert lfs_file.filename == "w.bin" and vars(lfs_file).get("xetHash")
    hf.permanently_delete_lfs_files(repo_id, [lfs_file])
    assert list(hf.list_lfs_files(repo_id)) == [] and hf.list_repo_files(repo_id) == [".gitattributes"]
    status, headers, _ = raw_request("GET", f"{local_hub.endpoint}/{repo_id}/resolve/main/w.bin")
    assert status == 404 and headers["X-Error-Code"] == "EntryNotFound"


@pytest.mark.local_hub(xet=False)
def test_without_rewriting_history_the_pointers_stay_but_do_not_download(local_hub: LocalHub) -> None:
    repo_id = hf.create_repo("keep-history").repo_id
    _upload(repo_id, "w.bin", b"weights")
    hf.permanently_delete_lfs_files(repo_id, list(hf.list_lfs_files(repo_id)), rewrite_history=False)
    assert list(hf.list_lfs_files(repo_id)) == []
    assert "w.bin" in hf.list_repo_files(repo_id)  # as on the Hub: checking it out fails
    with pytest.raises(EntryNotFoundError, match="LFS object was deleted"):
        hf.hf_hub_download(repo_id, "w.bin")


@pytest.mark.local_hub(xet=False)
def test_deleting_does_not_touch_other_repos_sharing_the_object(local_hub: LocalHub) -> None:
    source = hf.create_repo("source").repo_id
    _upload(source, "w.bin", b"shared weights")
    copy = hf.duplicate_repo(source, f"{local_hub.username}/copy").repo_id
    same = hf.create_repo("same-content").repo_id
    _upload(same, "other-name.bin", b"shared weights")
    _upload(same, "small.txt", b"shared weights")  # a regular file with the same content (same blob)
    hf.permanently_delete_lfs_files(source, list(hf.list_lfs_files(source)))
    assert hf.list_repo_files(source) == [".gitattributes"]
    assert Path(hf.hf_hub_download(copy, "w.bin")).read_bytes() == b"shared weights"
    assert Path(hf.hf_hub_download(same, "other-name.bin")).read_bytes() == b"shared weights"
    assert Path(hf.hf_hub_download(same, "small.txt")).read_bytes() == b"shared weights"
    assert [f.filename for f in hf.list_lfs_files(copy)] == ["w.bin"]
    _upload(source, "again.bin", b"shared weights")  # the object can be uploaded again
    assert Path(hf.hf_hub_download(source, "again.bin", force_download=True)).read_bytes() == b"shared weights"


@pytest.mark.local_hub(xet=False)
def test_lfs_files_are_for_the_owner_and_deleting_needs_a_write_token(local_hub: LocalHub) -> None:
    public = hf.create_repo("public").repo_id
    private = hf.create_repo("private", private=True).repo_id
    for repo_id in (public, private):
        _upload(repo_id, "w.bin", b"weights")
    bob = local_hub.add_user("bob")
    read_only = local_hub.create_token(local_hub.username, write=False)
    with pytest.raises(HfHubHTTPError) as excinfo:
        list(hf.list_lfs_files(public, token=bob))
    assert excinfo.value.response.status_code == 403
    with pytest.raises(RepositoryNotFoundError):
        list(hf.list_lfs_files(private, token=bob))
    lfs_files = list(hf.list_lfs_files(private, token=read_only))
    assert [f.filename for f in lfs_files] == ["w.bin"]
    with pytest.raises(HfHubHTTPError) as excinfo:
        hf.permanently_delete_lfs_files(private, lfs_files, token=read_only)
    assert excinfo.value.response.status_code == 403
    with pytest.raises(RepositoryNotFoundError):
        hf.permanently_delete_lfs_files(private, lfs_files, token=bob)
    with pytest.raises(HfHubHTTPError) as excinfo:
        hf.permanently_delete_lfs_files(public, lfs_files, token=bob)
    assert excinfo.value.response.status_code == 403
    assert len(list(hf.list_lfs_files(private))) == 1 and len(list(hf.list_lfs_files(public))) == 1


@pytest.mark.local_hub(xet=False)
def test_deleting_unknown_objects_changes_nothing(local_hub: LocalHub) -> None:
    repo_id = hf.create_repo("lfs").repo_id
    _upload(repo_id, "w.bin", b"weights")
    url = f"{local_hub.endpoint}/api/models/{repo_id}/lfs-files/batch"
    unknown = hashlib.sha256(b"never uploaded").hexdigest()
    known = hashlib.sha256(b"weights").hexdigest()
    body = b'{"deletions": {"sha": ["%s", "%s"]}}' % (known.encode(), unknown.encode())
    status, _, answer = raw_request("POST", url, token=local_hub.token, body=body)
    assert status == 404 and unknown.encode() in answer
    assert [f.filename for f in hf.list_lfs_files(repo_id)] == ["w.bin"]
    for bad in (b"{}", b'{"deletions": {"sha": ["nope"]}}', b'{"deletions": {"sha": [], "rewriteHistory": 1}}'):
        assert raw_request("POST", url, token=local_hub.token, body=bad)[0] == 400


def test_a_database_of_an_older_version_gets_the_new_columns(tmp_path: Path) -> None:
    path = tmp_path / "hub.sqlite"
    with closing(sqlite3.connect(path)) as db:  # the tables as the first versions created them
        db.executescript(
            """
            CREATE TABLE repos (
                id INTEGER PRIMARY KEY AUTOINCREMENT, type TEXT NOT NULL, namespace TEXT NOT NULL, name TEXT NOT NULL,
                private INTEGER NOT NULL, created_at TEXT NOT NULL, next_pr INTEGER NOT NULL DEFAULT 1,
                UNIQUE (type, namespace, name));
            CREATE TABLE lfs_objects (
                repo_id INTEGER NOT NULL, sha256 TEXT NOT NULL, size INTEGER NOT NULL, PRIMARY KEY (repo_id, sha256));
            INSERT INTO repos VALUES (1, 'model', 'u', 'old', 0, '2024-01-01T00:00:00.000Z', 1);
            INSERT INTO lfs_objects VALUES (1, 'aa', 3);
            """
        )
        db.commit()
    storage = Storage(path)
    try:
        repo = storage.get_repo(RepoKey("model", "u", "old"))
        assert repo is not None and repo.gated == ""
        storage.set_gated(repo, "manual")
        storage.link_lfs(repo, "bb", 4)
        assert [(o.sha256, o.pushed_at == "") for o in lfs_objects(storage, repo)] == [("bb", False), ("aa", True)]
        assert storage.get_repo(repo.key) == Repo(repo.id, repo.key, False, repo.created_at, "manual")
    finally:
        storage.close()


_MARKED = """
import pytest

@pytest.mark.local_hub(xte=False)
def test_typo(local_hub):
    pass

@pytest.mark.local_hub(False)
def test_positional(local_hub):
    pass
"""


def test_the_local_hub_marker_refuses_what_it_does_not_take(tmp_path: Path) -> None:
    (tmp_path / "test_marked.py").write_text(_MARKED)
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path / "test_marked.py")]
    result = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path, check=False)
    assert result.returncode != 0 and "2 errors" in result.stdout
    assert "takes xet= only, not xte=" in result.stdout and "not False" in result.stdout
