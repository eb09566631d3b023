"""LocalHub restarted under a running client (Xet downloads keep working), and a data folder that is a file."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import huggingface_hub as hf
import pytest

from hubmixin_core.errors import HubMixinOSError
from hubmixin_core.testing import LocalHub


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _xet_runs_here() -> None:
    for module in ("hf_xet", "blake3", "lz4"):
        pytest.importorskip(module)


def _get(url: str, token: str, method: str = "GET") -> tuple[int, bytes]:
    request = urllib.request.Request(url, method=method, headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return int(answer.status), bytes(answer.read())
    except urllib.error.HTTPError as error:
        return int(error.code), bytes(error.read())


def _xet_token(hub: LocalHub, repo_id: str, kind: str) -> tuple[str, str]:
    status, body = _get(f"{hub.endpoint}/api/models/{repo_id}/xet-{kind}-token/main", hub.token)
    assert status == 200
    answer = json.loads(body)
    return str(answer["casUrl"]), str(answer["accessToken"])


def test_a_running_client_downloads_through_xet_after_restarts(tmp_path: Path) -> None:
    _xet_runs_here()
    data, changed = os.urandom(2 * 2**20), os.urandom(2 * 2**20)
    hub = LocalHub(tmp_path / "hub", port=_free_port())
    hub.start()
    try:
        with hub.configure_client(cache_dir=tmp_path / "client", xet=True):
            repo_id = hf.create_repo("m").repo_id
            hf.upload_file(path_or_fileobj=data, path_in_repo="model.safetensors", repo_id=repo_id)
            assert Path(hf.hf_hub_download(repo_id, "model.safetensors")).read_bytes() == data
            cas_before, _ = _xet_token(hub, repo_id, "read")
            hub.stop()
            hub.start()  # same root and port: the client keeps the CAS URL it was handed for this revision
            assert _xet_token(hub, repo_id, "read")[0] != cas_before  # the store was written: a new id
            path = hf.hf_hub_download(repo_id, "model.safetensors", force_download=True)  # 404 on the old URL
            assert Path(path).read_bytes() == data
            hf.upload_file(path_or_fileobj=changed, path_in_repo="model.safetensors", repo_id=repo_id)
            hub.stop()
            hub.start()
            assert Path(hf.hf_hub_download(repo_id, "model.safetensors")).read_bytes() == changed
            first = hf.list_repo_commits(repo_id)[-2].commit_id  # the first upload (the last is the repo's creation)
            path = hf.hf_hub_download(repo_id, "model.safetensors", revision=first, force_download=True)
            assert Path(path).read_bytes() == data
    finally:
        hub.stop()


def test_an_earlier_store_url_serves_downloads_only(tmp_path: Path) -> None:
    _xet_runs_here()
    port, data = _free_port(), os.urandom(2 * 2**20)
    with LocalHub(tmp_path / "hub", port=port) as hub, hub.configure_client(cache_dir=tmp_path / "client", xet=True):
        repo_id = hf.create_repo("m").repo_id
        hf.upload_file(path_or_fileobj=data, path_in_repo="w.safetensors", repo_id=repo_id)
        file_hash = hf.get_hf_file_metadata(hf.hf_hub_url(repo_id, "w.safetensors")).xet_file_data
        assert file_hash is not None
        old_cas, old_read = _xet_token(hub, repo_id, "read")
    with LocalHub(tmp_path / "hub", port=port) as hub:
        cas, write = _xet_token(hub, repo_id, "write")
        assert cas != old_cas
        reconstruction = f"{old_cas}/v1/reconstructions/{file_hash.file_hash}"
        assert _get(reconstruction, old_read)[0] == 200  # a token this data folder handed out, before the restart
        assert _get(f"{old_cas}/v1/files/{file_hash.file_hash}", old_read, "HEAD")[0] == 200
        status, body = _get(f"{old_cas}/v1/chunks/default-merkledb/{'0' * 64}", write)  # uploads: current URL only
        assert status == 404 and b"get a new Xet token" in body
    with LocalHub(tmp_path / "other", port=port) as other:  # another data folder at the same address
        hf.HfApi(endpoint=other.endpoint, token=other.token).create_repo("m")
        status, body = _get(reconstruction, old_read)  # a token of the first folder
        assert status == 404 and b"get a new Xet token" in body
        status, body = _get(reconstruction, _xet_token(other, repo_id, "read")[1])  # its own: the data is not here
        assert status == 404 and b"not found" in body


def test_a_data_folder_that_is_a_file_is_named(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(HubMixinOSError) as caught:
        LocalHub(blocker).start()
    assert isinstance(caught.value, NotADirectoryError)
    assert caught.value.filename == str(blocker) and "it is a file, not a folder" in str(caught.value)
    with pytest.raises(NotADirectoryError) as above:
        LocalHub(blocker / "hub").start()
    assert isinstance(above.value, HubMixinOSError) and above.value.filename == str(blocker / "hub")
    serve = [sys.executable, "-m", "hubmixin_core.testing._cli", "hub", "serve", "--root", str(blocker)]
    result = subprocess.run(serve, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1 and result.stderr.strip().splitlines() == [
        f"hubmixin hub serve: error: cannot use data folder {blocker}: it is a file, not a folder"
    ]


def test_the_data_folder_error_is_public(tmp_path: Path) -> None:
    from hubmixin_core import testing

    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(testing.DataFolderError) as caught:
        LocalHub(blocker).start()
    assert "DataFolderError" in testing.__all__
    assert isinstance(caught.value, NotADirectoryError | HubMixinOSError) and caught.value.filename == str(blocker)
