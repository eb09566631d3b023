"""Every huggingface_hub call hubmixin relies on, through the real client, against LocalHub."""

from __future__ import annotations

import hashlib
import json
import math
import os
import struct
from pathlib import Path

import huggingface_hub as hf
import pytest
from huggingface_hub import CommitOperationAdd, CommitOperationDelete, HfApi
from huggingface_hub.errors import (
    EntryNotFoundError,
    HfHubHTTPError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)
from huggingface_hub.hf_api import SafeTensorsInfo

from hubmixin_core.testing import LocalHub


def _binary(size: int) -> bytes:
    return b"\x00" + os.urandom(size - 1)


def test_whoami(local_hub: LocalHub) -> None:
    me = HfApi().whoami()
    assert me["name"] == local_hub.username
    assert me["auth"]["accessToken"]["role"] == "write"


def test_create_repo_public_private_and_exist_ok(local_hub: LocalHub) -> None:
    url = hf.create_repo("public-model")
    assert url.repo_id == f"{local_hub.username}/public-model"
    assert url.startswith(local_hub.endpoint)
    with pytest.raises(HfHubHTTPError) as excinfo:
        hf.create_repo("public-model")
    assert excinfo.value.response.status_code == 409
    assert hf.create_repo("public-model", exist_ok=True).repo_id == url.repo_id
    private = hf.create_repo("private-data", private=True, repo_type="dataset")
    assert private.repo_type == "dataset"
    assert hf.dataset_info(private.repo_id).private is True
    hf.upload_file(path_or_fileobj=b"a,b", path_in_repo="t.csv", repo_id=private.repo_id, repo_type="dataset")
    assert Path(hf.hf_hub_download(private.repo_id, "t.csv", repo_type="dataset")).read_bytes() == b"a,b"
    assert hf.model_info(url.repo_id).private is False


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"resource_group_id": "rg"}, "resource groups"),
        ({"region": "eu"}, "storage regions"),
        ({"repo_type": "space", "space_sdk": "gradio", "space_hardware": "t4-small"}, "Space hardware"),
        ({"repo_type": "space", "space_sdk": "gradio", "space_secrets": [{"key": "K", "value": "V"}]}, "Space secrets"),
        (
            {"repo_type": "space", "space_sdk": "docker", "space_variables": [{"key": "K", "value": "V"}]},
            "Space variables",
        ),
        ({"repo_type": "space", "space_sdk": "gradio", "space_sleep_time": 600}, "Space sleep time"),
    ],
)
def test_create_repo_options_not_implemented_answer_501(
    local_hub: LocalHub, options: dict[str, object], named: str
) -> None:
    with pytest.raises(HfHubHTTPError) as excinfo:
        hf.create_repo("unsupported", exist_ok=True, **options)  # type: ignore[arg-type]
    assert excinfo.value.response.status_code == 501
    assert f"['{named}'] are not supported by the local Hub" in excinfo.value.response.text
    assert not hf.repo_exists(f"{local_hub.username}/unsupported", repo_type=str(options.get("repo_type", "model")))


def test_repo_ids_are_case_insensitive(local_hub: LocalHub) -> None:
    repo_id = hf.create_repo("MyModel").repo_id
    hf.upload_file(path_or_fileobj=b"{}", path_in_repo="config.json", repo_id=repo_id)
    for other in (repo_id.lower(), repo_id.upper()):
        assert hf.model_info(other).id == repo_id  # the name as created
        assert Path(hf.hf_hub_download(other, "config.json")).read_bytes() == b"{}"
    with pytest.raises(HfHubHTTPError) as excinfo:
        hf.create_repo("mymodel")
    assert excinfo.value.response.status_code == 409
    assert hf.create_repo("mymodel", exist_ok=True).repo_id == repo_id
    assert [m.id for m in hf.list_models(author=local_hub.username)] == [repo_id]


def test_repo_info_and_model_info(local_hub: LocalHub) -> None:
    repo_id = hf.create_repo("info").repo_id
    commit = hf.upload_file(path_or_fileobj=b'{"a": 1}', path_in_repo="config.json", repo_id=repo_id)
    assert hf.repo_info(repo_id).sha == commit.oid
    info = hf.model_info(repo_id, files_metadata=True)
    assert info.id == repo_id
    assert info.sha == commit.oid
    assert info.siblings is not None
    sizes = {s.rfilename: s.size for s in info.siblings}
    assert sizes["config.json"] == 8
    assert ".gitattributes" in sizes  # the Hub's initial commit
    assert hf.model_info(repo_id, revision=commit.oid).sha == commit.oid
    with pytest.raises(RevisionNotFoundError):
        hf.model_info(repo_id, revision="no-such-branch")
    with pytest.raises(RepositoryNotFoundError):
        hf.model_info(f"{local_hub.username}/missing")


def _safetensors(tensors: dict[str, tuple[str, list[int], int]]) -> bytes:
    """A safetensors file of zeros: ``{name: (dtype, shape, bytes per item)}``."""
    header: dict[str, object] = {"__metadata__": {"format": "pt"}}
    offset = 0
    for name, (dtype, shape, itemsize) in tensors.items():
        size = itemsize * math.prod(shape)
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + size]}
        offset += size
    encoded = json.dumps(header).encode()
    return struct.pack("<Q", len(encoded)) + encoded + bytes(offset)


@pytest.mark.parametrize("xet", [pytest.param(True), pytest.param(False, marks=pytest.mark.local_hub(xet=False))])
def test_model_info_counts_the_safetensors_parameters(local_hub: LocalHub, xet: bool) -> None:
    # Xet on: the weights are stored as Xet files only; off: as LFS blobs
    single, sharded = hf.create_repo("single").repo_id, hf.create_repo("sharded").repo_id
    assert hf.model_info(single).safetensors is None
    weights = _safetensors({"w": ("F32", [3, 4], 4), "ids": ("I64", [1000], 8)})
    hf.upload_file(path_or_fileobj=weights, path_in_repo="model.safetensors", repo_id=single)
    expected = SafeTensorsInfo(parameters={"F32": 12, "I64": 1000}, total=1012)
    assert hf.model_info(single).safetensors == expected
    assert hf.model_info(single, expand=["safetensors"]).safetensors == expected
    shards = {
        "a.safetensors": _safetensors({"x": ("BF16", [8], 2)}),
        "b.safetensors": _safetensors({"y": ("F32", [2, 2], 4)}),
    }
    index = {"metadata": {}, "weight_map": {"x": "a.safetensors", "y": "b.safetensors"}}
    operations = [CommitOperationAdd(path, data) for path, data in shards.items()]
    operations.append(CommitOperationAdd("model.safetensors.index.json", json.dumps(index).encode()))
    hf.create_commit(sharded, operations, commit_message="Shards")
    assert hf.model_info(sharded).safetensors == SafeTensorsInfo(parameters={"BF16": 8, "F32": 4}, total=12)
    listed = {m.id: m.safetensors for m in hf.list_models(author=local_hub.username, expand=["safetensors"])}
    assert listed == {single: expected, sharded: SafeTensorsInfo(parameters={"BF16": 8, "F32": 4}, total=12)}


def test_upload_file_regular_and_lfs_then_download(local_hub: LocalHub) -> None:
    repo_id = hf.create_repo("files").repo_id
    weights = _binary(4096)
    hf.upload_file(path_or_fileobj=b"hello", path_in_repo="notes.txt", repo_id=repo_id)
    hf.upload_file(path_or_fileobj=weights, path_in_repo="model.safetensors", repo_id=repo_id)
    entries = {f.path: f for f in HfApi().list_repo_tree(repo_id) if isinstance(f, hf.hf_api.RepoFile)}
    assert entries["notes.txt"].lfs is None
    assert entries["model.safetensors"].lfs is not None
    assert entries["model.safetensors"].lfs.sha256 == hashlib.sha256(weights).hexdigest()
    assert Path(hf.hf_hub_download(repo_id, "notes.txt")).read_bytes() == b"hello"
    assert Path(hf.hf_hub_download(repo_id, "model.safetensors")).read_bytes() == weights
    metadata = hf.get_hf_file_metadata(hf.hf_hub_url(repo_id, "model.safetensors"))
    assert metadata.etag == entries["model.safetensors"].lfs.sha256
    assert metadata.size == 4096


def test_upload_folder_mixes_regular_and_lfs(local_hub: LocalHub, tmp_path: Path) -> None:
    repo_id = hf.create_repo("folder").repo_id
    (tmp_path / "sub").mkdir()
    (tmp_path / "config.json").write_text("{}")
    (tmp_path / "sub" / "readme.txt").write_text("text")
    big = b"x" * (10 * 1024 * 1024)  # text, but at the LFS size threshold
    (tmp_path / "sub" / "big.txt").write_bytes(big)
    hf.upload_folder(folder_path=tmp_path, repo_id=repo_id)
    tree = {f.path: f for f in HfApi().list_repo_tree(repo_id, recursive=True)}
    assert set(tree) == {".gitattributes", "config.json", "sub", "sub/readme.txt", "sub/big.txt"}
    assert isinstance(tree["sub"], hf.hf_api.RepoFolder)
    big_entry = tree["sub/big.txt"]
    assert isinstance(big_entry, hf.hf_api.RepoFile) and big_entry.lfs is not None
    assert Path(hf.hf_hub_download(repo_id, "sub/big.txt")).read_bytes() == big
    assert sorted(hf.list_repo_files(repo_id)) == [".gitattributes", "config.json", "sub/big.txt", "sub/readme.txt"]


def test_create_commit_with_deletions(local_hub: LocalHub) -> None:
    repo_id = hf.create_repo("ops").repo_id
    hf.create_commit(
        repo_id,
        operations=[
            CommitOperationAdd("keep.txt", b"keep"),
            CommitOperationAdd("old.txt", b"old"),
            CommitOperationAdd("ckpt/a.bin", _binary(100)),
            CommitOperationAdd("ckpt/b.txt", b"b"),
        ],
        commit_message="add files",
    )
    info = hf.create_commit(
        repo_id,
        operations=[CommitOperationDelete("old.txt"), CommitOperationDelete("ckpt/"), CommitOperationAdd("new", b"n")],
        commit_message="delete some",
    )
    assert sorted(hf.list_repo_files(repo_id)) == [".gitattributes", "keep.txt", "new"]
    assert [c.title for c in hf.list_repo_commits(repo_id)] == ["delete some", "add files", "initial commit"]
    assert hf.list_repo_commits(repo_id)[0].commit_id == info.oid
    with pytest.raises(EntryNotFoundError):
        hf.create_commit(repo_id, operations=[CommitOperationDelete("old.txt")], commit_message="again")


def test_create_commit_with_stale_parent_is_refused(local_hub: LocalHub) -> None:
    repo_id = hf.create_repo("parent").repo_id
    first = hf.upload_file(path_or_fileobj=b"1", path_in_repo="a", repo_id=repo_id)
    hf.upload_file(path_or_fileobj=b"2", path_in_repo="a", repo_id=repo_id)
    with pytest.raises(HfHubHTTPError) as excinfo:
        hf.create_commit(
            repo_id, operations=[CommitOperationAdd("a", b"3")], commit_message="m", parent_commit=first.oid
        )
    assert excinfo.value.response.status_code == 412


def test_hf_hub_download_by_branch_tag_and_sha(local_hub: LocalHub) -> None:
    repo_id = hf.create_repo("revisions").repo_id
    v1 = hf.upload_file(path_or_fileobj=b"v1", path_in_repo="f.txt", repo_id=repo_id)
    hf.create_tag(repo_id, tag="v1")
    hf.create_branch(repo_id, branch="stable")
    hf.upload_file(path_or_fileobj=b"v2", path_in_repo="f.txt", repo_id=repo_id)
    assert Path(hf.hf_hub_download(repo_id, "f.txt")).read_bytes() == b"v2"
    assert Path(hf.hf_hub_download(repo_id, "f.txt", revision="v1")).read_bytes() == b"v1"
    assert Path(hf.hf_hub_download(repo_id, "f.txt", revision="stable")).read_bytes() == b"v1"
    assert Path(hf.hf_hub_download(repo_id, "f.txt", revision=v1.oid, force_download=True)).read_bytes() == b"v1"
    with pytest.raises(RevisionNotFoundError):
        hf.hf_hub_download(repo_id, "f.txt", revision="nope")
    with pytest.raises(EntryNotFoundError):
        hf.hf_hub_download(repo_id, "missing.txt")
    with pytest.raises(RepositoryNotFoundError):
        hf.hf_hub_download(f"{local_hub.username}/nope", "f.txt")


def test_snapshot_download(local_hub: LocalHub) -> None:
    repo_id = hf.create_repo("snapshot").repo_id
    shards = {f"d/w{i}.bin": _binary(300 + i) for i in range(6)}  # uploaded and downloaded in parallel
    operations = [CommitOperationAdd(path, data) for path, data in shards.items()]
    hf.create_commit(repo_id, operations=[CommitOperationAdd("a.txt", b"a"), *operations], commit_message="files")
    folder = Path(hf.snapshot_download(repo_id))
    assert (folder / "a.txt").read_bytes() == b"a"
    assert all((folder / path).read_bytes() == data for path, data in shards.items())
    only_txt = Path(hf.snapshot_download(repo_id, allow_patterns=["*.txt"], local_dir=folder.parent / "local"))
    assert sorted(p.name for p in only_txt.rglob("*") if p.is_file() and ".cache" not in p.parts) == ["a.txt"]


def test_branches_tags_and_refs(local_hub: LocalHub) -> None:
    repo_id = hf.create_repo("refs").repo_id
    hf.create_branch(repo_id, branch="dev")
    with pytest.raises(HfHubHTTPError) as excinfo:
        hf.create_branch(repo_id, branch="dev")
    assert excinfo.value.response.status_code == 409
    hf.create_branch(repo_id, branch="dev", exist_ok=True)
    hf.upload_file(path_or_fileobj=b"dev", path_in_repo="dev.txt", repo_id=repo_id, revision="dev")
    hf.create_tag(repo_id, tag="v0", revision="dev")
    hf.create_tag(repo_id, tag="v0", revision="dev", exist_ok=True)
    refs = hf.list_repo_refs(repo_id)
    assert sorted(b.name for b in refs.branches) == ["dev", "main"]
    assert [t.name for t in refs.tags] == ["v0"]
    dev = next(b for b in refs.branches if b.name == "dev")
    assert refs.tags[0].target_commit == dev.target_commit
    assert "dev.txt" not in hf.list_repo_files(repo_id)
    assert "dev.txt" in hf.list_repo_files(repo_id, revision="v0")
    with pytest.raises(RevisionNotFoundError):
        hf.create_branch(repo_id, branch="x", revision="no-such-revision")
    hf.delete_tag(repo_id, tag="v0")
    hf.delete_branch(repo_id, branch="dev")
    assert [b.name for b in hf.list_repo_refs(repo_id).branches] == ["main"]


def test_upload_with_create_pr(local_hub: LocalHub) -> None:
    repo_id = hf.create_repo("prs").repo_id
    first = hf.upload_file(path_or_fileobj=b"pr1", path_in_repo="p.txt", repo_id=repo_id, create_pr=True)
    second = hf.upload_file(path_or_fileobj=_binary(64), path_in_repo="w.bin", repo_id=repo_id, create_pr=True)
    assert (first.pr_num, first.pr_revision) == (1, "refs/pr/1")
    assert second.pr_revision == "refs/pr/2"
    assert "p.txt" not in hf.list_repo_files(repo_id)
    assert Path(hf.hf_hub_download(repo_id, "p.txt", revision="refs/pr/1")).read_bytes() == b"pr1"
    pulls = hf.list_repo_refs(repo_id, include_pull_requests=True).pull_requests
    assert pulls is not None
    assert [p.ref for p in pulls] == ["refs/pr/1", "refs/pr/2"]
    hf.upload_file(path_or_fileobj=b"more", path_in_repo="q.txt", repo_id=repo_id, revision="refs/pr/1")
    assert sorted(hf.list_repo_files(repo_id, revision="refs/pr/1")) == [".gitattributes", "p.txt", "q.txt"]


def test_delete_file_and_delete_repo(local_hub: LocalHub) -> None:
    repo_id = hf.create_repo("deletes").repo_id
    hf.upload_file(path_or_fileobj=b"x", path_in_repo="x.txt", repo_id=repo_id)
    hf.delete_file("x.txt", repo_id)
    assert hf.list_repo_files(repo_id) == [".gitattributes"]
    with pytest.raises(EntryNotFoundError):
        hf.delete_file("x.txt", repo_id)
    hf.delete_repo(repo_id)
    with pytest.raises(RepositoryNotFoundError):
        hf.repo_info(repo_id)
    with pytest.raises(RepositoryNotFoundError):
        hf.delete_repo(repo_id)
    hf.delete_repo(repo_id, missing_ok=True)
    assert hf.create_repo("deletes").repo_id == repo_id  # the name is free again
    assert hf.list_repo_files(repo_id) == [".gitattributes"]


def test_unchanged_files_are_not_committed_again(local_hub: LocalHub) -> None:
    repo_id = hf.create_repo("noop").repo_id
    first = hf.upload_file(path_or_fileobj=_binary(50), path_in_repo="w.bin", repo_id=repo_id)
    hf.upload_file(path_or_fileobj=b"t", path_in_repo="t.txt", repo_id=repo_id)
    operations = [CommitOperationAdd("t.txt", b"t")]
    again = hf.create_commit(repo_id, operations=operations, commit_message="same")
    assert again.oid == hf.repo_info(repo_id).sha != first.oid
    assert len(hf.list_repo_commits(repo_id)) == 3


def test_tree_listing_pages_and_paths_info() -> None:
    with LocalHub(page_size=2) as hub, hub.configure_client():
        repo_id = hf.create_repo("pages").repo_id
        hf.create_commit(
            repo_id,
            operations=[CommitOperationAdd(f"d/f{i}.txt", b"%d" % i) for i in range(5)],
            commit_message="five",
        )
        assert len(hf.list_repo_files(repo_id)) == 6
        assert len(list(HfApi().list_repo_tree(repo_id, path_in_repo="d"))) == 5
        infos = HfApi().get_paths_info(repo_id, ["d", "d/f1.txt", "absent"])
        assert [(type(i).__name__, i.path) for i in infos] == [("RepoFolder", "d"), ("RepoFile", "d/f1.txt")]
        assert HfApi().file_exists(repo_id, "d/f4.txt")
        assert not HfApi().file_exists(repo_id, "d/f5.txt")
        with pytest.raises(EntryNotFoundError):
            list(HfApi().list_repo_tree(repo_id, path_in_repo="nope"))
