"""`hubmixin convert` of ``torch.save(model.state_dict())`` files: canonical safetensors, tied weights, shards."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file
from torch import nn

from hubmixin_core.cli import main
from hubmixin_core.weights import read_header, resolve_weight_files
from hubmixin_torch import PyTorchModelHubMixin


class Tied(nn.Module, PyTorchModelHubMixin):
    def __init__(self, vocab: int = 11, dim: int = 6) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, dim)
        self.out = nn.Linear(dim, vocab, bias=False)
        self.out.weight = self.embed.weight

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.out(self.embed(ids))
        return out


def _untied(model: Tied) -> dict[str, torch.Tensor]:
    """``model``'s state dict with the head on memory of its own: two tensors to shard (a tie is written once)."""
    return {**model.state_dict(), "out.weight": model.out.weight.detach().clone()}


def test_a_state_dict_file_with_tied_weights_converts(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = Tied().eval()
    torch.save(model.state_dict(), tmp_path / "tied.pth")
    out = tmp_path / "out"
    assert main(["convert", str(tmp_path / "tied.pth"), str(out), "--to", "torch", "--quiet"]) == 0
    loaded = Tied.from_pretrained(out)
    ids = torch.tensor([[1, 5, 10]])
    torch.testing.assert_close(loaded(ids), model(ids), rtol=0, atol=0)


def test_sharded_output_and_safetensors_input(tmp_path: Path) -> None:
    pytest.importorskip("hubmixin_flax", reason="converts to Flax and Keras")
    pytest.importorskip("hubmixin_keras", reason="converts to Flax and Keras")
    model = Tied(vocab=64, dim=16).eval()
    torch.save(_untied(model), tmp_path / "big.bin")
    out = tmp_path / "out"
    args = ["convert", str(tmp_path / "big.bin"), str(out), "--to", "flax", "--max-shard-size", "3KB", "--quiet"]
    assert main(args) == 0
    files = resolve_weight_files(out)
    assert files.sharded and len(files.files) > 1
    model.save_pretrained(tmp_path / "saved")
    again = tmp_path / "again"
    assert main(["convert", str(tmp_path / "saved" / "model.safetensors"), str(again), "--to", "keras"]) == 0
    assert read_header(again / "model.safetensors").tensors.keys() >= {"embed.weight"}


def test_a_safetensors_file_is_rewritten_aligned_sharded_and_described(tmp_path: Path) -> None:
    tensors = {f"layers.{i}.weight": torch.randn(16, 16) for i in range(3)} | {"scale": torch.ones(3)}
    save_file(tensors, tmp_path / "raw.safetensors")  # safetensors' own writer: no hubmixin metadata
    out = tmp_path / "out"
    args = ["convert", str(tmp_path / "raw.safetensors"), str(out), "--to", "torch", "--max-shard-size", "1KB"]
    assert main([*args, "--quiet"]) == 0
    files = resolve_weight_files(out)
    assert files.sharded and len(files.files) == 4  # 1 KiB each: 16 x 16 floats, then the scale
    read = {}
    for file in files.files:
        header = read_header(file)
        assert header.metadata["hubmixin.layout"] == "1" and header.metadata["hubmixin.framework"] == "torch"
        assert header.data_start % 64 == 0
        read.update(load_file(file))
    assert read.keys() == tensors.keys() and all(torch.equal(read[k], v) for k, v in tensors.items())


def test_bad_requests_are_one_line_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "notes.txt").write_text("hello")
    assert main(["convert", str(tmp_path / "notes.txt"), str(tmp_path / "out"), "--to", "torch"]) == 1
    assert "not a format hubmixin converts" in capsys.readouterr().err
    (tmp_path / "broken.pt").write_bytes(b"PK\x03\x04 not really a zip")
    assert main(["convert", str(tmp_path / "broken.pt"), str(tmp_path / "out"), "--to", "torch"]) == 1
    err = capsys.readouterr().err
    assert "broken.pt" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "out").exists()
    with pytest.raises(SystemExit):
        main(["convert", str(tmp_path / "broken.pt"), str(tmp_path / "out"), "--to", "jax"])


def test_a_torch_file_loads_no_other_framework(tmp_path: Path) -> None:
    torch.save(Tied().state_dict(), tmp_path / "sd.pt")
    argv = ["convert", str(tmp_path / "sd.pt"), str(tmp_path / "out"), "--to", "torch", "--quiet"]
    script = (
        "import sys\n"
        "from hubmixin_core.cli import main\n"
        f"assert main({argv!r}) == 0\n"
        "print(sorted(m for m in ('jax', 'flax', 'keras', 'tensorflow') if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]", done.stderr
    assert (tmp_path / "out" / "model.safetensors").is_file()


def test_converting_into_an_earlier_save_replaces_its_weights(tmp_path: Path) -> None:
    out = tmp_path / "out"
    Tied().save_pretrained(out)  # a single model.safetensors
    torch.manual_seed(1)
    model = Tied(vocab=64, dim=16).eval()
    torch.save(_untied(model), tmp_path / "new.pth")
    args = ["convert", str(tmp_path / "new.pth"), str(out), "--to", "torch", "--max-shard-size", "3KB", "--quiet"]
    assert main(args) == 0
    assert not (out / "model.safetensors").exists()  # it would be read instead of the new shards
    loaded = Tied.from_pretrained(out, model_kwargs={"vocab": 64, "dim": 16})
    torch.testing.assert_close(loaded.embed.weight, model.embed.weight, rtol=0, atol=0)


def test_sharded_state_dict_files_convert_by_their_index(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "repo").mkdir()
    shards = {"pytorch_model-00001-of-00002.bin": {"a.weight": torch.ones(2, 2)}}
    shards["pytorch_model-00002-of-00002.bin"] = {"b.weight": torch.full((2, 2), 2.0)}
    for name, state in shards.items():
        torch.save(state, tmp_path / "repo" / name)
    weight_map = {key: name for name, state in shards.items() for key in state}
    (tmp_path / "repo" / "pytorch_model.bin.index.json").write_text(json.dumps({"weight_map": weight_map}))
    for source in (tmp_path / "repo", tmp_path / "repo" / "pytorch_model.bin.index.json"):
        out = tmp_path / f"out-{source.name}"
        assert main(["convert", str(source), str(out), "--to", "torch", "--quiet"]) == 0
        read = load_file(out / "model.safetensors")
        assert torch.equal(read["a.weight"], torch.ones(2, 2)) and torch.equal(
            read["b.weight"], torch.full((2, 2), 2.0)
        )
    lone = tmp_path / "repo" / "pytorch_model-00001-of-00002.bin"
    assert main(["convert", str(lone), str(tmp_path / "partial"), "--to", "torch"]) == 1
    assert "one shard of 2" in capsys.readouterr().err and not (tmp_path / "partial").exists()


@pytest.mark.parametrize("shard", [".git/config", "x" * 300 + ".bin", "../outside.bin"])
def test_a_state_dict_index_naming_no_loadable_shard_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], shard: str
) -> None:
    (tmp_path / "repo").mkdir()
    (tmp_path / "repo" / "pytorch_model.bin.index.json").write_text(json.dumps({"weight_map": {"a.weight": shard}}))
    assert main(["convert", str(tmp_path / "repo"), str(tmp_path / "out"), "--to", "torch"]) == 1
    error = capsys.readouterr().err
    assert "pytorch_model.bin.index.json" in error and repr(shard)[:40] in error, error
    assert "Traceback" not in error and not (tmp_path / "out").exists()
