"""``hubmixin inspect REPO`` offline (from the Hub cache, as ``from_pretrained`` loads) and without progress bars."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import huggingface_hub as hf
import numpy as np
import pytest
from core_models import MLP
from huggingface_hub.utils.tqdm import are_progress_bars_disabled
from safetensors.numpy import save_file

from hubmixin_core.cli import main
from hubmixin_core.testing import LocalHub
from hubmixin_core.weights import canonical_metadata, save_safetensors

_INSPECT = [sys.executable, "-c", "import sys; from hubmixin_core.cli import main; sys.exit(main(sys.argv[1:]))"]


def _offline_inspect(*args: str) -> subprocess.CompletedProcess[str]:
    """``hubmixin inspect ARGS`` in a process with ``HF_HUB_OFFLINE=1`` (the fixture's cache and endpoint)."""
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    return subprocess.run([*_INSPECT, "inspect", *args], capture_output=True, text=True, env=env, timeout=120)


def _push_shards(tmp_path: Path, repo_id: str) -> None:
    tensors = {f"layer.{i}.weight": np.full((4, 4), i, np.float32) for i in range(3)}
    save_safetensors(
        tensors,
        tmp_path,
        save_file=save_file,
        nbytes=lambda t: t.nbytes,
        max_shard_size=80,
        metadata=canonical_metadata("torch"),
    )
    hf.create_repo(repo_id)
    hf.upload_folder(repo_id=repo_id, folder_path=tmp_path)


def test_inspect_a_cached_repository_offline(local_hub: LocalHub, capsys: pytest.CaptureFixture[str]) -> None:
    repo_id = f"{local_hub.username}/mlp"
    model = MLP()
    model.push_to_hub(repo_id)
    MLP.from_pretrained(repo_id)  # now in the cache
    assert main(["inspect", repo_id, "--json"]) == 0
    online = json.loads(capsys.readouterr().out)

    for revision in ([], ["--revision", "main"]):
        result = _offline_inspect(repo_id, "--json", *revision)
        assert result.returncode == 0, result.stderr
        offline = json.loads(result.stdout)
        assert offline == online  # same files, sizes, tensors and metadata as the Hub's headers say


def test_inspect_offline_of_an_uncached_repository_is_one_line(local_hub: LocalHub) -> None:
    result = _offline_inspect(f"{local_hub.username}/never-downloaded")
    assert result.returncode == 1 and len(result.stderr.splitlines()) == 1
    assert "not in the cache" in result.stderr and "Traceback" not in result.stderr


def test_inspect_offline_of_cached_shards(local_hub: LocalHub, tmp_path: Path) -> None:
    repo_id = f"{local_hub.username}/sharded"
    _push_shards(tmp_path, repo_id)
    hf.snapshot_download(repo_id)
    result = _offline_inspect(repo_id, "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert [f["name"] for f in report["files"]] == sorted(p.name for p in tmp_path.glob("model-*.safetensors"))
    assert report["parameters"] == 48 and report["framework"] == "torch"


def test_inspect_of_a_sharded_repository_prints_no_progress_bar(
    local_hub: LocalHub, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    repo_id = f"{local_hub.username}/sharded"
    _push_shards(tmp_path, repo_id)
    monkeypatch.delenv("HF_HUB_DISABLE_PROGRESS_BARS", raising=False)
    capsys.readouterr()
    assert main(["inspect", repo_id]) == 0
    captured = capsys.readouterr()
    assert "total: 48 parameters" in captured.out
    assert captured.err == ""  # no "Parse safetensors files: 100%|..." from huggingface_hub
    assert not are_progress_bars_disabled()  # the command leaves the client's setting as it was
