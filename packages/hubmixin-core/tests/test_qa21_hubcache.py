"""Hub flows of QA round 21: ``hubmixin inspect`` pinned to one commit, a pull request opened only once the
push's content is uploaded, and a download whose connection keeps dropping named by its file."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import httpx2
import pytest
from core_models import MLP
from huggingface_hub import CommitInfo, HfApi

from hubmixin_core import _inspect
from hubmixin_core.cli import main
from hubmixin_core.errors import HubMixinError
from hubmixin_core.testing import Fault, LocalHub


@pytest.mark.parametrize("max_shard_size", [None, 100])
def test_inspect_reads_every_file_at_the_commit_it_started_at(
    local_hub: LocalHub,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    max_shard_size: int | None,
) -> None:
    repo_id = f"{local_hub.username}/inspect-pinned-{max_shard_size}"
    old, new = MLP(hidden=8), MLP(hidden=32)
    old.max_shard_size = new.max_shard_size = max_shard_size
    old.push_to_hub(repo_id)
    get_bytes = _inspect._get_bytes
    pushed: list[CommitInfo] = []

    def push_then_get(*args: Any) -> bytes:  # another push lands between the listing and the header reads
        if not pushed:
            pushed.append(new.push_to_hub(repo_id))
        return get_bytes(*args)

    monkeypatch.setattr(_inspect, "_get_bytes", push_then_get)
    assert main(["inspect", repo_id, "--json"]) == 0, capsys.readouterr().err  # was "... (truncated?)"
    assert pushed
    report = json.loads(capsys.readouterr().out)
    shapes = {name: info["shape"] for file in report["files"] for name, info in file["tensors"].items()}
    assert shapes == {name: list(value.shape) for name, value in old.weights.items()}  # the first commit's, whole
    assert report["source"] == repo_id


@pytest.mark.parametrize("xet", [True, False])
def test_a_pull_request_push_opens_its_pull_request_once_its_content_is_uploaded(
    local_hub: LocalHub, xet: bool
) -> None:
    repo_id = f"{local_hub.username}/pr-late-{xet}"
    api = HfApi()
    MLP(seed=1).push_to_hub(repo_id)
    with local_hub.configure_client(xet=xet):
        fault = local_hub.inject_fault(Fault("preupload", delay=1.0))  # the push's first request about its files
        pushed: dict[str, CommitInfo | BaseException] = {}

        def push() -> None:
            try:
                pushed["pr"] = MLP(seed=2).push_to_hub(repo_id, create_pr=True)
            except BaseException as error:  # (re-raised below, in the test's thread)
                pushed["pr"] = error

        thread = threading.Thread(target=push)
        thread.start()
        while fault.hits == 0:
            time.sleep(0.01)
        during = list(api.get_repo_discussions(repo_id))  # a push killed now (SIGTERM, kill -9) leaves these
        thread.join()
    commit = pushed["pr"]
    if isinstance(commit, BaseException):
        raise commit
    assert during == []  # was an empty draft pull request, left for good by a killed push
    assert commit.pr_revision == "refs/pr/1"
    assert [d.num for d in api.get_repo_discussions(repo_id)] == [1]


def test_a_download_whose_connection_keeps_dropping_names_the_file(local_hub: LocalHub) -> None:
    repo_id = f"{local_hub.username}/dropping"
    MLP(seed=1).push_to_hub(repo_id)
    with local_hub.configure_client(xet=False):
        local_hub.inject_fault(Fault("resolve", method="GET", cut_after=0, times=None, path=r"model\.safetensors$"))
        with pytest.raises(ConnectionError) as raised:  # was httpx2.RemoteProtocolError, naming no file
            MLP.from_pretrained(repo_id)
        local_hub.clear_faults()
    assert isinstance(raised.value, HubMixinError)
    assert isinstance(raised.value.__cause__, httpx2.TransportError)
    commit = HfApi().repo_info(repo_id).sha
    assert str(raised.value).startswith(f"model.safetensors of {repo_id}@{commit}: the download failed (")
    MLP.from_pretrained(repo_id)  # once the connection holds


@pytest.mark.parametrize("endpoint", ["127.0.0.1:1", "ftp://127.0.0.1:1"])
def test_an_endpoint_without_a_usable_scheme_is_no_unreachable_hub(
    endpoint: str, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A configuration mistake, not a dropped connection: code retrying on ConnectionError must not retry it."""
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    with pytest.raises(httpx2.UnsupportedProtocol):
        MLP.from_pretrained("someone/model", endpoint=endpoint)
