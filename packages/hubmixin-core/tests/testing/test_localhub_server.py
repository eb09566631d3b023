"""LocalHub lifecycle, persistence, client configuration, the pytest fixture, the CLI, and small helpers."""

from __future__ import annotations

import argparse
import hashlib
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import huggingface_hub as hf
import pytest
from huggingface_hub import constants

from hubmixin_core.testing import LocalHub, configure_client
from hubmixin_core.testing._cli import add_hub_parser
from hubmixin_core.testing._download import parse_range
from hubmixin_core.testing._gitmeta import (
    DEFAULT_GITATTRIBUTES,
    InvalidPathError,
    git_blob_oid,
    is_lfs_path,
    lfs_patterns,
    validate_repo_path,
)
from hubmixin_core.testing._http import HubError
from hubmixin_core.testing._routes import match_route
from hubmixin_core.testing._storage import RepoKey
from hubmixin_core.testing.pytest_plugin import LFS_UPLOAD_WARNING_FILTER

pytestmark = pytest.mark.filterwarnings(LFS_UPLOAD_WARNING_FILTER)


def test_repositories_persist_across_restarts(tmp_path: Path) -> None:
    root = tmp_path / "hub"
    weights = b"\x00" + os.urandom(2000)
    with LocalHub(root) as hub, hub.configure_client(xet=False):  # LFS: stored as a blob
        first_token = hub.token
        repo_id = hf.create_repo("kept", private=True).repo_id
        hf.upload_file(path_or_fileobj=weights, path_in_repo="w.bin", repo_id=repo_id)
        hf.upload_file(path_or_fileobj=b"{}", path_in_repo="config.json", repo_id=repo_id)
        sha = hf.repo_info(repo_id).sha
    assert (root / "hub.sqlite").is_file()
    blob_names = {p.name for p in (root / "blobs").rglob("*") if p.is_file()}
    assert hashlib.sha256(weights).hexdigest() in blob_names
    with LocalHub(root) as hub, hub.configure_client():
        assert hub.token != first_token
        assert hf.repo_info(repo_id, token=first_token).sha == sha  # old tokens stay valid
        assert Path(hf.hf_hub_download(repo_id, "w.bin")).read_bytes() == weights
        assert sorted(hf.list_repo_files(repo_id)) == [".gitattributes", "config.json", "w.bin"]


def test_lifecycle(tmp_path: Path) -> None:
    hub = LocalHub()
    assert not hub.running
    with pytest.raises(RuntimeError, match="not running"):
        _ = hub.endpoint
    with hub:
        root = hub.root
        assert hub.endpoint.startswith("http://127.0.0.1:")
        with pytest.raises(RuntimeError, match="already running"):
            hub.start()
        with hub.configure_client():
            hf.create_repo("r")  # leaves a kept-alive connection behind
    assert not root.exists()  # a temporary root is removed
    hub.stop()  # idempotent
    serving = [t for t in threading.enumerate() if t.name.startswith("LocalHub") or "process_request" in t.name]
    assert serving == []  # the server thread and the kept-alive connection's thread are gone
    with LocalHub(tmp_path, host="localhost") as again:
        assert again.endpoint.startswith("http://127.0.0.1:")
    assert "stopped" in repr(again)


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.10", "example.com", "::"])
def test_only_loopback_hosts_are_accepted(host: str) -> None:
    with pytest.raises(ValueError, match="loopback"):
        LocalHub(host=host)


@pytest.mark.parametrize("port", [-1, 65536, 70000])
def test_ports_outside_the_tcp_range_are_refused_at_construction(port: int) -> None:
    with pytest.raises(ValueError, match=rf"port must be a TCP port \(0-65535\), not {port}"):
        LocalHub(port=port)


def test_users_and_tokens() -> None:
    with LocalHub(username="alice") as hub:
        assert hub.username == "alice"
        bob = hub.add_user("bob")
        assert bob.startswith("hf_") and bob != hub.token
        with configure_client(hub.endpoint, token=bob):
            assert hf.whoami()["name"] == "bob"
        read_only = hub.create_token("bob", write=False)
        with configure_client(hub.endpoint, token=read_only):
            assert hf.whoami()["auth"]["accessToken"]["role"] == "read"
        for bad in ("", "api", "datasets", "a/b", "-x", "a--b"):
            with pytest.raises(ValueError, match="Invalid user name"):
                hub.add_user(bad)
        with pytest.raises(ValueError, match="No user"):
            hub.create_token("carol")


def test_configure_client_points_the_client_and_restores_everything(tmp_path: Path) -> None:
    names = (
        "ENDPOINT",
        "HUGGINGFACE_CO_URL_TEMPLATE",
        "HF_HUB_CACHE",
        "HF_HOME",
        "HF_HUB_DISABLE_XET",
        "HF_TOKEN_PATH",
    )
    before = {name: getattr(constants, name) for name in names}
    env_before = {name: os.environ.get(name) for name in ("HF_ENDPOINT", "HF_TOKEN", "HF_HUB_DISABLE_XET")}
    api_endpoint = hf.hf_api.api.endpoint
    with configure_client("http://127.0.0.1:1/", token="hf_x", cache_dir=tmp_path / "home") as home:
        assert home == tmp_path / "home"
        assert constants.ENDPOINT == hf.hf_api.api.endpoint == "http://127.0.0.1:1"
        assert hf.hf_hub_url("a/b", "c").startswith("http://127.0.0.1:1/a/b/resolve/main/c")
        assert str(home / "hub") == constants.HF_HUB_CACHE
        assert _xet_disabled() is False  # Xet on, as users run the client
        assert "HF_HUB_DISABLE_XET" not in os.environ
        assert os.environ["HF_TOKEN"] == "hf_x"
        assert hf.get_token() == "hf_x"
    assert {name: getattr(constants, name) for name in names} == before
    assert {name: os.environ.get(name) for name in env_before} == env_before
    assert hf.hf_api.api.endpoint == api_endpoint
    assert (tmp_path / "home").is_dir()  # a given cache dir is kept
    with configure_client("http://127.0.0.1:1/", xet=False):
        assert _xet_disabled() is True
        assert os.environ["HF_HUB_DISABLE_XET"] == "1"
    assert {name: getattr(constants, name) for name in names} == before


def _xet_disabled() -> bool:
    return constants.HF_HUB_DISABLE_XET


def test_local_hub_fixture_configures_the_client(local_hub: LocalHub, request: pytest.FixtureRequest) -> None:
    assert local_hub.endpoint == constants.ENDPOINT
    assert os.environ["HF_TOKEN"] == local_hub.token
    assert constants.HF_HUB_DISABLE_XET is False
    assert hf.whoami()["name"] == local_hub.username
    filters = [mark.args[0] for mark in request.node.iter_markers("filterwarnings")]
    assert any("content=<...>" in f for f in filters)


def test_hub_serve_parser() -> None:
    parser = argparse.ArgumentParser(prog="hubmixin")
    add_hub_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["hub", "serve", "--root", "data", "--port", "8123"])
    assert (args.root, args.host, args.port, args.hub_command) == (Path("data"), "127.0.0.1", 8123, "serve")
    assert callable(args.func)
    from hubmixin_core.cli import build_parser

    args = build_parser().parse_args(["hub", "serve", "--port", "0"])
    assert (args.command, args.hub_command, args.root) == ("hub", "serve", None)


_CLIENT = """
import hashlib, os, sys
import huggingface_hub as hf
data = os.urandom(11 * 1024 * 1024)  # above the LFS threshold: through Xet, the client's default
repo_id = hf.create_repo("pasted").repo_id
hf.upload_file(path_or_fileobj=data, path_in_repo="weights.bin", repo_id=repo_id)
path = hf.hf_hub_download(repo_id, "weights.bin")
assert open(path, "rb").read() == data
print(hf.whoami()["name"], hf.constants.HF_HUB_DISABLE_XET)
"""


def _exports(banner: str) -> dict[str, str]:
    line = next(line for line in banner.splitlines() if line.strip().startswith("export "))
    return dict(part.split("=", 1) for part in line.split()[1:])


def test_hub_serve_drives_a_plain_client_in_another_process(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "hubmixin_core.testing._cli", "hub", "serve", "--root", str(tmp_path / "hub")]
    command += ["--token", "hf_fixed_for_scripts"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as process:
        assert process.stdout is not None
        banner = "".join(process.stdout.readline() for _ in range(4))
        exports = _exports(banner)
        assert exports["HF_ENDPOINT"].startswith("http://127.0.0.1:") and exports["HF_TOKEN"] == "hf_fixed_for_scripts"
        env = {k: v for k, v in os.environ.items() if not k.startswith("HF_")} | exports
        env["HF_HOME"] = str(tmp_path / "client")
        client = subprocess.run([sys.executable, "-c", _CLIENT], env=env, capture_output=True, text=True, timeout=120)
        assert client.returncode == 0, client.stderr
        assert client.stdout.split() == ["localuser", "False"]  # Xet on, as users run the client
        process.send_signal(signal.SIGTERM)
        rest = process.stdout.read()
        assert process.wait(timeout=10) == 0
    assert "LocalHub stopped" in rest
    assert (tmp_path / "hub" / "hub.sqlite").is_file()


def test_hub_serve_errors_are_one_line(tmp_path: Path) -> None:
    with LocalHub() as hub:
        port = hub.endpoint.rsplit(":", 1)[1]
        base = [sys.executable, "-m", "hubmixin_core.testing._cli", "hub", "serve"]
        taken = subprocess.run([*base, "--port", port], capture_output=True, text=True, timeout=60)
    assert taken.returncode == 1 and f"127.0.0.1:{port}" in taken.stderr
    assert len(taken.stderr.strip().splitlines()) == 1 and "Traceback" not in taken.stderr
    remote = subprocess.run([*base, "--host", "0.0.0.0"], capture_output=True, text=True, timeout=60)
    assert remote.returncode == 2 and "loopback" in remote.stderr and len(remote.stderr.strip().splitlines()) == 1


def test_parse_range() -> None:
    assert parse_range(None, 10) is None
    assert parse_range("bytes=2-", 10) == (2, 8)
    assert parse_range("bytes=2-4", 10) == (2, 3)
    assert parse_range("bytes=2-99", 10) == (2, 8)
    assert parse_range("bytes=-3", 10) == (7, 3)
    assert parse_range("bytes=0-1,4-5", 10) is None  # multi-range: whole file
    with pytest.raises(HubError) as excinfo:
        parse_range("bytes=10-", 10)
    assert excinfo.value.status == 416


def test_routes() -> None:
    model = RepoKey("model", "u", "r")
    resolve = match_route("/u/r/resolve/refs%2Fpr%2F1/a/b%20c.txt")
    assert resolve is not None
    assert (resolve.name, resolve.repo, resolve.revision, resolve.path) == ("resolve", model, "refs/pr/1", "a/b c.txt")
    tree = match_route("/api/datasets/u/r/tree/main/a%2Fb")
    assert tree is not None and (tree.name, tree.repo, tree.path) == ("tree", RepoKey("dataset", "u", "r"), "a/b")
    batch = match_route("/spaces/u/r.git/info/lfs/objects/batch")
    assert batch is not None and (batch.name, batch.repo) == ("lfs-batch", RepoKey("space", "u", "r"))
    info = match_route("/api/models/u/r/revision/refs%2Fpr%2F2")
    assert info is not None and (info.name, info.revision) == ("repo-info", "refs/pr/2")
    assert match_route("/api/nothing") is None
    assert match_route("/u/r/blob/main/x") is None


def test_git_metadata_helpers() -> None:
    assert git_blob_oid(b"hello") == "b6fc4c620b67d95f953a5c1c1230aaab5db5a1b0"  # `git hash-object`
    patterns = lfs_patterns(DEFAULT_GITATTRIBUTES + "# comment\nweights/** filter=lfs\n")
    assert is_lfs_path("model.safetensors", patterns)
    assert is_lfs_path("dir/pytorch_model.bin", patterns)
    assert is_lfs_path("weights/a/b.txt", patterns)
    assert not is_lfs_path("config.json", patterns)
    assert validate_repo_path("a/b.txt") == "a/b.txt"
    for bad in ("", "/a", "a/../b", "..", "a/./b", "a//b", ".git/x", "a\\b", "a\x00"):
        with pytest.raises(InvalidPathError):
            validate_repo_path(bad)


def test_unimplemented_hub_apis_answer_501_naming_the_route(local_hub: LocalHub) -> None:
    with pytest.raises(hf.errors.HfHubHTTPError) as excinfo:  # webhooks
        hf.list_webhooks()
    assert excinfo.value.response.status_code == 501
    assert "/api/settings/webhooks" in str(excinfo.value) and "not supported by the local Hub" in str(excinfo.value)
    with pytest.raises(hf.errors.RepositoryNotFoundError):  # what does not exist stays a 404 the client knows
        hf.hf_hub_download(f"{local_hub.username}/nothing-here", "config.json")


_WITHOUT_HUB_EXTRA = """
import sys
sys.modules["blake3"] = sys.modules["lz4"] = None  # as without hubmixin-core[hub]
from hubmixin_core.errors import HubMixinValueError
from hubmixin_core.testing import LocalHub, configure_client
with LocalHub(lfs_threshold=1024) as hub:
    try:
        hub.configure_client(xet=True)
    except HubMixinValueError as error:
        print("refused:", error)
    with configure_client(hub.endpoint, token=hub.token, xet=True):  # a client left with Xet on
        from huggingface_hub import HfApi
        api = HfApi()
        repo = api.create_repo(f"{hub.username}/model").repo_id
        try:
            api.upload_file(path_or_fileobj=bytes(4096), path_in_repo="model.safetensors", repo_id=repo)
        except Exception as error:
            print("failed:", type(error).__name__)
"""


def test_without_the_hub_extra_xet_is_refused_naming_the_extra() -> None:
    result = subprocess.run([sys.executable, "-c", _WITHOUT_HUB_EXTRA], capture_output=True, text=True, timeout=120)
    assert "refused: configure_client(xet=True)" in result.stdout and "hubmixin-core[hub]" in result.stdout
    assert "failed:" in result.stdout  # the client's own error (a 501) does not say why: the server's log does
    assert result.stderr.count("install hubmixin-core[hub]") == 1, result.stderr
