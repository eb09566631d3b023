"""`hubmixin inspect`: files, tensors, dtypes, shapes, layout version, writer and sizes, from headers only."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from core_models import MLP
from safetensors.numpy import save_file

from hubmixin_core._inspect import inspect_checkpoint
from hubmixin_core.cli import main
from hubmixin_core.testing import LocalHub
from hubmixin_core.weights import SETTINGS_KEY, canonical_metadata, save_safetensors


def _canonical(folder: Path, *, max_shard_size: int | None = None) -> dict[str, np.ndarray]:
    tensors: dict[str, np.ndarray] = {
        "fc.weight": np.ones((3, 4), np.float32),
        "fc.bias": np.zeros(3, np.float16),
        "step": np.arange(2),
    }
    save_safetensors(
        tensors,
        folder,
        save_file=save_file,
        nbytes=lambda t: t.nbytes,
        max_shard_size=max_shard_size,
        metadata=canonical_metadata("torch"),
    )
    return tensors


def test_inspect_a_save_directory_prints_every_tensor(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _canonical(tmp_path)
    assert main(["inspect", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "format: pt  layout: 1  framework: torch" in out
    assert "fc.weight" in out and "F32" in out and "[3, 4]" in out and "F16" in out and "I64" in out
    assert "total: 17 parameters" in out


def test_inspect_prints_the_recorded_layer_settings(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    settings = {"act": {"gelu": "tanh"}, "norm": {"eps": 1e-05, "norm": "layer"}, "evil\x1b[2J": {"heads": 2}}
    metadata = {**canonical_metadata("torch"), SETTINGS_KEY: json.dumps(settings)}
    save_file({"fc.weight": np.ones((3, 4), np.float32)}, str(tmp_path / "model.safetensors"), metadata=metadata)
    assert main(["inspect", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert 'settings (3 layers):\n  act: gelu="tanh"\n' in out and '  norm: eps=1e-05, norm="layer"\n' in out
    assert "\x1b" not in out  # (an untrusted header's escape sequence is escaped)
    _canonical(tmp_path)  # (no settings recorded: no section)
    assert main(["inspect", str(tmp_path)]) == 0
    assert "settings" not in capsys.readouterr().out


def test_inspect_json_of_a_sharded_checkpoint(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tensors = _canonical(tmp_path, max_shard_size=40)
    assert main(["inspect", str(tmp_path), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert len(report["files"]) > 1 and all(f["name"].startswith("model-0000") for f in report["files"])
    found = {name: info for f in report["files"] for name, info in f["tensors"].items()}
    assert found == {
        k: {"dtype": {"float32": "F32", "float16": "F16"}.get(str(v.dtype), "I64"), "shape": list(v.shape)}
        for k, v in tensors.items()
    }
    assert report["tensor_bytes"] == sum(v.nbytes for v in tensors.values())
    assert report["total_size"] == sum(p.stat().st_size for p in tmp_path.glob("model-*.safetensors"))
    assert (report["layout_version"], report["framework"], report["format"]) == ("1", "torch", "pt")


def test_inspect_a_single_file_written_elsewhere(tmp_path: Path) -> None:
    file = tmp_path / "weights.safetensors"
    save_file({"w": np.zeros((2, 5), np.float32)}, str(file))
    summary = inspect_checkpoint(file)
    assert [f.name for f in summary.files] == ["weights.safetensors"]
    assert (summary.parameters, summary.layout_version, summary.framework) == (10, None, None)


def test_inspect_a_hub_repository_reads_headers_only(local_hub: LocalHub, capsys: pytest.CaptureFixture[str]) -> None:
    repo_id = f"{local_hub.username}/mlp"
    model = MLP()
    model.push_to_hub(repo_id)
    assert main(["inspect", repo_id, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    tensors = report["files"][0]["tensors"]
    assert {k: v["shape"] for k, v in tensors.items()} == {k: list(v.shape) for k, v in model.weights.items()}
    assert report["files"][0]["size"] > report["tensor_bytes"] > 0
    assert main(["inspect", f"{local_hub.username}/nope"]) == 1
    assert "RepositoryNotFoundError" in capsys.readouterr().err  # not "is not a safetensors repo"
    assert main(["inspect", repo_id, "--revision", "nope"]) == 1
    assert "RevisionNotFoundError" in capsys.readouterr().err


def test_inspect_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "model.safetensors"
    bad.write_bytes(b"\xff" * 16)
    assert main(["inspect", str(bad)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("hubmixin: error:") and "model.safetensors" in err and len(err.splitlines()) == 1
    capsys.readouterr()
    assert main(["inspect", str(tmp_path / "missing-dir" / "x"), "--json"]) == 1
    assert "missing-dir/x: does not exist; give a .safetensors file" in capsys.readouterr().err  # not a repo id


def test_inspect_refuses_an_index_its_shards_disagree_with(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _canonical(tmp_path, max_shard_size=40)
    index = json.loads((tmp_path / "model.safetensors.index.json").read_text())
    index["weight_map"]["gone"] = index["weight_map"].pop("step")
    (tmp_path / "model.safetensors.index.json").write_text(json.dumps(index))
    assert main(["inspect", str(tmp_path)]) == 1
    assert "index and shards disagree" in capsys.readouterr().err


def test_inspect_of_a_name_neither_local_nor_on_the_hub_says_both(
    local_hub: LocalHub, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["inspect", "my-model.safetensors"]) == 1
    err = capsys.readouterr().err
    assert "neither a local file or directory" in err and "nor a repository on the Hub" in err


def test_inspect_into_a_pipe_its_reader_left_stops_quietly(tmp_path: Path) -> None:
    # `hubmixin inspect repo | head`: the reader closes the pipe before the listing is written.
    save_file({f"layer.{i}.weight": np.zeros(1, np.float32) for i in range(4000)}, str(tmp_path / "model.safetensors"))
    script = shutil.which("hubmixin", path=str(Path(sys.executable).parent))
    assert script is not None
    with subprocess.Popen(
        [script, "inspect", str(tmp_path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    ) as process:
        assert process.stdout is not None and process.stderr is not None
        process.stdout.close()
        errors = process.stderr.read().decode()
        assert process.wait(timeout=60) == 141
    assert "Traceback" not in errors and "BrokenPipeError" not in errors
