"""``hubmixin inspect REPO`` checks the Hub's headers as local files are checked; LocalHub's model info survives a
deeply nested header; the CLI expands ``~``; an unreachable Hub is said as such."""

from __future__ import annotations

import importlib.util
import json
import os
import socket
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from huggingface_hub import HfApi
from safetensors.numpy import save_file

from hubmixin_core.cli import main
from hubmixin_core.testing import LocalHub
from hubmixin_core.testing.pytest_plugin import LFS_UPLOAD_WARNING_FILTER
from hubmixin_core.weights import save_safetensors

pytestmark = pytest.mark.filterwarnings(LFS_UPLOAD_WARNING_FILTER)

_NESTED = b'{"a":' * 100_000 + b"1" + b"}" * 100_000


def _safetensors(header: object, data: bytes = b"") -> bytes:
    raw = json.dumps(header).encode() if not isinstance(header, bytes) else header
    return struct.pack("<Q", len(raw)) + raw + data


_F32 = {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}
_MALFORMED = {
    "header-list": _safetensors([1, 2]),
    "entry-list": _safetensors({"a": [1]}),
    "metadata-list": _safetensors({"__metadata__": ["x"], "a": _F32}, bytes(8)),
    "unknown-dtype": _safetensors({"a": {**_F32, "dtype": "F99"}}, bytes(8)),
    "shape-string": _safetensors({"a": {**_F32, "shape": "ab"}}, bytes(8)),
    "nested": _safetensors(_NESTED),
    "overlapping": _safetensors({"a": _F32, "b": _F32}, bytes(8)),
    "truncated": _safetensors({"a": _F32}, bytes(4)),
}


@pytest.mark.parametrize("case", sorted(_MALFORMED))
def test_inspect_of_a_hub_repository_checks_its_header_as_a_local_file(
    case: str, local_hub: LocalHub, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    local = tmp_path / "model.safetensors"
    local.write_bytes(_MALFORMED[case])
    repo_id = f"{local_hub.username}/{case}"
    api = HfApi()
    api.create_repo(repo_id)
    api.upload_file(path_or_fileobj=local, path_in_repo="model.safetensors", repo_id=repo_id)
    capsys.readouterr()  # (the upload's progress bars)
    assert main(["inspect", str(local)]) == 1
    local_error = capsys.readouterr().err
    assert main(["inspect", repo_id]) == 1  # raised AttributeError / TypeError / a traceback, or passed
    hub_error = capsys.readouterr().err
    assert len(hub_error.splitlines()) == 1, hub_error
    assert hub_error == local_error.replace(str(local), f"{repo_id}/model.safetensors")


def test_inspect_of_a_sharded_hub_repository_checks_the_index_against_the_shards(
    local_hub: LocalHub, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tensors = {f"layer.{i}.weight": np.full((4,), i, np.float32) for i in range(3)}
    save_safetensors(tensors, tmp_path, save_file=save_file, nbytes=lambda t: t.nbytes, max_shard_size=20)
    repo_id = f"{local_hub.username}/sharded"
    api = HfApi()
    api.create_repo(repo_id)
    api.upload_folder(folder_path=tmp_path, repo_id=repo_id)
    capsys.readouterr()
    assert main(["inspect", repo_id, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["parameters"] == 12
    index_name = "model.safetensors.index.json"
    index = json.loads((tmp_path / index_name).read_text())
    index["weight_map"]["gone"] = index["weight_map"].pop("layer.0.weight")
    api.upload_file(path_or_fileobj=json.dumps(index).encode(), path_in_repo=index_name, repo_id=repo_id)
    capsys.readouterr()
    assert main(["inspect", repo_id]) == 1
    err = capsys.readouterr().err
    assert "index and shards disagree" in err and "'gone'" in err and len(err.splitlines()) == 1


@pytest.mark.parametrize("path", ["model.safetensors", "model.safetensors.index.json"])
def test_local_hub_model_info_omits_a_deeply_nested_header(path: str, local_hub: LocalHub) -> None:
    repo_id = f"{local_hub.username}/nested"
    api = HfApi()
    api.create_repo(repo_id)
    blob = _safetensors(_NESTED) if path.endswith(".safetensors") else _NESTED
    api.upload_file(path_or_fileobj=blob, path_in_repo=path, repo_id=repo_id)
    assert api.model_info(repo_id).safetensors is None  # was a 500 (RecursionError), as the real Hub omits it


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_inspect_of_a_missing_path_with_the_hub_unreachable_says_both(tmp_path: Path) -> None:
    env = dict(os.environ, HF_ENDPOINT=f"http://127.0.0.1:{_closed_port()}", HF_HOME=str(tmp_path / "hf"))
    env.pop("HF_HUB_OFFLINE", None)
    done = subprocess.run(
        [sys.executable, "-m", "hubmixin_core.cli", "inspect", "checkpoints/run1"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1
    assert len(done.stderr.splitlines()) == 1, done.stderr  # was "hubmixin: error: ConnectError: ..."
    where = tmp_path / "checkpoints" / "run1"
    assert f"'checkpoints/run1' is neither a local file or directory ({where} does not exist)" in done.stderr
    assert "the Hub could not be reached" in done.stderr


@pytest.mark.skipif(importlib.util.find_spec("hubmixin_flax") is None, reason="converts --to flax: needs hubmixin-flax")
def test_the_cli_expands_tilde_in_every_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    home, cwd = tmp_path / "home", tmp_path / "cwd"
    (home / "src").mkdir(parents=True)
    cwd.mkdir()
    save_file({"w": np.zeros((2, 2), np.float32)}, str(home / "src" / "w.safetensors"))
    (home / "src" / "config.json").write_text('{"dim": 2}')
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(cwd)
    argv = ["convert", "~/src/w.safetensors", "~/out", "--to", "flax", "--config=~/src/config.json", "--quiet"]
    assert main(argv) == 0, capsys.readouterr().err
    assert list(cwd.iterdir()) == []  # no folder named "~" here
    assert (home / "out" / "model.safetensors").is_file()
    assert main(["inspect", "~/out", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["parameters"] == 4


@pytest.mark.parametrize(
    ("argv", "argument"),
    [
        (["convert", "", "out", "--to", "torch"], "SRC"),
        (["convert", "w.safetensors", "", "--to", "torch"], "DST"),
        (["convert", "w.safetensors", "out", "--to", "torch", "--config="], "--config"),
        (["inspect", ""], "PATH_OR_REPO"),
        (["hub", "serve", "--root", ""], "--root"),
    ],
)
def test_an_empty_path_is_a_usage_error_not_the_current_directory(
    argv: list[str], argument: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    save_file({"w": np.zeros(2, np.float32)}, str(tmp_path / "w.safetensors"))
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2
    assert f"error: argument {argument}: an empty path (an unset variable?)" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["w.safetensors"]
