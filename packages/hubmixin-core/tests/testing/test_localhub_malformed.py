"""Malformed and oversized requests: typed 4xx answers (never 500), safe headers, bounded memory, no orphans."""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import logging
import socket
import sys
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import huggingface_hub as hf
import pytest

from hubmixin_core.testing import LocalHub
from hubmixin_core.testing._blobs import lock_upload, remove_orphans
from hubmixin_core.testing._commit import commit_line_limit
from hubmixin_core.testing._http import ERROR_HEADER_LIMIT, JSON_LIMIT, Exchange, header_value
from hubmixin_core.testing._httpd import HANDLERS


@pytest.fixture
def repo(local_hub: LocalHub) -> str:
    repo_id = f"{local_hub.username}/malformed"
    hf.create_repo(repo_id)
    hf.upload_file(path_or_fileobj=b"hello", path_in_repo="a/x", repo_id=repo_id)
    return repo_id


def _request(
    hub: LocalHub, method: str, path: str, body: bytes | Iterable[bytes] = b"", headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    url = urlsplit(hub.endpoint)
    connection = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port, timeout=30)
    try:
        all_headers = {"Authorization": f"Bearer {hub.token}", **(headers or {})}
        connection.request(method, path, body=body, headers=all_headers)
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def _error(hub: LocalHub, method: str, path: str, body: bytes | Iterable[bytes], content_type: str) -> tuple[int, str]:
    status, headers, data = _request(hub, method, path, body, {"Content-Type": content_type})
    assert status != 500, data
    return status, str(json.loads(data)["error"]) if data else headers.get("X-Error-Message", "")


# 1. Header values


def test_header_values_lose_control_characters() -> None:
    assert header_value("bad\rrev\nX-Evil: 1\x00") == "bad rev X-Evil: 1 "
    assert header_value("é") == "\\xe9"


def test_carriage_return_in_revision_is_a_typed_error(repo: str) -> None:
    with pytest.raises(hf.errors.RevisionNotFoundError):
        hf.hf_hub_download(repo, "a/x", revision="bad\rrev")
    with pytest.raises(hf.errors.RevisionNotFoundError):
        hf.hf_hub_download(repo, "a/x", revision="bad\r\nX-Injected: 1")


def test_control_characters_in_path_are_a_typed_error(repo: str) -> None:
    with pytest.raises(hf.errors.EntryNotFoundError):
        hf.hf_hub_download(repo, "a/x\rmissing")


# 2. Malformed input answers 400


@pytest.mark.parametrize("path", [".", "..", "", "/", "a/./x", "a/../x", "a//x", "\x00"])
def test_bad_paths_in_paths_info_are_400(local_hub: LocalHub, repo: str, path: str) -> None:
    body = f"paths={path}".encode() if path != "\x00" else b"paths=%00"
    status, message = _error(
        local_hub, "POST", f"/api/models/{repo}/paths-info/main", body, "application/x-www-form-urlencoded"
    )
    assert status == 400, message
    assert "path" in message.lower()


@pytest.mark.parametrize("body", [b"paths=\xff\xfe", b"paths=%FF%FE"])
def test_bad_utf8_in_paths_info_is_400(local_hub: LocalHub, repo: str, body: bytes) -> None:
    status, message = _error(
        local_hub, "POST", f"/api/models/{repo}/paths-info/main", body, "application/x-www-form-urlencoded"
    )
    assert status == 400
    assert "UTF-8" in message


@pytest.mark.parametrize(
    "body", [b"[" * 10_000, b'{"paths": [', b"null", b'{"paths": "a/x"}', b'{"paths": [1]}', b'{"paths": [null]}']
)
def test_a_malformed_json_paths_info_body_is_400(local_hub: LocalHub, repo: str, body: bytes) -> None:
    status, message = _error(local_hub, "POST", f"/api/models/{repo}/paths-info/main", body, "application/json")
    assert status == 400, message


def test_a_json_paths_info_body_is_read(local_hub: LocalHub, repo: str) -> None:
    body = json.dumps({"paths": ["a/x", "a", "missing"]}).encode()
    status, _, data = _request(
        local_hub, "POST", f"/api/models/{repo}/paths-info/main", body, {"Content-Type": "application/json"}
    )
    assert status == 200
    assert [(entry["type"], entry["path"]) for entry in json.loads(data)] == [("file", "a/x"), ("directory", "a")]


def _commit_body(*lines: object) -> bytes:
    header = {"key": "header", "value": {"summary": "s", "description": ""}}
    return b"\n".join(json.dumps(line).encode() for line in (header, *lines)) + b"\n"


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
        (b'{"key": "header", "value": {"summary": "\xff"}}', "Malformed"),
        (_commit_body({"key": "file", "value": {"path": 5, "content": ""}}), "path"),
        (_commit_body({"key": "file", "value": {"path": ".", "content": ""}}), "path"),
        (_commit_body({"key": "file", "value": {"path": "..", "content": ""}}), "path"),
        (_commit_body({"key": "file", "value": {"path": "", "content": ""}}), "path"),
        (_commit_body({"key": "file", "value": {"path": "f", "content": "not base64!"}}), "base64"),
        (_commit_body({"key": "file", "value": {"path": "f", "content": 12}}), "base64"),
        (_commit_body({"key": "deletedFile", "value": {"path": ["a"]}}), "path"),
        (_commit_body({"key": "lfsFile", "value": {"path": "f", "oid": 1}}), "sha256"),
        (b'{"key": "header", "value": {"summary": 1}}\n', "summary"),
        (b'{"key": "header", "value": {"summary": "s", "parentCommit": 3}}\n', "parentCommit"),
    ],
)
def test_malformed_commits_are_400(local_hub: LocalHub, repo: str, body: bytes, reason: str) -> None:
    status, message = _error(local_hub, "POST", f"/api/models/{repo}/commit/main", body, "application/x-ndjson")
    assert status == 400, message
    assert reason in message


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
        (b'{"files": "\xff"}', "Malformed"),
        (json.dumps({"files": [{"path": 1, "size": 1}]}).encode(), "path"),
        (json.dumps({"files": [{"path": ".", "size": 1, "sample": ""}]}).encode(), "path"),
        (json.dumps({"files": [{"path": "", "size": 1, "sample": ""}]}).encode(), "path"),
        (json.dumps({"files": [{"path": "f", "size": -1, "sample": ""}]}).encode(), "size"),
        (json.dumps({"files": [{"path": "f", "size": 1, "sample": "@@"}]}).encode(), "base64"),
        (json.dumps({"files": [{"path": "f", "size": 1, "sample": 3}]}).encode(), "base64"),
    ],
)
def test_malformed_preuploads_are_400(local_hub: LocalHub, repo: str, body: bytes, reason: str) -> None:
    status, message = _error(local_hub, "POST", f"/api/models/{repo}/preupload/main", body, "application/json")
    assert status == 400, message
    assert reason in message


def test_the_server_still_works_after_malformed_requests(local_hub: LocalHub, repo: str) -> None:
    _error(local_hub, "POST", f"/api/models/{repo}/commit/main", b"[" * 100_000, "application/x-ndjson")
    assert hf.hf_hub_download(repo, "a/x") and hf.list_repo_files(repo) == [".gitattributes", "a/x"]


# 3. Bounded sizes


def _declare_and_stall(
    hub: LocalHub, path: str, length: int, *, method: str = "POST", token: str | None = None
) -> tuple[float, bytes]:
    """Send headers declaring ``length`` bytes and only a few of them; return the time to an answer and it."""
    url = urlsplit(hub.endpoint)
    start = time.monotonic()
    with socket.create_connection((url.hostname or "127.0.0.1", url.port or 80), timeout=20) as sock:
        head = (
            f"{method} {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token or hub.token}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {length}\r\n\r\n"
        )
        sock.sendall(head.encode() + b'{"files": [')
        answer = b""
        while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
            data = sock.recv(65536)
            if not data:
                break
            answer += data
    return time.monotonic() - start, answer


@pytest.mark.parametrize("route", ["preupload", "paths-info"])
def test_declared_oversize_body_is_413_promptly(local_hub: LocalHub, repo: str, route: str) -> None:
    elapsed, answer = _declare_and_stall(local_hub, f"/api/models/{repo}/{route}/main", JSON_LIMIT + 1)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert str(JSON_LIMIT).encode() in answer
    assert elapsed < 5


def test_long_commit_line_is_413_before_decoding(local_hub: LocalHub, repo: str) -> None:
    limit = commit_line_limit(local_hub._running_app().lfs_threshold)
    content = "A" * (limit + 10)
    body = _commit_body({"key": "file", "value": {"path": "f", "content": content}})
    status, message = _error(local_hub, "POST", f"/api/models/{repo}/commit/main", body, "application/x-ndjson")
    assert status == 413
    assert str(limit) in message


def test_inline_file_just_below_the_lfs_threshold_is_accepted(local_hub: LocalHub, repo: str) -> None:
    threshold = local_hub._running_app().lfs_threshold
    data = b"a" * (threshold - 1)
    body = _commit_body({"key": "file", "value": {"path": "big.txt", "content": base64.b64encode(data).decode()}})
    status, _, answer = _request(local_hub, "POST", f"/api/models/{repo}/commit/main", body)
    assert status == 200, answer
    too_big = base64.b64encode(data + b"aaaa").decode()
    body = _commit_body({"key": "file", "value": {"path": "big.txt", "content": too_big}})
    status, message = _error(local_hub, "POST", f"/api/models/{repo}/commit/main", body, "application/x-ndjson")
    assert status == 400 and "LFS" in message


# 4. Orphan upload files


def test_orphan_upload_files_are_removed_at_start(tmp_path: Path) -> None:
    root = tmp_path / "hub"
    with LocalHub(root):
        pass
    orphans = [root / "tmp" / "upload-abc", root / "xet" / "tmp" / "xorb-abc", root / "xet" / "tmp" / "xet-abc"]
    for orphan in orphans:
        orphan.write_bytes(b"partial upload")
    keep = root / "tmp" / "notes.txt"
    keep.write_text("not ours")
    with LocalHub(root):
        assert not any(orphan.exists() for orphan in orphans)
        assert keep.exists()


@pytest.mark.skipif(sys.platform == "win32", reason="flock")
def test_upload_in_progress_is_not_an_orphan(tmp_path: Path) -> None:
    root = tmp_path / "hub"
    with LocalHub(root):
        pass
    busy = root / "tmp" / "upload-busy"
    with busy.open("wb") as file:
        lock_upload(file.fileno())  # as a writer of another server on the same root does
        with LocalHub(root):
            assert busy.exists()
    assert remove_orphans(root / "tmp", ["upload-"]) == 1
    assert not busy.exists()


def test_oversized_json_body_sent_in_chunks_is_413(local_hub: LocalHub, repo: str) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"files": ["'
        for _ in range(JSON_LIMIT // (1024 * 1024)):  # a few bytes over the limit: sent before the answer
            yield b"a" * (1024 * 1024)

    status, message = _error(local_hub, "POST", f"/api/models/{repo}/preupload/main", chunks(), "application/json")
    assert status == 413 and str(JSON_LIMIT) in message


# 5. Limits are options of LocalHub


def test_limits_are_options(tmp_path: Path) -> None:
    with LocalHub(max_json_bytes=1000, max_commit_line_bytes=3000, max_shard_bytes=5000) as hub:
        status, _, _ = _request(hub, "POST", "/api/repos/create", json.dumps({"name": "small"}).encode())
        assert status == 200
        repo = f"{hub.username}/small"
        files = json.dumps({"files": [{"path": "f" * 1000, "size": 1, "sample": ""}]}).encode()
        status, message = _error(hub, "POST", f"/api/models/{repo}/preupload/main", files, "application/json")
        assert status == 413 and "1000 bytes" in message
        line = {"key": "file", "value": {"path": "f", "content": base64.b64encode(b"a" * 2400).decode()}}
        body = _commit_body(line)
        status, message = _error(hub, "POST", f"/api/models/{repo}/commit/main", body, "application/x-ndjson")
        assert status == 413 and "3000 bytes" in message
        small = _commit_body({"key": "file", "value": {"path": "f", "content": base64.b64encode(b"a" * 100).decode()}})
        assert _request(hub, "POST", f"/api/models/{repo}/commit/main", small)[0] == 200
        if _has_xet_format():
            token = _xet_write_token(hub, repo)
            elapsed, answer = _declare_and_stall(hub, "/api/xet-cas/v1/shards", 5001, token=token)
            assert answer.startswith(b"HTTP/1.1 413") and b"5000 bytes" in answer and elapsed < 5
    for bad in ({"max_json_bytes": 0}, {"max_commit_line_bytes": -1}, {"max_shard_bytes": 0}):
        with pytest.raises(ValueError, match="positive"):
            LocalHub(tmp_path, **bad)  # type: ignore[arg-type]


def _has_xet_format() -> bool:
    try:
        import hubmixin_core.testing.xet._format  # noqa: F401
    except ImportError:
        return False
    return True


def _xet_write_token(hub: LocalHub, repo: str) -> str:
    status, _, data = _request(hub, "GET", f"/api/models/{repo}/xet-write-token/main")
    assert status == 200, data
    return str(json.loads(data)["accessToken"])


@pytest.mark.skipif(not _has_xet_format(), reason="needs hubmixin-core[hub]")
def test_declared_oversize_xorb_is_413_promptly(local_hub: LocalHub, repo: str) -> None:
    from hubmixin_core.testing.xet._format import MAX_XORB_BYTES

    token = _xet_write_token(local_hub, repo)
    path = "/api/xet-cas/v1/xorbs/default/" + "1" * 64
    elapsed, answer = _declare_and_stall(local_hub, path, MAX_XORB_BYTES + 1, token=token)
    assert answer.startswith(b"HTTP/1.1 413") and str(MAX_XORB_BYTES).encode() in answer
    assert elapsed < 5


def test_lfs_object_larger_than_announced_is_413_promptly(local_hub: LocalHub, repo: str) -> None:
    oid = hashlib.sha256(b"abc").hexdigest()
    batch = {"operation": "upload", "transfers": ["basic"], "objects": [{"oid": oid, "size": 3}]}
    status, _, data = _request(local_hub, "POST", f"/{repo}.git/info/lfs/objects/batch", json.dumps(batch).encode())
    assert status == 200, data
    href = json.loads(data)["objects"][0]["actions"]["upload"]["href"]
    elapsed, answer = _declare_and_stall(local_hub, urlsplit(href).path, 10**9, method="PUT")
    assert answer.startswith(b"HTTP/1.1 413") and elapsed < 5
    batch["objects"] = [{"oid": oid, "size": True}]
    status, _, data = _request(local_hub, "POST", f"/{repo}.git/info/lfs/objects/batch", json.dumps(batch).encode())
    assert status == 200 and json.loads(data)["objects"][0]["error"]["code"] == 422


@pytest.mark.skipif(not _has_xet_format(), reason="needs hubmixin-core[hub]")
def test_lz4_bomb_in_a_xorb_chunk_is_refused_without_inflating_it() -> None:
    import tracemalloc

    import lz4.frame  # type: ignore[import-untyped]

    from hubmixin_core.testing.xet._format import FormatError, decompress_chunk

    bomb = lz4.frame.compress(b"\0" * (64 << 20), store_size=True)  # 64 MiB in ~270 KB, declared in its header
    tracemalloc.start()
    try:
        with pytest.raises(FormatError, match="1000"):
            decompress_chunk(1, bomb, 1000)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2 * len(bomb)  # lz4.frame.decompress would allocate the 64 MiB
    assert decompress_chunk(1, lz4.frame.compress(b"x" * 1000), 1000) == b"x" * 1000


# 6. A bug in a handler is a logged 500 with a generic message


def test_a_handler_bug_is_a_logged_500(
    local_hub: LocalHub, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(ex: Exchange) -> None:
        raise RuntimeError("secret detail")

    monkeypatch.setitem(HANDLERS, ("whoami", "GET"), broken)
    with caplog.at_level(logging.ERROR, logger="hubmixin_core.testing"):
        status, headers, body = _request(local_hub, "GET", "/api/whoami-v2")
    assert status == 500
    assert b"secret detail" not in body and b"Traceback" not in body
    assert "Internal error" in json.loads(body)["error"] and "secret" not in headers["X-Error-Message"]
    logged = [r for r in caplog.records if "LocalHub failed on GET /api/whoami-v2" in r.getMessage()]
    assert logged and logged[0].exc_info is not None and "secret detail" in str(logged[0].exc_info[1])
    monkeypatch.undo()
    assert _request(local_hub, "GET", "/api/whoami-v2")[0] == 200


# 7. More malformed requests: each a 4xx naming the reason


def test_long_error_messages_are_cut_in_the_header(local_hub: LocalHub, repo: str) -> None:
    status, headers, body = _request(local_hub, "GET", f"/api/models/{repo}/revision/{'r' * 20000}")
    assert status == 404 and len(headers["X-Error-Message"]) <= ERROR_HEADER_LIMIT
    assert len(json.loads(body)["error"]) > 20000
    with pytest.raises(hf.errors.RevisionNotFoundError):
        hf.hf_hub_download(repo, "a/x", revision="r" * 20000)


@pytest.mark.parametrize(
    ("method", "path", "body", "headers", "status"),
    [
        ("POST", "/api/repos/create", b'{"name": "t", "type": []}', {}, 400),
        ("DELETE", "/api/repos/delete", b'{"name": "t", "type": {}}', {}, 400),
        ("GET", "/api/models/{repo}/discussions?p=%C2%B2", b"", {}, 400),  # a digit to str.isdigit, not to int()
        ("GET", "/api/models/{repo}/discussions?p=" + "9" * 5000, b"", {}, 400),
        ("GET", "/api/models/{repo}/discussions/%C2%B2", b"", {}, 400),
        ("GET", "/api/models/{repo}/discussions/" + "9" * 5000, b"", {}, 400),
        ("GET", "/{repo}/resolve/main/a/x", b"", {"Range": "bytes=" + "9" * 5000 + "-"}, 416),
        ("GET", "/{repo}/resolve/main/a/x", b"", {"Range": "bytes=-" + "9" * 5000}, 206),  # the whole file
        ("GET", "/api/xet-cas/data/" + "0" * 64 + "?exp=%C2%B2&sig=%C3%A9", b"", {}, 403),
        ("GET", "/api/xet-cas/data/" + "0" * 64 + "?exp=1&sig=%C3%A9", b"", {}, 403),
        ("GET", "/api/xet-cas/v1/reconstructions/" + "0" * 64, b"", {"Authorization": "Bearer abc.\xe9"}, 401),
        ("GET", "/api/whoami-v2", b"", {"Authorization": "Bearer \xe9"}, 401),
        ("GET", "/{repo}/resolve/main/%FF%FE", b"", {}, 400),  # not UTF-8 once decoded
        ("GET", "/api/models/{repo}/tree/main/a%C3", b"", {}, 400),
    ],
)
def test_probe_findings_are_4xx(
    local_hub: LocalHub, repo: str, method: str, path: str, body: bytes, headers: dict[str, str], status: int
) -> None:
    if path.startswith("/api/xet-cas") and not _has_xet_format():
        pytest.skip("needs hubmixin-core[hub]")
    got, _, data = _request(local_hub, method, path.format(repo=repo), body, headers)
    assert got == status, data
    if status == 206:
        assert data == b"hello"
