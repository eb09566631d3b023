"""Access control like the Hub's, and refusal of paths that escape a repository."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping

import huggingface_hub as hf
import pytest
from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError
from localhub_raw import raw_request

from hubmixin_core.testing import LocalHub


def _status(excinfo: pytest.ExceptionInfo[HfHubHTTPError]) -> int:
    return int(excinfo.value.response.status_code)


@pytest.fixture
def repos(local_hub: LocalHub) -> tuple[str, str]:
    """A public and a private repo of the default user, each holding ``f.txt``."""
    public = hf.create_repo("public").repo_id
    private = hf.create_repo("private", private=True).repo_id
    for repo_id in (public, private):
        hf.upload_file(path_or_fileobj=b"content", path_in_repo="f.txt", repo_id=repo_id)
    return public, private


def test_anonymous_reads_of_public_repos(local_hub: LocalHub, repos: tuple[str, str]) -> None:
    public, _ = repos
    assert hf.model_info(public, token=False).id == public
    assert hf.list_repo_files(public, token=False) == [".gitattributes", "f.txt"]
    with open(hf.hf_hub_download(public, "f.txt", token=False), "rb") as file:
        assert file.read() == b"content"


def test_private_repos_are_invisible_to_others(local_hub: LocalHub, repos: tuple[str, str]) -> None:
    _, private = repos
    other = local_hub.add_user("other")
    for token in (False, other):
        with pytest.raises(RepositoryNotFoundError):
            hf.model_info(private, token=token)
        with pytest.raises(RepositoryNotFoundError):
            hf.list_repo_files(private, token=token)
        with pytest.raises(RepositoryNotFoundError):
            hf.hf_hub_download(private, "f.txt", token=token)
    with pytest.raises(RepositoryNotFoundError):  # even for writes: the repo does not exist for them
        hf.upload_file(path_or_fileobj=b"x", path_in_repo="x", repo_id=private, token=other)
    with pytest.raises(HfHubHTTPError) as excinfo:  # anonymous writes are refused before anything else
        hf.upload_file(path_or_fileobj=b"x", path_in_repo="x", repo_id=private, token=False)
    assert _status(excinfo) == 401
    assert hf.model_info(private).private is True  # the owner sees it


def test_writes_need_a_write_token_of_the_owner(local_hub: LocalHub, repos: tuple[str, str]) -> None:
    public, _ = repos
    other = local_hub.add_user("other")
    read_only = local_hub.create_token(local_hub.username, write=False)
    cases: list[tuple[str | bool, int]] = [(False, 401), (other, 403), (read_only, 403)]
    for token, status in cases:
        with pytest.raises(HfHubHTTPError) as excinfo:
            hf.upload_file(path_or_fileobj=b"x", path_in_repo="x.txt", repo_id=public, token=token)
        assert _status(excinfo) == status
        with pytest.raises(HfHubHTTPError) as excinfo:
            hf.create_branch(public, branch="b", token=token)
        assert _status(excinfo) == status
        with pytest.raises(HfHubHTTPError) as excinfo:
            hf.delete_repo(public, token=token)
        assert _status(excinfo) == status
    with pytest.raises(HfHubHTTPError) as excinfo:
        hf.create_repo(f"{local_hub.username}/intruder", token=other)
    assert _status(excinfo) == 403
    assert hf.list_repo_files(public) == [".gitattributes", "f.txt"]


def test_other_users_may_open_pull_requests_on_public_repos(local_hub: LocalHub, repos: tuple[str, str]) -> None:
    public, _ = repos
    other = local_hub.add_user("contributor")
    info = hf.upload_file(
        path_or_fileobj=b"\x00weights", path_in_repo="w.bin", repo_id=public, token=other, create_pr=True
    )
    assert info.pr_revision == "refs/pr/1"
    assert "w.bin" in hf.list_repo_files(public, revision="refs/pr/1")
    assert "w.bin" not in hf.list_repo_files(public)


def test_invalid_token_is_rejected(local_hub: LocalHub, repos: tuple[str, str]) -> None:
    public, _ = repos
    with pytest.raises(HfHubHTTPError) as excinfo:
        hf.model_info(public, token="hf_not_a_token")
    assert _status(excinfo) == 401
    assert "Invalid credentials" in str(excinfo.value)
    with pytest.raises(HfHubHTTPError, match="Invalid user token"):
        hf.whoami(token="hf_not_a_token")


@pytest.mark.parametrize("path", ["../evil.txt", "a/../../evil.txt", "/etc/passwd", "a//b", ".git/config", "a\\b"])
def test_commit_paths_escaping_the_repo_are_refused(local_hub: LocalHub, repos: tuple[str, str], path: str) -> None:
    public, _ = repos
    lines = [
        {"key": "header", "value": {"summary": "evil", "description": ""}},
        {"key": "file", "value": {"path": path, "content": base64.b64encode(b"x").decode(), "encoding": "base64"}},
    ]
    body = b"".join(json.dumps(line).encode() + b"\n" for line in lines)
    url = f"{local_hub.endpoint}/api/models/{public}/commit/main"
    status, headers, _ = raw_request("POST", url, token=local_hub.token, body=body)
    assert status == 400
    assert "Invalid path" in headers["X-Error-Message"]
    preupload = json.dumps({"files": [{"path": path, "sample": "", "size": 1}]}).encode()
    status, _, _ = raw_request(
        "POST", f"{local_hub.endpoint}/api/models/{public}/preupload/main", token=local_hub.token, body=preupload
    )
    assert status == 400
    assert hf.list_repo_files(public) == [".gitattributes", "f.txt"]


@pytest.mark.parametrize("quoted", ["..%2F..%2Fhub.sqlite", "%2Fetc%2Fpasswd", "a/%2E%2E/%2E%2E/hub.sqlite"])
def test_download_paths_escaping_the_repo_are_refused(local_hub: LocalHub, repos: tuple[str, str], quoted: str) -> None:
    public, _ = repos
    status, _, body = raw_request("GET", f"{local_hub.endpoint}/{public}/resolve/main/{quoted}")
    assert status == 400
    assert b"Invalid path" in body


def test_xet_tokens_follow_the_access_rules(local_hub: LocalHub, repos: tuple[str, str]) -> None:
    public, private = repos
    bob = local_hub.add_user("bob")
    api = f"{local_hub.endpoint}/api/models"
    status, headers, _ = raw_request("GET", f"{api}/{public}/xet-write-token/main", token=local_hub.token)
    assert status == 200
    assert headers["X-Xet-Cas-Url"].startswith(local_hub.endpoint) and headers["X-Xet-Access-Token"]
    assert raw_request("GET", f"{api}/{public}/xet-write-token/main")[0] == 401
    assert raw_request("GET", f"{api}/{public}/xet-write-token/main", token=bob)[0] == 403
    assert raw_request("GET", f"{api}/{public}/xet-write-token/None?create_pr=1", token=bob)[0] == 200
    assert raw_request("GET", f"{api}/{public}/xet-read-token/main", token=bob)[0] == 200
    assert raw_request("GET", f"{api}/{private}/xet-read-token/main", token=bob)[0] == 404
    assert raw_request("GET", f"{api}/{private}/xet-read-token/main", token=local_hub.token)[0] == 200


def _ndjson(*lines: Mapping[str, object]) -> bytes:
    return b"".join(json.dumps(line).encode() + b"\n" for line in lines)


def test_lfs_protocol_checks_what_is_uploaded(local_hub: LocalHub, repos: tuple[str, str]) -> None:
    public, _ = repos
    data = b"\x00" * 100 + bytes(range(256)) * 4
    oid = hashlib.sha256(data).hexdigest()
    objects = [{"oid": oid, "size": len(data)}, {"oid": "not-a-sha", "size": 1}]
    batch = json.dumps({"operation": "upload", "objects": objects, "ref": {"name": "main"}}).encode()
    batch_url = f"{local_hub.endpoint}/{public}.git/info/lfs/objects/batch"
    status, _, body = raw_request("POST", batch_url, token=local_hub.token, body=batch)
    assert status == 200
    answers = json.loads(body)["objects"]
    assert answers[1]["error"]["code"] == 422
    href = answers[0]["actions"]["upload"]["href"]
    header = {"key": "header", "value": {"summary": "add w.bin"}}
    commit = _ndjson(header, {"key": "lfsFile", "value": {"path": "w.bin", "algo": "sha256", "oid": oid}})
    commit_url = f"{local_hub.endpoint}/api/models/{public}/commit/main"
    status, headers, _ = raw_request("POST", commit_url, token=local_hub.token, body=commit)
    assert status == 400 and "never uploaded" in headers["X-Error-Message"]
    assert raw_request("PUT", href, body=iter([b"x" * len(data)]))[0] == 400  # chunked, wrong content
    assert raw_request("PUT", href, body=iter([data[:300], data[300:]]))[0] == 200  # chunked, right content
    assert raw_request("PUT", href, body=data)[0] == 404  # the upload URL is spent
    status, _, body = raw_request("POST", batch_url, token=local_hub.token, body=batch)
    assert "actions" not in json.loads(body)["objects"][0]  # already stored
    assert raw_request("POST", commit_url, token=local_hub.token, body=commit)[0] == 200
    with open(hf.hf_hub_download(public, "w.bin"), "rb") as file:
        assert file.read() == data
