"""Commit storage: each commit stores O(changed files) rows, and every tree reads back whole."""

from __future__ import annotations

import random
import sqlite3
from contextlib import closing
from pathlib import Path

import huggingface_hub as hf

from hubmixin_core.testing import LocalHub
from hubmixin_core.testing._storage import FileEntry, RepoKey, Storage


def _entry(path: str, version: int) -> FileEntry:
    return FileEntry(path, f"{version:064x}", version, False, f"{version:040x}")


def test_commits_store_only_their_changes_and_read_back_whole(tmp_path: Path) -> None:
    storage = Storage(tmp_path / "hub.sqlite")
    repo = storage.create_repo(RepoKey("model", "u", "r"), private=False, author="u", initial=[_entry("init", 0)])
    assert repo is not None
    rng = random.Random(0)
    expected = {"init": _entry("init", 0)}
    trees = []
    for i in range(1, 201):
        before = dict(expected)
        if i == 1:
            expected.update({f"f{n:03}": _entry(f"f{n:03}", i) for n in range(300)})
        else:
            path = f"f{rng.randrange(320):03}"
            if path in expected and rng.random() < 0.3:
                del expected[path]
            else:
                expected[path] = _entry(path, i)

        def build(files: dict[str, FileEntry], before: dict[str, FileEntry] = before) -> dict[str, FileEntry]:
            assert files == before
            return dict(expected)

        oid, _ = storage.commit(repo, ref="refs/heads/main", build=build, author="u", title=f"c{i}", message="")
        trees.append((oid, dict(expected)))
    for oid, tree in trees[::7] + trees[-3:]:
        assert storage.files(repo, oid) == dict(sorted(tree.items()))
        for path in ("init", "f000", "f150", "f310"):
            assert storage.file(repo, oid, path) == tree.get(path)
    storage.close()
    with closing(sqlite3.connect(tmp_path / "hub.sqlite")) as db:
        rows = db.execute("SELECT COUNT(*) FROM files").fetchone()[0]
    assert rows < 301 * (1 + 200 // 31) + 2 * 200  # snapshots every 32 commits plus the changes; 60,000 if whole


def test_deleting_everything_and_pull_requests(local_hub: LocalHub) -> None:
    repo_id = f"{local_hub.username}/deltas"
    hf.create_repo(repo_id)
    for n in range(5):
        hf.upload_file(path_or_fileobj=f"v{n}".encode(), path_in_repo=f"d/f{n}", repo_id=repo_id)
    hf.upload_file(path_or_fileobj=b"pr", path_in_repo="d/f0", repo_id=repo_id, create_pr=True)
    hf.delete_folder("d", repo_id=repo_id)
    assert hf.list_repo_files(repo_id) == [".gitattributes"]
    assert sorted(hf.list_repo_files(repo_id, revision="refs/pr/1")) == [".gitattributes"] + [
        f"d/f{n}" for n in range(5)
    ]
    assert Path(hf.hf_hub_download(repo_id, "d/f0", revision="refs/pr/1")).read_bytes() == b"pr"
    assert Path(hf.hf_hub_download(repo_id, "d/f4", revision="refs/pr/1")).read_bytes() == b"v4"


def test_storage_grows_with_the_change_not_the_repo(local_hub: LocalHub) -> None:
    repo_id = f"{local_hub.username}/growth"
    hf.create_repo(repo_id)
    adds = [hf.CommitOperationAdd(f"f{n:03}.txt", f"file {n}".encode()) for n in range(200)]
    hf.create_commit(repo_id, adds, commit_message="200 files")

    def rows() -> int:
        with closing(sqlite3.connect(local_hub.root / "hub.sqlite")) as db:
            count: int = db.execute("SELECT COUNT(*) FROM files").fetchone()[0]
        return count

    before = rows()
    for n in range(20):
        hf.upload_file(path_or_fileobj=f"v{n}".encode(), path_in_repo=f"f{n:03}.txt", repo_id=repo_id)
    # One row per one-file commit, plus one whole tree (201 rows) if a 32-commit chain ends here; 4,020 if whole.
    assert rows() - before <= 20 + 201
    files = hf.list_repo_files(repo_id)
    assert len(files) == 201
    assert Path(hf.hf_hub_download(repo_id, "f019.txt")).read_bytes() == b"v19"
    assert Path(hf.hf_hub_download(repo_id, "f020.txt")).read_bytes() == b"file 20"


def test_a_blob_shorter_than_recorded_cuts_the_download_at_once(tmp_path: Path) -> None:
    import time

    import httpx2
    import pytest

    root = tmp_path / "hub"
    with LocalHub(root) as hub, hub.configure_client(xet=False):
        repo_id = f"{hub.username}/damaged"
        api = hf.HfApi()
        api.create_repo(repo_id)
        api.upload_file(path_or_fileobj=b"\x01" * 40_000, path_in_repo="w.bin", repo_id=repo_id)
        blob = next(p for p in root.rglob("*") if p.is_file() and p.parent.parent.name == "blobs")
        blob.write_bytes(blob.read_bytes()[:-5000])  # a damaged server store
        start = time.monotonic()
        with pytest.raises(httpx2.HTTPError):
            hf.hf_hub_download(repo_id, "w.bin", cache_dir=tmp_path / "cache", etag_timeout=60)
        assert time.monotonic() - start < 30  # cut, not left waiting for the client's read timeout
        assert not list((tmp_path / "cache").rglob("w.bin"))  # nothing damaged cached
