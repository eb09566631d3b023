"""LocalHub as huggingface_hub users drive it: a ``localhost`` endpoint, Xet after the data changed at the same
address, pull requests from ``parent_commit``, merges onto deleted branches, status filters, folder paths with a
trailing slash, and ``git`` against the server."""

from __future__ import annotations

import http.client
import json
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

import huggingface_hub as hf
import pytest
from huggingface_hub import CommitOperationAdd, HfApi
from huggingface_hub.errors import BadRequestError, HfHubHTTPError

from hubmixin_core.testing import LocalHub
from hubmixin_core.testing.pytest_plugin import LFS_UPLOAD_WARNING_FILTER
from hubmixin_core.testing.xet import xet_available

pytestmark = pytest.mark.filterwarnings(LFS_UPLOAD_WARNING_FILTER)


def _request(
    hub: LocalHub, method: str, path: str, *, host: str | None = None, body: object = None, token: str | None = None
) -> tuple[int, dict[str, str], bytes]:
    """``(status, headers, body)`` of one raw request to ``hub``, with its ``Host`` header set to ``host``."""
    port = urlsplit(hub.endpoint).port
    assert port is not None
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Host": host or f"127.0.0.1:{port}", "Authorization": f"Bearer {token or hub.token}"}
    data = None if body is None else json.dumps(body).encode()
    if data is not None:
        headers["Content-Type"] = "application/json"
    try:
        connection.request(method, path, body=data, headers=headers)
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


def _localhost(hub: LocalHub) -> str:
    return hub.endpoint.replace("127.0.0.1", "localhost")


# A client pointed at http://localhost:PORT


def test_client_at_localhost_gets_urls_naming_localhost(local_hub: LocalHub) -> None:
    endpoint = _localhost(local_hub)
    api = HfApi(endpoint=endpoint, token=local_hub.token)
    repo = api.create_repo("via-localhost")  # raised HfUriError: the URL named 127.0.0.1
    assert repo == f"{endpoint}/{local_hub.username}/via-localhost"
    info = api.upload_file(path_or_fileobj=b"\x00weights", path_in_repo="w.bin", repo_id=repo.repo_id)
    assert info.commit_url.startswith(f"{endpoint}/{repo.repo_id}/commit/")
    pr = api.upload_file(path_or_fileobj=b"b", path_in_repo="b.txt", repo_id=repo.repo_id, create_pr=True)
    assert pr.pr_url == f"{endpoint}/{repo.repo_id}/discussions/1" and pr.pr_num == 1
    path = hf.hf_hub_download(repo.repo_id, "w.bin", endpoint=endpoint, token=local_hub.token, force_download=True)
    assert Path(path).read_bytes() == b"\x00weights"


def test_urls_of_answers_follow_the_host_only_when_it_names_this_server(local_hub: LocalHub) -> None:
    port = urlsplit(local_hub.endpoint).port
    for i, (host, expected) in enumerate(
        [
            (f"localhost:{port}", _localhost(local_hub)),
            (f"LocalHost:{port}", _localhost(local_hub)),
            (f"127.0.0.1:{port}", local_hub.endpoint),
            ("localhost:1", local_hub.endpoint),  # another port: not this server's name
            (f"example.com:{port}", local_hub.endpoint),
        ]
    ):
        name = f"m{i}"
        status, _, body = _request(local_hub, "POST", "/api/repos/create", host=host, body={"name": name})
        assert (status, json.loads(body)["url"]) == (200, f"{expected}/{local_hub.username}/{name}"), host
    assert hf.create_repo("plain").startswith(local_hub.endpoint)  # the fixture's client: unchanged


# Xet: another data store at the same address


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _cas_url(hub: LocalHub, repo_id: str) -> str:
    status, _, body = _request(hub, "GET", f"/api/models/{repo_id}/xet-write-token/main")
    assert status == 200
    return str(json.loads(body)["casUrl"])


def test_xet_upload_after_the_data_changed_at_the_same_port(tmp_path: Path) -> None:
    pytest.importorskip("hf_xet")
    pytest.importorskip("blake3")
    pytest.importorskip("lz4")
    port, home, data = _free_port(), tmp_path / "home", b"\x00" + os.urandom(3 * 2**20)
    for run in range(2):  # fresh temporary data each time, one HF_HOME (hf_xet's shard cache) for the client
        with LocalHub(port=port) as hub, hub.configure_client(cache_dir=home, xet=True):
            repo_id = hf.create_repo(f"m{run}").repo_id
            hf.upload_file(path_or_fileobj=data, path_in_repo="big.bin", repo_id=repo_id)  # 400 on a shard, run 1
            path = hf.hf_hub_download(repo_id, "big.bin", force_download=True)
            assert Path(path).read_bytes() == data


@pytest.mark.skipif(not xet_available(), reason="LocalHub's Xet storage needs hubmixin-core[hub]")
def test_cas_url_names_the_data_store(tmp_path: Path) -> None:
    port = _free_port()
    urls = []
    for root in (tmp_path / "a", tmp_path / "a", tmp_path / "b"):
        with LocalHub(root, port=port) as hub:
            _request(hub, "POST", "/api/repos/create", body={"name": "m"})  # a 409 the second time in "a"
            urls.append(_cas_url(hub, f"{hub.username}/m"))
            status, _, body = _request(hub, "GET", "/api/xet-cas/0123456789abcdef/v1/reconstructions/" + "0" * 64)
            assert status == 404 and b"get a new Xet token" in body  # another store's URL
    assert urls[2] not in urls[:2]  # another for other data (an untouched folder restarted keeps its own)
    assert urls[0].startswith(f"http://127.0.0.1:{port}/api/xet-cas/")


# Pull requests from parent_commit


def test_pull_request_from_an_older_parent_commit(local_hub: LocalHub) -> None:
    repo_id = hf.create_repo("from-parent").repo_id
    c1 = hf.create_commit(repo_id, [CommitOperationAdd("a.txt", b"a1")], commit_message="c1")
    hf.create_commit(repo_id, [CommitOperationAdd("a.txt", b"a2")], commit_message="c2")  # main moved on
    pr = hf.create_commit(
        repo_id, [CommitOperationAdd("p.txt", b"p")], commit_message="on c1", create_pr=True, parent_commit=c1.oid
    )
    assert pr.pr_revision == "refs/pr/1"
    assert hf.list_repo_commits(repo_id, revision=pr.pr_revision)[1].commit_id == c1.oid
    assert Path(hf.hf_hub_download(repo_id, "a.txt", revision=pr.pr_revision)).read_bytes() == b"a1"
    hf.merge_pull_request(repo_id, 1)  # its changes against c1: p.txt only
    assert Path(hf.hf_hub_download(repo_id, "p.txt")).read_bytes() == b"p"
    assert Path(hf.hf_hub_download(repo_id, "a.txt")).read_bytes() == b"a2"


def test_parent_commit_is_a_commit_id_of_the_repo_or_its_shorthand(local_hub: LocalHub) -> None:
    repo_id = hf.create_repo("parent-rules").repo_id

    def _add(n: int) -> list[CommitOperationAdd]:
        return [CommitOperationAdd("b.txt", str(n).encode())]  # new content: the client skips unchanged files

    first = hf.upload_file(path_or_fileobj=b"a", path_in_repo="a.txt", repo_id=repo_id).oid
    head = hf.upload_file(path_or_fileobj=b"a2", path_in_repo="a.txt", repo_id=repo_id).oid
    with pytest.raises(HfHubHTTPError, match="412"):
        hf.create_commit(repo_id, _add(1), commit_message="old", parent_commit=first[:7])  # not the head
    with pytest.raises(BadRequestError, match="7 to 40 hex digits"):
        hf.create_commit(repo_id, _add(2), commit_message="short", parent_commit=head[:5])
    head = hf.create_commit(repo_id, _add(3), commit_message="shorthand", parent_commit=head[:7]).oid  # as the Hub
    with pytest.raises(HfHubHTTPError, match="412") as missing:
        hf.create_commit(repo_id, _add(4), commit_message="unknown", create_pr=True, parent_commit="0" * 40)
    assert "not a commit of" in str(missing.value)
    assert hf.create_commit(repo_id, _add(5), commit_message="ok", parent_commit=head.upper()).oid
    lines = [{"key": "header", "value": {"summary": "empty parent", "parentCommit": ""}}]
    connection = http.client.HTTPConnection("127.0.0.1", urlsplit(local_hub.endpoint).port, timeout=30)
    body = "\n".join(json.dumps(line) for line in lines).encode()
    headers = {"Authorization": f"Bearer {local_hub.token}", "Content-Type": "application/x-ndjson"}
    connection.request("POST", f"/api/models/{repo_id}/commit/main", body=body, headers=headers)
    assert connection.getresponse().status == 400  # "" was a prefix of every head
    connection.close()


# Merging onto a deleted branch, status filters


def test_merge_of_a_pull_request_whose_base_branch_was_deleted(local_hub: LocalHub) -> None:
    repo_id = hf.create_repo("gone-base").repo_id
    hf.create_branch(repo_id, branch="dev")
    hf.upload_file(path_or_fileobj=b"x", path_in_repo="x.txt", repo_id=repo_id, revision="dev", create_pr=True)
    hf.delete_branch(repo_id, branch="dev")
    with pytest.raises(BadRequestError, match="base branch 'dev' of pull request #1 no longer exists"):
        hf.merge_pull_request(repo_id, 1)  # was a 500
    assert hf.get_discussion_details(repo_id, 1).status == "open"


def test_status_filter_groups_draft_with_open_and_merged_with_closed(local_hub: LocalHub) -> None:
    repo_id = hf.create_repo("filters").repo_id
    draft = hf.create_pull_request(repo_id, title="draft pr").num
    merged = hf.upload_file(path_or_fileobj=b"m", path_in_repo="m.txt", repo_id=repo_id, create_pr=True).pr_num
    assert merged is not None
    hf.merge_pull_request(repo_id, merged)
    opened = hf.create_discussion(repo_id, title="open one").num
    closed = hf.create_discussion(repo_id, title="closed one").num
    hf.change_discussion_status(repo_id, closed, "closed")

    def nums(status: Literal["all", "open", "closed"]) -> set[int]:
        return {d.num for d in hf.get_repo_discussions(repo_id, discussion_status=status)}

    assert nums("open") == {opened, draft}  # the client's filter has no "draft" nor "merged"
    assert nums("closed") == {closed, merged}
    assert nums("all") == {opened, draft, closed, merged}


# Paths and git


def test_tree_of_a_folder_named_with_its_trailing_slash(local_hub: LocalHub) -> None:
    repo_id = hf.create_repo("slash").repo_id
    hf.upload_file(path_or_fileobj=b"x", path_in_repo="sub/a.txt", repo_id=repo_id)
    assert [e.path for e in hf.list_repo_tree(repo_id, path_in_repo="sub/")] == ["sub/a.txt"]
    status, _, _ = _request(local_hub, "GET", f"/api/models/{repo_id}/tree/main/%2F")
    assert status == 400  # "/" alone stays an absolute path


@pytest.mark.parametrize(
    ("method", "tail"),
    [
        ("GET", "/info/refs?service=git-upload-pack"),
        ("GET", ".git/info/refs?service=git-receive-pack"),
        ("POST", "/git-upload-pack"),
        ("POST", ".git/git-receive-pack"),
    ],
)
def test_git_routes_answer_not_supported(local_hub: LocalHub, method: str, tail: str) -> None:
    repo_id = hf.create_repo("git", exist_ok=True).repo_id
    for prefix in ("", "/datasets"):
        status, headers, body = _request(local_hub, method, f"{prefix}/{repo_id}{tail}", token="not-a-token")
        assert status == 501 and headers["content-type"].startswith("text/plain")  # git prints text/plain bodies
        assert b"not supported by the local Hub" in body and b"use the huggingface_hub client" in body


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_git_clone_says_git_is_not_supported(local_hub: LocalHub) -> None:
    repo_id = hf.create_repo("clone-me").repo_id
    with tempfile.TemporaryDirectory() as target:
        env = {"GIT_TERMINAL_PROMPT": "0", "PATH": os.environ.get("PATH", ""), "HOME": target}
        done = subprocess.run(
            ["git", "clone", f"{local_hub.endpoint}/{repo_id}", f"{target}/c"],
            capture_output=True,
            text=True,
            timeout=60,
            env=env,
        )
    assert done.returncode != 0 and "not supported by the local Hub" in done.stderr  # was "repository not found"
