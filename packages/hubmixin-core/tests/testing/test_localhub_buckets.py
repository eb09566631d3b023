"""Storage buckets through the real client (Xet on): create, list, move, settings, delete; files uploaded through Xet
and listed, downloaded, copied and deleted; sync both ways; access rules; restarts; the ``hf`` CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import huggingface_hub as hf
import pytest
from huggingface_hub.errors import BucketBatchError, BucketNotFoundError, HfHubHTTPError
from localhub_raw import raw_request

from hubmixin_core.testing import LocalHub

pytest.importorskip("blake3")
pytest.importorskip("lz4")
pytest.importorskip("hf_xet")

BIG = 10 * 1024 * 1024 + 12345
ORG = "lab"


def _status(call: object, *args: object, **kwargs: object) -> int:
    """The HTTP status of the error ``call`` raises."""
    assert callable(call)
    with pytest.raises(HfHubHTTPError) as excinfo:
        call(*args, **kwargs)
    return int(excinfo.value.response.status_code)


def _tree(bucket_id: str, prefix: str | None = None, *, recursive: bool | None = None) -> list[tuple[str, str]]:
    return [(item.type, item.path) for item in hf.list_bucket_tree(bucket_id, prefix, recursive=recursive)]


def _files(bucket_id: str) -> list[tuple[str, int, str, object]]:
    """Path, size, Xet hash and modification time of every file of the bucket."""
    items = hf.list_bucket_tree(bucket_id)
    return [(f.path, f.size, f.xet_hash, f.mtime) for f in items if isinstance(f, hf.BucketFile)]


def _download(bucket_id: str, path: str, folder: Path, token: str | None = None) -> bytes:
    target = folder / path.replace("/", "_")
    hf.download_bucket_files(bucket_id, [(path, target)], raise_on_missing_files=True, token=token)
    return target.read_bytes()


def _xorb_bytes(root: Path) -> int:
    return sum(p.stat().st_size for p in (root / "xet" / "xorbs").glob("*/*") if p.suffix != ".idx")


def test_create_info_list_settings_move_and_delete(local_hub: LocalHub) -> None:
    me, endpoint = local_hub.username, local_hub.endpoint
    url = hf.create_bucket("data")
    assert (url.bucket_id, url.url) == (f"{me}/data", f"{endpoint}/buckets/{me}/data")
    assert _status(hf.create_bucket, f"{me}/data") == 409
    assert hf.create_bucket("data", exist_ok=True).bucket_id == url.bucket_id
    info = hf.bucket_info(url.bucket_id)
    assert (info.id, info.private, info.size, info.total_files) == (url.bucket_id, False, 0, 0)
    private = hf.create_bucket("secret", private=True).bucket_id
    assert hf.bucket_info(private).private is True
    assert [b.id for b in hf.list_buckets()] == [private, url.bucket_id]  # newest first
    assert [b.id for b in hf.list_buckets(me, search="SEC")] == [private]

    hf.update_bucket_settings(url.bucket_id, private=True)
    assert hf.bucket_info(url.bucket_id).private is True
    hf.move_bucket(url.bucket_id, f"{me}/renamed")
    with pytest.raises(BucketNotFoundError):
        hf.bucket_info(url.bucket_id)
    assert hf.bucket_info(f"{me}/renamed").private is True
    assert _status(hf.move_bucket, f"{me}/renamed", private) == 409
    for bad in ("bad name", "..", "x" * 300):  # the client checks names too: over raw HTTP
        body = json.dumps({"fromRepo": f"{me}/renamed", "toRepo": f"{me}/{bad}", "type": "bucket"}).encode()
        assert raw_request("POST", f"{local_hub.endpoint}/api/repos/move", token=local_hub.token, body=body)[0] == 400

    hf.delete_bucket(f"{me}/renamed")
    with pytest.raises(BucketNotFoundError):
        hf.delete_bucket(f"{me}/renamed")
    hf.delete_bucket(f"{me}/renamed", missing_ok=True)
    assert [b.id for b in hf.list_buckets()] == [private]

    assert _status(hf.bucket_info, "data") == 404  # a bucket id needs its namespace
    assert _status(hf.create_bucket, "bad..name") == 400
    assert _status(hf.create_bucket, "elsewhere", region="eu") == 501  # unsupported options are explicit
    status, _, body = raw_request("GET", f"{endpoint}/api/buckets/{private}/events", token=local_hub.token)
    assert status == 501 and b"not supported by the local Hub" in body


def test_files_upload_list_download_and_delete(local_hub: LocalHub, tmp_path: Path) -> None:
    bucket_id = hf.create_bucket("files").bucket_id
    big = os.urandom(BIG)
    (tmp_path / "big.bin").write_bytes(big)
    hf.batch_bucket_files(
        bucket_id,
        add=[(tmp_path / "big.bin", "models/big.bin"), (b"hello", "a.txt"), (b"{}", "models/sub/config.json")],
    )
    hf.batch_bucket_files(bucket_id, add=[(b"", "models.keep"), (b"log", "logs_old/x.log")])

    assert _tree(bucket_id) == [  # every file, as the Hub lists without `recursive`
        ("file", "a.txt"),
        ("file", "logs_old/x.log"),
        ("file", "models.keep"),
        ("file", "models/big.bin"),
        ("file", "models/sub/config.json"),
    ]
    assert _tree(bucket_id, recursive=False) == [
        ("file", "a.txt"),
        ("directory", "logs_old"),
        ("file", "models.keep"),
        ("directory", "models"),
    ]
    assert _tree(bucket_id, "models", recursive=False) == [
        ("file", "models.keep"),  # the prefix matches as a string, as on the Hub
        ("file", "models/big.bin"),
        ("directory", "models/sub"),
    ]
    assert _tree(bucket_id, "models/", recursive=True) == [
        ("file", "models/big.bin"),
        ("file", "models/sub/config.json"),
    ]
    files = {f.path: f for f in hf.get_bucket_paths_info(bucket_id, ["models/big.bin", "a.txt", "missing", "models"])}
    assert sorted(files) == ["a.txt", "models/big.bin"]
    assert files["models/big.bin"].size == BIG and len(files["models/big.bin"].xet_hash) == 64
    assert files["a.txt"].mtime is not None and files["a.txt"].uploaded_at is not None
    metadata = hf.get_bucket_file_metadata(bucket_id, "models/big.bin")
    assert metadata.size == BIG and metadata.xet_file_data.file_hash == files["models/big.bin"].xet_hash
    info = hf.bucket_info(bucket_id)
    assert (info.total_files, info.size) == (5, BIG + len(b"hello{}log"))

    assert _download(bucket_id, "models/big.bin", tmp_path) == big  # through Xet
    assert _download(bucket_id, "a.txt", tmp_path) == b"hello"
    assert _download(bucket_id, "models.keep", tmp_path) == b""
    url = f"{local_hub.endpoint}/buckets/{bucket_id}/resolve/models%2Fbig.bin"  # plain bytes, for clients without Xet
    assert raw_request("GET", url)[2] == big
    status, headers, body = raw_request("GET", url, headers={"Range": "bytes=5000000-5000999"})
    assert status == 206 and body == big[5000000:5001000] and headers["X-Xet-Hash"] == metadata.xet_file_data.file_hash
    assert raw_request("GET", f"{local_hub.endpoint}/buckets/{bucket_id}/resolve/nope")[0] == 404

    hf.batch_bucket_files(bucket_id, add=[(b"world", "a.txt")], delete=["models/big.bin", "never-there"])
    assert [path for _, path in _tree(bucket_id, "models/")] == ["models/sub/config.json"]
    assert _download(bucket_id, "a.txt", tmp_path) == b"world"  # replaced


def test_storage_is_deduplicated_with_repositories(local_hub: LocalHub) -> None:
    data = os.urandom(BIG)
    repo_id = hf.create_repo("model").repo_id
    hf.upload_file(path_or_fileobj=data, path_in_repo="w.bin", repo_id=repo_id)
    stored = _xorb_bytes(local_hub.root)
    first, second = hf.create_bucket("one").bucket_id, hf.create_bucket("two").bucket_id
    hf.batch_bucket_files(first, add=[(data, "w.bin")])
    hf.batch_bucket_files(second, add=[(data, "copy.bin")])
    assert _xorb_bytes(local_hub.root) == stored  # same chunks: nothing new stored
    assert hf.get_bucket_file_metadata(second, "copy.bin").size == BIG


def test_copies_and_unknown_hashes(local_hub: LocalHub, tmp_path: Path) -> None:
    source, target = hf.create_bucket("source").bucket_id, hf.create_bucket("target").bucket_id
    hf.batch_bucket_files(source, add=[(b"a", "logs/a.txt"), (b"b", "logs/sub/b.txt"), (b"c", "other/c.txt")])
    hf.copy_files(f"hf://buckets/{source}/logs", f"hf://buckets/{target}/backup/")
    assert [path for _, path in _tree(target)] == ["backup/a.txt", "backup/sub/b.txt"]
    assert _download(target, "backup/sub/b.txt", tmp_path) == b"b"

    repo_id = hf.create_repo("weights").repo_id
    weights = b"\x00" + os.urandom(20000)
    hf.upload_file(path_or_fileobj=weights, path_in_repo="w.bin", repo_id=repo_id)
    hf.copy_files(f"hf://{repo_id}/w.bin", f"hf://buckets/{target}/w.bin")
    (xet_hash,) = [vars(f)["xetHash"] for f in hf.list_lfs_files(repo_id)]
    hf.batch_bucket_files(target, copy=[("model", repo_id, xet_hash, "from-repo.bin")])  # server-side, by hash
    assert _download(target, "w.bin", tmp_path) == _download(target, "from-repo.bin", tmp_path) == weights

    bob = local_hub.add_user("bob")
    hidden = hf.create_bucket("hidden", private=True).bucket_id
    hf.batch_bucket_files(hidden, add=[(b"private bytes", "p.txt")])
    (hidden_file,) = hf.get_bucket_paths_info(hidden, ["p.txt"])
    bob_bucket = hf.create_bucket("mine", token=bob).bucket_id
    with pytest.raises(BucketBatchError) as excinfo:  # bob cannot copy what he cannot read
        hf.batch_bucket_files(bob_bucket, copy=[("bucket", hidden, hidden_file.xet_hash, "stolen.txt")], token=bob)
    assert excinfo.value.response.status_code == 422 and "not found" in excinfo.value.failures[0]["error"]
    body = json.dumps({"type": "addFile", "path": "stolen.txt", "xetHash": hidden_file.xet_hash}).encode()
    status, _, answer = raw_request(
        "POST", f"{local_hub.endpoint}/api/buckets/{bob_bucket}/batch", token=bob, body=body
    )  # a hash uploaded elsewhere is not bob's to reference
    assert status == 422 and "never uploaded to this bucket" in json.loads(answer)["failed"][0]["error"]
    assert _tree(bob_bucket) == []


def test_sync_up_and_down(local_hub: LocalHub, tmp_path: Path) -> None:
    bucket_id = hf.create_bucket("synced").bucket_id
    local = tmp_path / "local"
    (local / "sub" / "deep").mkdir(parents=True)
    contents = {"a.txt": b"alpha", "sub/b.bin": os.urandom(50000), "sub/deep/c.json": b"{}", "empty": b""}
    for path, data in contents.items():
        (local / path).write_bytes(data)
    remote = f"hf://buckets/{bucket_id}/backup"

    assert hf.sync_bucket(str(local), remote, quiet=True).summary()["uploads"] == 4
    assert hf.sync_bucket(str(local), remote, quiet=True).summary() == {
        "uploads": 0,
        "downloads": 0,
        "deletes": 0,
        "skips": 4,
        "total_size": 0,
    }
    back = tmp_path / "back"
    assert hf.sync_bucket(remote, str(back), quiet=True).summary()["downloads"] == 4
    assert {str(p.relative_to(back)): p.read_bytes() for p in back.rglob("*") if p.is_file()} == contents
    assert hf.sync_bucket(remote, str(back), quiet=True).summary()["downloads"] == 0

    (local / "a.txt").write_bytes(b"alpha, longer")
    (local / "sub" / "b.bin").unlink()
    plan = hf.sync_bucket(str(local), remote, delete=True, quiet=True)
    assert [(op.action, op.path) for op in plan.operations if op.action != "skip"] == [
        ("upload", "a.txt"),
        ("delete", "sub/b.bin"),
    ]
    assert [path for _, path in _tree(bucket_id)] == ["backup/a.txt", "backup/empty", "backup/sub/deep/c.json"]
    hf.sync_bucket(remote, str(back), delete=True, quiet=True)
    assert (back / "a.txt").read_bytes() == b"alpha, longer" and not (back / "sub" / "b.bin").exists()


def test_access_rules_and_organizations(local_hub: LocalHub, tmp_path: Path) -> None:
    me = local_hub.username
    bob, carol = local_hub.add_user("bob"), local_hub.add_user("carol")
    public, private = hf.create_bucket("public").bucket_id, hf.create_bucket("private", private=True).bucket_id
    for bucket_id in (public, private):
        hf.batch_bucket_files(bucket_id, add=[(b"content", "f.txt")])

    assert hf.bucket_info(public, token=False).id == public  # public: everyone reads, anonymous included
    assert _download(public, "f.txt", tmp_path, token=bob) == b"content"
    for token in (bob, False):
        with pytest.raises(BucketNotFoundError):
            hf.bucket_info(private, token=token)
        with pytest.raises(BucketNotFoundError):
            list(hf.list_bucket_tree(private, token=token))
    assert _status(hf.get_bucket_file_metadata, private, "f.txt", token=bob) == 404
    assert [b.id for b in hf.list_buckets(me, token=bob)] == [public]
    assert _status(hf.batch_bucket_files, public, delete=["f.txt"], token=bob) == 403
    assert _status(hf.update_bucket_settings, public, private=True, token=bob) == 403
    assert _status(hf.delete_bucket, public, token=bob) == 403
    read_only = local_hub.create_token(me, write=False)
    assert _status(hf.create_bucket, "nope", token=read_only) == 403
    assert _status(hf.create_bucket, "nope", token=False) == 401
    status, _, _ = raw_request("GET", f"{local_hub.endpoint}/api/buckets/{public}/xet-write-token", token=bob)
    assert status == 403

    local_hub.add_organization(ORG, members={me: "write", "bob": "read"})
    lab = hf.create_bucket(f"{ORG}/data", private=True).bucket_id
    hf.batch_bucket_files(lab, add=[(b"shared", "s.txt")])
    assert hf.bucket_info(lab, token=bob).private is True  # org members of every role read
    assert _download(lab, "s.txt", tmp_path, token=bob) == b"shared"
    assert _status(hf.batch_bucket_files, lab, delete=["s.txt"], token=bob) == 403  # the read role does not write
    assert _status(hf.create_bucket, f"{ORG}/by-bob", token=bob) == 403
    with pytest.raises(BucketNotFoundError):
        hf.bucket_info(lab, token=carol)
    assert [b.id for b in hf.list_buckets(ORG, token=carol)] == []
    hf.move_bucket(public, f"{ORG}/moved")
    assert _download(f"{ORG}/moved", "f.txt", tmp_path, token=carol) == b"content"


def test_buckets_survive_a_restart_and_listings_are_paginated(tmp_path: Path) -> None:
    big = os.urandom(BIG)
    small = [(f"{i}".encode(), f"dir/{i}.txt") for i in range(4)]
    with LocalHub(tmp_path / "hub") as hub, hub.configure_client(xet=True):
        bucket_id = hf.create_bucket("kept", private=True).bucket_id
        hf.batch_bucket_files(bucket_id, add=[(big, "big.bin"), *small])
        listed = _files(bucket_id)
        hf.create_bucket("other")
    with LocalHub(tmp_path / "hub", page_size=2) as hub, hub.configure_client(xet=True):
        assert hf.bucket_info(bucket_id).private is True
        assert _files(bucket_id) == listed and len(listed) == 5  # three pages
        assert len(list(hf.list_buckets())) == 2
        assert _download(bucket_id, "big.bin", tmp_path) == big


def test_hf_cli_in_a_subprocess(local_hub: LocalHub, tmp_path: Path) -> None:
    local = tmp_path / "data"
    local.mkdir()
    (local / "x.txt").write_bytes(b"from the cli")
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "HF_ENDPOINT": local_hub.endpoint,
        "HF_TOKEN": local_hub.token,
    }
    hf_cli = Path(sys.executable).parent / "hf"
    bucket_id = f"{local_hub.username}/cli"

    def run(*args: str) -> str:
        result = subprocess.run([str(hf_cli), *args], env=env, capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr
        return result.stdout

    run("buckets", "create", bucket_id, "--private")
    run("sync", str(local), f"hf://buckets/{bucket_id}")
    listed = json.loads(run("buckets", "list", bucket_id, "-R", "--format", "json"))
    assert [(item["path"], item["size"]) for item in listed] == [("x.txt", 12)]
    assert hf.bucket_info(bucket_id).private is True
