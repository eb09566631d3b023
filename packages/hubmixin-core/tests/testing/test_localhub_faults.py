"""Injected faults: the client's retries recover from transient ones; permanent ones fail cleanly."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

import huggingface_hub as hf
import pytest
from huggingface_hub import constants
from huggingface_hub.errors import GatedRepoError, HfHubHTTPError, LocalEntryNotFoundError

from hubmixin_core.testing import ROUTES, Fault, LocalHub
from hubmixin_core.testing._httpd import HANDLERS


@pytest.fixture
def weights_repo(local_hub: LocalHub) -> tuple[str, bytes]:
    """A repo holding ``w.bin`` (3 MiB, LFS)."""
    repo_id = hf.create_repo("faults").repo_id
    data = b"\x00" + os.urandom(3 * 1024 * 1024 - 1)
    hf.upload_file(path_or_fileobj=data, path_in_repo="w.bin", repo_id=repo_id)
    return repo_id, data


def _cached_files() -> list[Path]:
    return [p for p in Path(constants.HF_HUB_CACHE).rglob("*") if p.is_file() and ".locks" not in p.parts]


def test_transient_5xx_on_metadata_is_retried(local_hub: LocalHub, weights_repo: tuple[str, bytes]) -> None:
    repo_id, data = weights_repo
    fault = local_hub.inject_fault(Fault("resolve", method="HEAD", status=503))
    assert Path(hf.hf_hub_download(repo_id, "w.bin")).read_bytes() == data
    assert fault.hits == 1
    assert fault.remaining == 0


@pytest.mark.local_hub(xet=False)  # faults of the plain LFS upload and download path
def test_response_cut_mid_body_is_resumed_with_range(local_hub: LocalHub, caplog: pytest.LogCaptureFixture) -> None:
    repo_id = hf.create_repo("cut").repo_id
    chunk = constants.DOWNLOAD_CHUNK_SIZE  # the client saves what it got in chunks of this size, then resumes
    data = b"\x00" + os.urandom(chunk + chunk // 2)
    hf.upload_file(path_or_fileobj=data, path_in_repo="w.bin", repo_id=repo_id)
    fault = local_hub.inject_fault(Fault("resolve", method="GET", cut_after=chunk + 1000))
    with caplog.at_level(logging.WARNING, logger="huggingface_hub"):
        assert Path(hf.hf_hub_download(repo_id, "w.bin")).read_bytes() == data
    assert fault.hits == 1
    assert "Trying to resume download" in caplog.text


@pytest.mark.local_hub(xet=False)  # faults of the plain LFS upload and download path
def test_transient_5xx_on_lfs_upload_is_retried(local_hub: LocalHub) -> None:
    repo_id = hf.create_repo("upload-retry").repo_id
    fault = local_hub.inject_fault(Fault("lfs-upload", status=502))
    data = b"\x00" + os.urandom(1000)
    hf.upload_file(path_or_fileobj=data, path_in_repo="w.bin", repo_id=repo_id)
    assert fault.hits == 1
    assert Path(hf.hf_hub_download(repo_id, "w.bin")).read_bytes() == data


def test_delay_beyond_the_client_timeout_is_retried(local_hub: LocalHub, weights_repo: tuple[str, bytes]) -> None:
    repo_id, data = weights_repo
    fault = local_hub.inject_fault(Fault("resolve", method="HEAD", delay=1.0))
    assert Path(hf.hf_hub_download(repo_id, "w.bin", etag_timeout=0.2)).read_bytes() == data
    assert fault.hits == 1


def test_delay_slows_a_request_down(local_hub: LocalHub) -> None:
    repo_id = hf.create_repo("slow").repo_id
    fault = local_hub.inject_fault(Fault("repo-info", delay=0.3))
    start = time.monotonic()
    hf.repo_info(repo_id)
    assert time.monotonic() - start >= 0.3
    assert fault.hits == 1
    assert local_hub.inject_fault(Fault("repo-info", delay=0.3)).remaining == 1
    local_hub.clear_faults()
    assert local_hub.inject_fault(Fault("repo-info", status=500, times=None)).remaining is None


def test_failed_commit_gives_a_clear_error(local_hub: LocalHub) -> None:
    repo_id = hf.create_repo("commit-fails").repo_id
    local_hub.inject_fault(Fault("commit", status=500, message="storage is on fire"))
    with pytest.raises(HfHubHTTPError) as excinfo:
        hf.upload_file(path_or_fileobj=b"x", path_in_repo="x.txt", repo_id=repo_id)
    assert excinfo.value.response.status_code == 500
    assert "storage is on fire (500 on route 'commit')" in str(excinfo.value)
    assert hf.list_repo_files(repo_id) == [".gitattributes"]


@pytest.mark.local_hub(xet=False)  # faults of the plain LFS upload and download path
def test_permanent_5xx_fails_cleanly_without_partial_files(
    local_hub: LocalHub, weights_repo: tuple[str, bytes]
) -> None:
    repo_id, data = weights_repo
    fault = local_hub.inject_fault(Fault("resolve", method="GET", status=503, times=None))
    for _ in range(2):
        with pytest.raises(HfHubHTTPError) as excinfo:
            hf.hf_hub_download(repo_id, "w.bin")
        assert excinfo.value.response.status_code == 503
        assert "Fault injected by LocalHub (503 on route 'resolve')" in str(excinfo.value)
        assert not [p for p in _cached_files() if p.parent.name in ("blobs", "snapshots") or "w.bin" in p.name]
        assert not [p for p in _cached_files() if p.name.endswith(".incomplete")]
    assert fault.hits == 2 and fault.remaining is None
    local_hub.remove_fault(fault)
    assert Path(hf.hf_hub_download(repo_id, "w.bin")).read_bytes() == data


def test_faults_match_route_method_and_path(local_hub: LocalHub) -> None:
    repo_id = hf.create_repo("matching").repo_id
    hf.upload_file(path_or_fileobj=b"a", path_in_repo="a.txt", repo_id=repo_id)
    hf.upload_file(path_or_fileobj=b"b", path_in_repo="b.txt", repo_id=repo_id)
    only_b = local_hub.inject_fault(Fault("*", path=r"b\.txt$", status=404, times=None))
    assert Path(hf.hf_hub_download(repo_id, "a.txt")).read_bytes() == b"a"
    assert only_b.hits == 0
    with pytest.raises(LocalEntryNotFoundError):  # a bare 404 is no EntryNotFound: "cannot locate the file"
        hf.hf_hub_download(repo_id, "b.txt")
    assert only_b.hits == 1
    local_hub.clear_faults()
    assert Path(hf.hf_hub_download(repo_id, "b.txt")).read_bytes() == b"b"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"route": "nowhere", "status": 500},
        {"status": 200},
        {"status": 500, "cut_after": 10},
        {},
        {"delay": -1.0},
        {"status": 500, "times": 0},
        {"error_code": "GatedRepo", "delay": 1.0},
        {"status": 403, "error_code": "Gated Repo\r\nX-Other: 1"},
    ],
)
def test_invalid_faults_are_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        Fault(**kwargs)  # type: ignore[arg-type]


def test_an_invalid_path_pattern_is_refused_naming_it() -> None:
    with pytest.raises(ValueError, match=r"not a valid regular expression: 'model\(\.safetensors'"):
        Fault("resolve", status=503, path="model(.safetensors")


def test_an_error_code_gives_the_clients_typed_error(local_hub: LocalHub, weights_repo: tuple[str, bytes]) -> None:
    repo_id, _ = weights_repo
    local_hub.inject_fault(Fault("resolve", method="HEAD", status=403, error_code="GatedRepo", path="w.bin"))
    with pytest.raises(GatedRepoError, match="Fault injected by LocalHub"):
        hf.hf_hub_download(repo_id, "w.bin")
    local_hub.inject_fault(Fault("resolve", method="HEAD", status=403, path="w.bin"))  # without: no typed error
    with pytest.raises(LocalEntryNotFoundError):  # (the client's answer to an untyped error on the HEAD)
        hf.hf_hub_download(repo_id, "w.bin")


def test_an_error_code_must_be_a_string() -> None:
    with pytest.raises(TypeError, match=r"Fault\(error_code=...\) must be str or None, got int 402"):
        Fault("resolve", status=402, error_code=402)  # type: ignore[arg-type]


def test_every_route_of_the_server_can_be_faulted() -> None:
    assert {route for route, _ in HANDLERS} == ROUTES
