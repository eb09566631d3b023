"""LocalHub regressions of QA round 14: unsupported Spaces routes, a relative data folder, PRs of PR refs, copied
data folders with Xet, ``.git`` path segments, damaged data folders, ``HF_HUB_DISABLE_XET`` and contributor pushes
to an explicit endpoint."""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path

import huggingface_hub as hf
import pytest
from core_models import MLP
from huggingface_hub import constants
from huggingface_hub.errors import HfHubHTTPError, RevisionNotFoundError
from localhub_raw import raw_request

from hubmixin_core.testing import Fault, LocalHub
from hubmixin_core.testing.pytest_plugin import LFS_UPLOAD_WARNING_FILTER

pytestmark = pytest.mark.filterwarnings(LFS_UPLOAD_WARNING_FILTER)

_SERVE = [sys.executable, "-m", "hubmixin_core.testing._cli", "hub", "serve"]


def _xet_runs_here() -> None:
    for module in ("blake3", "lz4", "hf_xet"):
        pytest.importorskip(module)


# the Hub's /api/spaces/{hardware,templates,semantic-search,zero-gpu} are APIs, not repositories


@pytest.mark.parametrize(
    "path",
    ["/api/spaces/hardware", "/api/spaces/templates", "/api/spaces/semantic-search?q=x", "/api/spaces/zero-gpu/quota"],
)
def test_unimplemented_spaces_apis_answer_501(local_hub: LocalHub, path: str) -> None:
    status, headers, body = raw_request("GET", local_hub.endpoint + path, token=local_hub.token)
    assert status == 501 and headers["X-Error-Code"] is None
    route = path.partition("?")[0]
    assert json.loads(body)["error"] == f"GET {route} is not supported by the local Hub (hubmixin LocalHub)"


def test_the_client_sees_501_for_spaces_hardware(local_hub: LocalHub) -> None:
    with pytest.raises(HfHubHTTPError, match="not supported by the local Hub") as raised:
        hf.HfApi().list_spaces_hardware()
    assert raised.value.response is not None and raised.value.response.status_code == 501
    space = hf.create_repo("app", repo_type="space", space_sdk="static").repo_id
    assert hf.space_info(space).id == space  # real Spaces keep their routes


# the data folder is fixed when the LocalHub is made, whatever the current directory does later


@pytest.mark.local_hub(xet=False)
def test_a_relative_root_survives_a_change_of_directory(
    local_hub: LocalHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "elsewhere" / "hub-data").mkdir(parents=True)  # same relative name: must stay empty
    with LocalHub("hub-data") as hub:
        assert hub.root == tmp_path / "hub-data" and hub.root.is_absolute()
        monkeypatch.chdir(tmp_path / "elsewhere")
        api = hf.HfApi(endpoint=hub.endpoint, token=hub.token)
        repo_id = api.create_repo("model").repo_id
        api.upload_file(path_or_fileobj=b"\x00weights" * 100, path_in_repo="w.bin", repo_id=repo_id)
        assert api.list_repo_files(repo_id) == [".gitattributes", "w.bin"]
    assert not any((tmp_path / "elsewhere" / "hub-data").iterdir())
    with LocalHub(tmp_path / "hub-data") as hub:  # the data stayed where the hub was started
        assert hf.HfApi(endpoint=hub.endpoint, token=hub.token).list_repo_files(repo_id) == [".gitattributes", "w.bin"]


def test_a_root_under_home_is_expanded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    with LocalHub("~/hub-data") as hub:
        assert hub.root == tmp_path / "home" / "hub-data"
        assert (hub.root / "hub.sqlite").is_file()
    assert not (tmp_path / "~").exists()


# create_pr=True opens a pull request against a branch only


def test_create_pr_on_a_pull_request_ref_is_revision_not_found(local_hub: LocalHub) -> None:
    repo_id = hf.create_repo("model").repo_id
    first = hf.upload_file(path_or_fileobj=b"p", path_in_repo="p.txt", repo_id=repo_id, create_pr=True)
    assert first.pr_revision == "refs/pr/1"
    with pytest.raises(RevisionNotFoundError):
        hf.upload_file(
            path_or_fileobj=b"s", path_in_repo="s.txt", repo_id=repo_id, revision="refs/pr/1", create_pr=True
        )
    assert [d.num for d in hf.get_repo_discussions(repo_id)] == [1]  # no second pull request
    assert hf.list_repo_files(repo_id, revision="refs/pr/1") == [".gitattributes", "p.txt"]
    pushed = hf.upload_file(path_or_fileobj=b"s", path_in_repo="s.txt", repo_id=repo_id, revision="refs/pr/1")
    pull_requests = hf.list_repo_refs(repo_id, include_pull_requests=True).pull_requests or []
    assert [ref.target_commit for ref in pull_requests] == [pushed.oid]


# a copy of a data folder at the same address gets its own Xet storage URL


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _cas_url(hub: LocalHub) -> str:
    url = f"{hub.endpoint}/api/models/localuser/model/xet-write-token/main"
    status, headers, _ = raw_request("GET", url, token=hub.token)
    assert status == 200
    return str(headers["X-Xet-Cas-Url"])


def _xet_upload(hub: LocalHub, home: Path, data: bytes) -> None:
    with hub.configure_client(cache_dir=home, xet=True):
        hf.upload_file(path_or_fileobj=data, path_in_repo="w.safetensors", repo_id="localuser/model")


def test_copies_of_a_data_folder_at_one_address_take_xet_uploads(tmp_path: Path) -> None:
    _xet_runs_here()
    port, home, data = _free_port(), tmp_path / "client", os.urandom(3 * 1024 * 1024)
    with LocalHub(tmp_path / "template", port=port) as hub:
        hf.HfApi(endpoint=hub.endpoint, token=hub.token).create_repo("model")
    cas_urls = []
    # the same template restored for each run (beside, then in place of, the last: the inode may come back), one
    # client cache for all
    for copy in ("copy1", "copy2", "copy2"):
        shutil.rmtree(tmp_path / copy, ignore_errors=True)
        shutil.copytree(tmp_path / "template", tmp_path / copy)
        with LocalHub(tmp_path / copy, port=port) as hub:
            _xet_upload(hub, home, data)  # failed: hf_xet deduplicated against an earlier copy
            with hub.configure_client(cache_dir=home, xet=True):
                assert hf.hf_hub_download("localuser/model", "w.safetensors", force_download=True)
            cas_urls.append(_cas_url(hub))
    assert len(set(cas_urls)) == 3
    restarts = []
    for _ in range(2):  # a folder not written since its last start keeps its URL (and the client's cache)
        with LocalHub(tmp_path / "copy2", port=port) as hub:
            restarts.append(_cas_url(hub))
    assert restarts[0] == restarts[1]


def test_a_shard_naming_lost_xorbs_is_logged_with_a_hint(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    _xet_runs_here()
    home, data = tmp_path / "client", os.urandom(3 * 1024 * 1024)
    with LocalHub(tmp_path / "hub") as hub:
        hf.HfApi(endpoint=hub.endpoint, token=hub.token).create_repo("model")
        _xet_upload(hub, home, data)
        shutil.rmtree(hub.root / "xet" / "xorbs")  # the data is gone, the client's cache remembers it
        with caplog.at_level(logging.WARNING, logger="hubmixin_core.testing"), pytest.raises(Exception, match="400"):
            _xet_upload(hub, home, data + b"more")
    assert any(
        "never uploaded to this LocalHub" in record.getMessage() and "Xet cache" in record.getMessage()
        for record in caplog.records
    )


# no path component is .git, in any case and at any depth


@pytest.mark.parametrize("path", ["a/.git/config", "a/.git/hooks/post-checkout", "sub/.git", ".GIT/config", "a/.Git/x"])
def test_git_folders_are_refused_anywhere(local_hub: LocalHub, path: str) -> None:
    repo_id = hf.create_repo("model").repo_id
    lines = [
        {"key": "header", "value": {"summary": "hooks", "description": ""}},
        {"key": "file", "value": {"path": path, "content": base64.b64encode(b"x").decode(), "encoding": "base64"}},
    ]
    body = b"".join(json.dumps(line).encode() + b"\n" for line in lines)
    url = f"{local_hub.endpoint}/api/models/{repo_id}/commit/main"
    status, headers, _ = raw_request("POST", url, token=local_hub.token, body=body)
    assert status == 400 and ".git is reserved" in headers["X-Error-Message"]
    assert hf.list_repo_files(repo_id) == [".gitattributes"]


def test_names_that_only_contain_git_are_kept(local_hub: LocalHub) -> None:
    repo_id = hf.create_repo("model").repo_id
    for name in ("a/.gitkeep", ".github/x.yml", "x.git", "git/.git-blame-ignore-revs"):
        hf.upload_file(path_or_fileobj=b"x", path_in_repo=name, repo_id=repo_id)
    assert len(hf.list_repo_files(repo_id)) == 5


# a data folder that holds something else than LocalHub's databases is one line, naming the file


@pytest.mark.parametrize("damage", ["garbage", "folder", "xet-folder", "foreign"])
def test_serving_a_damaged_data_folder_is_one_line(tmp_path: Path, damage: str) -> None:
    root = tmp_path / "data"
    bad = root / ("xet/xet.sqlite" if damage == "xet-folder" else "hub.sqlite")
    if damage == "garbage":
        root.mkdir()
        bad.write_text("garbage, not a database")
    elif damage == "foreign":  # another application's SQLite file, with a table named like one of LocalHub's
        root.mkdir()
        with contextlib.closing(sqlite3.connect(bad)) as db:
            db.execute("CREATE TABLE repos (owner TEXT, payload BLOB)")
            db.commit()
    else:
        bad.mkdir(parents=True)
    result = subprocess.run([*_SERVE, "--root", str(root)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    [line] = result.stderr.strip().splitlines()
    assert line.startswith(f"hubmixin hub serve: error: cannot open {bad} as a LocalHub database: ")
    with pytest.raises(OSError, match="as a LocalHub database"):
        LocalHub(root).start()
    if damage == "foreign":
        with contextlib.closing(sqlite3.connect(bad)) as db:  # never altered
            assert [row[1] for row in db.execute("PRAGMA table_info(repos)")] == ["owner", "payload"]
            assert [row[0] for row in db.execute("SELECT name FROM sqlite_master")] == ["repos"]


# HF_HUB_DISABLE_XET=1 of the user's environment holds under configure_client()


def test_configure_client_keeps_the_users_disabled_xet(monkeypatch: pytest.MonkeyPatch) -> None:
    _xet_runs_here()
    monkeypatch.setenv("HF_HUB_DISABLE_XET", "1")
    with LocalHub() as hub:
        with hub.configure_client():
            assert (os.environ["HF_HUB_DISABLE_XET"], constants.HF_HUB_DISABLE_XET) == ("1", True)
            lfs = hub.inject_fault(Fault("lfs-batch", delay=0.001, times=None))
            xet = hub.inject_fault(Fault("xet-token", delay=0.001, times=None))
            repo_id = hf.create_repo("model").repo_id
            hf.upload_file(path_or_fileobj=os.urandom(1000), path_in_repo="w.safetensors", repo_id=repo_id)
            assert (lfs.hits, xet.hits) == (1, 0)  # plain LFS, as the user runs the client
        with hub.configure_client(xet=True):  # asked for explicitly: Xet on
            assert (os.environ.get("HF_HUB_DISABLE_XET"), constants.HF_HUB_DISABLE_XET) == (None, False)
        assert os.environ["HF_HUB_DISABLE_XET"] == "1"


# a contributor's pull request to an endpoint that is not the client's default


def test_a_contributor_opens_a_pull_request_at_an_explicit_endpoint(
    local_hub: LocalHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(constants, "ENDPOINT", "https://huggingface.co")  # the client's default: not `other`
    with LocalHub() as other:  # local_hub only isolates the client's cache and token
        repo_id = f"{other.username}/mlp"
        MLP().push_to_hub(repo_id, endpoint=other.endpoint, token=other.token)
        carol = other.add_user("carol")
        info = MLP(seed=1).push_to_hub(repo_id, endpoint=other.endpoint, token=carol, create_pr=True)
        assert info.pr_revision == "refs/pr/1"
        api = hf.HfApi(endpoint=other.endpoint, token=other.token)
        assert api.get_discussion_details(repo_id, 1).author == "carol"
        read_only = other.create_token(other.username, write=False)
        for token, reason in ((carol, "You don't have the rights"), (read_only, "read-only")):
            with pytest.raises(HfHubHTTPError, match=reason) as raised:
                MLP(seed=2).push_to_hub(repo_id, endpoint=other.endpoint, token=token)
            assert raised.value.response is not None and raised.value.response.status_code == 403
        assert len(api.list_repo_commits(repo_id)) == 2  # nothing pushed but the owner's commit
