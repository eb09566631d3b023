"""LocalHub's Xet storage with the real client (hf_xet, Xet on): uploads, downloads, dedup, restarts, checks."""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
from pathlib import Path

import huggingface_hub as hf
import pytest
from huggingface_hub import constants
from localhub_raw import raw_request

from hubmixin_core.testing import LocalHub

pytest.importorskip("blake3")
pytest.importorskip("lz4")
pytest.importorskip("hf_xet")

BIG = 10 * 1024 * 1024 + 12345


def _xorb_bytes(root: Path) -> int:
    return sum(p.stat().st_size for p in (root / "xet" / "xorbs").glob("*/*") if p.suffix != ".idx")


def _download(repo_id: str, name: str, *, xet: bool) -> bytes:
    saved = constants.HF_HUB_DISABLE_XET
    constants.HF_HUB_DISABLE_XET = not xet
    try:
        return Path(hf.hf_hub_download(repo_id, name, force_download=True)).read_bytes()
    finally:
        constants.HF_HUB_DISABLE_XET = saved


def test_round_trip_through_xet_and_plain_and_after_restart(tmp_path: Path) -> None:
    big = os.urandom(BIG)
    small = b"\x00binary" + os.urandom(3000)
    with LocalHub(tmp_path / "hub") as hub, hub.configure_client(xet=True):
        repo_id = hf.create_repo("xet").repo_id
        hf.upload_file(path_or_fileobj=big, path_in_repo="big.bin", repo_id=repo_id)
        hf.upload_file(path_or_fileobj=small, path_in_repo="small.bin", repo_id=repo_id)
        assert _xorb_bytes(hub.root) >= BIG  # stored as xorbs, not as LFS blobs
        info = hf.get_hf_file_metadata(hf.hf_hub_url(repo_id, "big.bin"))
        assert info.xet_file_data is not None and info.size == BIG
        for name, data in (("big.bin", big), ("small.bin", small)):
            assert _download(repo_id, name, xet=True) == data
            assert _download(repo_id, name, xet=False) == data
        url = hf.hf_hub_url(repo_id, "big.bin")
        status, _, body = raw_request("GET", url, headers={"Range": "bytes=5000000-5000999"})
        assert status == 206 and body == big[5000000:5001000]
    with LocalHub(tmp_path / "hub") as hub, hub.configure_client(xet=True):
        assert _download(repo_id, "big.bin", xet=True) == big
        assert _download(repo_id, "big.bin", xet=False) == big


def test_second_push_stores_only_the_changed_chunks(local_hub: LocalHub) -> None:
    repo_id = hf.create_repo("dedup").repo_id
    data = bytearray(os.urandom(BIG))
    hf.upload_file(path_or_fileobj=bytes(data), path_in_repo="w.bin", repo_id=repo_id)
    first = _xorb_bytes(local_hub.root)
    data[6_000_000:6_000_100] = b"\xff" * 100
    hf.upload_file(path_or_fileobj=bytes(data), path_in_repo="w.bin", repo_id=repo_id)
    growth = _xorb_bytes(local_hub.root) - first
    assert 0 < growth < BIG // 20, growth  # a chunk or two (64 KiB each), not the file
    other = hf.create_repo("copy").repo_id
    hf.upload_file(path_or_fileobj=bytes(data), path_in_repo="w.bin", repo_id=other)
    assert _xorb_bytes(local_hub.root) - first == growth  # deduplicated across repos
    assert _download(other, "w.bin", xet=False) == data


def test_files_of_repeated_chunks_download_through_xet(local_hub: LocalHub) -> None:
    # Zero-filled tensors deduplicate into terms that repeat a xorb's chunk range, then extend it: the
    # reconstruction must give one fetch range that covers them all (hf_xet panicked on overlapping ones).
    repo_id = hf.create_repo("repeats").repo_id
    ones = b"\x01" * (3 * 2**20 + 17)
    zeros = {"a.bin": b"\x00" * 2**20, "b.bin": b"\x00" * 2**21}
    for name, data in (("ones.bin", ones), *zeros.items()):
        hf.upload_file(path_or_fileobj=data, path_in_repo=name, repo_id=repo_id)
    for name, data in (("ones.bin", ones), *zeros.items()):
        assert _download(repo_id, name, xet=True) == data, name


def _write_token(hub: LocalHub, repo_id: str) -> tuple[str, str]:
    status, headers, body = raw_request(
        "GET", f"{hub.endpoint}/api/models/{repo_id}/xet-write-token/main", token=hub.token
    )
    assert status == 200
    answer = json.loads(body)
    assert answer["casUrl"] == headers["X-Xet-Cas-Url"]
    return answer["casUrl"], answer["accessToken"]


def test_lying_or_malformed_objects_are_rejected(local_hub: LocalHub) -> None:
    repo_id = hf.create_repo("lies").repo_id
    cas, token = _write_token(local_hub, repo_id)
    content = b"hello xet"
    chunk = struct.pack("<B3sB3s", 0, len(content).to_bytes(3, "little"), 0, len(content).to_bytes(3, "little"))
    lying = "ab" * 32
    status, _, body = raw_request("POST", f"{cas}/v1/xorbs/default/{lying}", token=token, body=chunk + content)
    assert status == 400 and b"hashes to" in body
    assert raw_request("POST", f"{cas}/v1/xorbs/default/{lying}", token=token, body=b"\x00\x01garbage")[0] == 400
    assert raw_request("POST", f"{cas}/v1/xorbs/default/not-a-hash", token=token, body=b"")[0] == 400
    assert raw_request("POST", f"{cas}/v1/shards", token=token, body=b"not a shard" * 10)[0] == 400
    assert raw_request("POST", f"{cas}/v1/xorbs/default/{lying}", body=chunk + content)[0] == 401
    assert _xorb_bytes(local_hub.root) == 0  # nothing stored
    status, _, _ = raw_request("GET", f"{cas}/v1/reconstructions/{lying}", token=token)
    assert status == 404


def test_read_tokens_cannot_write(local_hub: LocalHub) -> None:
    repo_id = hf.create_repo("ro").repo_id
    status, _, body = raw_request(
        "GET", f"{local_hub.endpoint}/api/models/{repo_id}/xet-read-token/main", token=local_hub.token
    )
    answer = json.loads(body)
    status, _, _ = raw_request("POST", f"{answer['casUrl']}/v1/shards", token=answer["accessToken"], body=b"x")
    assert status == 403


@pytest.mark.parametrize("xet_download", [True, False], ids=["xet", "plain"])
def test_upload_folder_and_snapshot_download(local_hub: LocalHub, tmp_path: Path, xet_download: bool) -> None:
    folder = tmp_path / "model"
    (folder / "sub").mkdir(parents=True)
    files = {"model.safetensors": os.urandom(BIG), "config.json": b'{"dim": 4}', "sub/notes.txt": b"hello"}
    for name, data in files.items():
        (folder / name).write_bytes(data)
    repo_id = hf.create_repo("folder").repo_id
    hf.upload_folder(folder_path=folder, repo_id=repo_id)
    assert _xorb_bytes(local_hub.root) >= BIG  # the large file went through Xet
    saved = constants.HF_HUB_DISABLE_XET
    constants.HF_HUB_DISABLE_XET = not xet_download
    try:
        local = Path(hf.snapshot_download(repo_id, cache_dir=tmp_path / "cache"))
    finally:
        constants.HF_HUB_DISABLE_XET = saved
    assert {name: (local / name).read_bytes() for name in files} == files


def test_tree_and_paths_info_give_the_xet_hash_of_xet_files(local_hub: LocalHub) -> None:
    repo_id = hf.create_repo("hashes").repo_id
    hf.upload_file(path_or_fileobj=os.urandom(BIG), path_in_repo="w.bin", repo_id=repo_id)
    hf.upload_file(path_or_fileobj=b"small", path_in_repo="s.txt", repo_id=repo_id)
    listed = {f.path: f for f in hf.list_repo_tree(repo_id) if isinstance(f, hf.hf_api.RepoFile)}
    head = hf.get_hf_file_metadata(hf.hf_hub_url(repo_id, "w.bin"))
    assert head.xet_file_data is not None
    assert listed["w.bin"].xet_hash == head.xet_file_data.file_hash  # what resolve hands Xet clients
    assert listed["s.txt"].xet_hash is None  # stored in git, not in Xet
    (info,) = hf.get_paths_info(repo_id, ["w.bin"])
    assert isinstance(info, hf.hf_api.RepoFile) and info.xet_hash == listed["w.bin"].xet_hash


def test_cross_repo_copies_share_the_stored_content(local_hub: LocalHub) -> None:
    source = hf.create_repo("source").repo_id
    target = hf.create_repo("target").repo_id
    data = os.urandom(BIG)
    hf.upload_file(path_or_fileobj=data, path_in_repo="w.bin", repo_id=source)
    hf.upload_file(path_or_fileobj=b"small", path_in_repo="s.txt", repo_id=source)
    stored = _xorb_bytes(local_hub.root)
    copies = [
        hf.CommitOperationCopy("w.bin", "weights/w.bin", src_repo_id=source, src_repo_type="model"),
        hf.CommitOperationCopy("s.txt", "s.txt", src_repo_id=source, src_repo_type="model"),
    ]
    hf.create_commit(target, copies, commit_message="Copy from source")
    assert _xorb_bytes(local_hub.root) == stored  # nothing uploaded again
    assert _download(target, "weights/w.bin", xet=True) == _download(target, "weights/w.bin", xet=False) == data
    assert _download(target, "s.txt", xet=True) == b"small"
    hf.delete_repo(source)  # the copy holds its own reference
    assert _download(target, "weights/w.bin", xet=True) == data


def test_cross_repo_copies_follow_the_access_rules(local_hub: LocalHub) -> None:
    private = hf.create_repo("private", private=True).repo_id
    hf.upload_file(path_or_fileobj=os.urandom(BIG), path_in_repo="w.bin", repo_id=private)
    bob = local_hub.add_user("bob")
    mine = hf.create_repo("bobs", token=bob).repo_id
    copy = hf.CommitOperationCopy("w.bin", "w.bin", src_repo_id=private, src_repo_type="model")
    with pytest.raises(hf.errors.RepositoryNotFoundError):  # bob cannot see the source
        hf.create_commit(mine, [copy], commit_message="Copy", token=bob)
    status, _, body = raw_request(  # nor give its objects to his repo over the raw API
        "POST",
        f"{local_hub.endpoint}/api/models/{private}/lfs-files/duplicate",
        token=bob,
        body=json.dumps({"target": {"type": "model", "name": mine}, "files": [{"sha256": "0" * 64}]}).encode(),
    )
    assert status == 404, body
    status, _, body = raw_request(  # an object the source does not hold is reported, not linked
        "POST",
        f"{local_hub.endpoint}/api/models/{private}/lfs-files/duplicate",
        token=local_hub.token,
        body=json.dumps({"target": {"type": "model", "name": mine}, "files": [{"sha256": "0" * 64}]}).encode(),
    )
    assert status == 200 and json.loads(body)["failed"][0]["sha256"] == "0" * 64


_UPLOAD = (
    "import huggingface_hub as hf, sys; "
    "hf.upload_file(path_or_fileobj=sys.argv[1], path_in_repo='w.bin', repo_id=sys.argv[2])"
)


def test_global_dedup_finds_chunks_another_client_stored(local_hub: LocalHub, tmp_path: Path) -> None:
    data = os.urandom(BIG)
    hf.upload_file(path_or_fileobj=data, path_in_repo="w.bin", repo_id=hf.create_repo("first").repo_id)
    stored = _xorb_bytes(local_hub.root)
    longer = data + os.urandom(1 << 20)  # same first chunk: the client asks global dedup about it
    (tmp_path / "w.bin").write_bytes(longer)
    second = hf.create_repo("second").repo_id
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGINGFACE_"))}
    env |= {"HF_ENDPOINT": local_hub.endpoint, "HF_TOKEN": local_hub.token, "HF_HOME": str(tmp_path / "fresh")}
    subprocess.run([sys.executable, "-c", _UPLOAD, str(tmp_path / "w.bin"), second], env=env, check=True, timeout=120)
    growth = _xorb_bytes(local_hub.root) - stored
    assert growth < 3 << 20, growth  # the new MiB (and a chunk or two), not the whole file again: keyed hashes match
    assert _download(second, "w.bin", xet=True) == longer


def test_xorb_urls_give_only_the_bytes_they_were_signed_for(local_hub: LocalHub) -> None:
    repo_id = hf.create_repo("urls").repo_id
    hf.upload_file(path_or_fileobj=os.urandom(BIG), path_in_repo="w.bin", repo_id=repo_id)
    status, _, body = raw_request(
        "GET", f"{local_hub.endpoint}/api/models/{repo_id}/xet-read-token/main", token=local_hub.token
    )
    token = json.loads(body)["accessToken"]
    file_hash = hf.get_hf_file_metadata(hf.hf_hub_url(repo_id, "w.bin")).xet_file_data.file_hash  # type: ignore[union-attr]
    status, _, body = raw_request(
        "GET",
        f"{local_hub.endpoint}/api/xet-cas/v1/reconstructions/{file_hash}",
        token=token,
        headers={"Range": "bytes=0-99"},
    )
    assert status == 200
    ((entry,),) = json.loads(body)["fetch_info"].values()
    url, span = entry["url"], entry["url_range"]
    inside = raw_request("GET", url, token=None, headers={"Range": f"bytes={span['start']}-{span['end']}"})
    assert inside[0] == 206 and len(inside[2]) == span["end"] - span["start"] + 1
    assert raw_request("GET", url, token=None, headers={"Range": f"bytes=0-{span['end'] + 1}"})[0] == 403
    assert raw_request("GET", url.replace("range=", "range=0"), token=None)[0] == 403  # the span is signed
