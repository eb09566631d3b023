"""Interchange with huggingface_hub's PyTorchModelHubMixin: each reads the other's checkpoints."""

from __future__ import annotations

import io
from pathlib import Path

import huggingface_hub
import pytest
import torch
from safetensors import safe_open
from torch_models import Net, RefNet, assert_same_tensors, trained_net

from hubmixin_torch import PyTorchModelHubMixin


def _contents(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    with safe_open(str(path), framework="pt") as f:
        names: list[str] = f.keys()
        return {k: f.get_tensor(k) for k in names}, f.metadata() or {}


def test_reference_checkpoint_loads_strictly(tmp_path: Path) -> None:
    reference = trained_net(RefNet)
    reference.save_pretrained(tmp_path)
    loaded = Net.from_pretrained(tmp_path, strict=True)
    assert_same_tensors(reference, loaded)
    assert loaded.head.weight is loaded.embed.weight


def test_our_checkpoint_loads_strictly_in_the_reference(
    net: Net, saved: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    loaded = RefNet.from_pretrained(saved, strict=True, map_location="cpu")
    capsys.readouterr()  # the reference prints where it loads from
    assert_same_tensors(net, loaded)
    assert loaded.head.weight is loaded.embed.weight
    assert not loaded.training


def test_files_match_the_reference(tmp_path: Path) -> None:
    ours, ref = tmp_path / "ours", tmp_path / "ref"
    trained_net(Net).save_pretrained(ours)
    trained_net(RefNet).save_pretrained(ref)
    assert sorted(p.name for p in ours.iterdir()) == sorted(p.name for p in ref.iterdir())
    assert (ours / "config.json").read_text() == (ref / "config.json").read_text()
    our_tensors, our_meta = _contents(ours / "model.safetensors")
    ref_tensors, ref_meta = _contents(ref / "model.safetensors")
    assert our_tensors.keys() == ref_tensors.keys()
    assert all(torch.equal(our_tensors[k], ref_tensors[k]) for k in our_tensors)
    # plus the format transformers requires, our layout version, the framework that wrote it, the layers' settings
    our_keys = {"format": "pt", "hubmixin.layout": "1", "hubmixin.framework": "torch"}
    settings = (
        '{"embed":{"max_norm":null},"lstm":{"activation":"tanh","recurrent_activation":"sigmoid"},"norm":{"eps":1e-05}}'
    )
    assert our_meta == {**ref_meta, **our_keys, "hubmixin.settings": settings}


class Scriptable(torch.nn.Module, PyTorchModelHubMixin):
    def __init__(self, width: int = 6) -> None:
        super().__init__()
        self.norm = torch.nn.BatchNorm1d(width)
        self.fc = torch.nn.Linear(width, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.fc(self.norm(x))
        return out


@pytest.mark.filterwarnings("ignore:`torch.jit.*deprecated:DeprecationWarning")  # deprecated, still used
def test_a_loaded_model_scripts_as_the_references_does(tmp_path: Path) -> None:
    """TorchScript compiles every property of a module: the mixin's configuration must stay out of it."""
    Scriptable(width=5).save_pretrained(tmp_path)
    loaded = Scriptable.from_pretrained(tmp_path)
    buffer = io.BytesIO()
    torch.jit.save(torch.jit.script(loaded), buffer)
    buffer.seek(0)
    x = torch.randn(4, 5)
    assert torch.equal(torch.jit.load(buffer)(x), loaded(x))  # type: ignore[no-untyped-call]
    assert loaded._hub_mixin_config == {"width": 5}  # still there for Python


class _ViewsLayers(torch.nn.Module):
    flat: torch.Tensor

    def __init__(self) -> None:
        super().__init__()
        self.fc = torch.nn.Linear(3, 2)
        self.register_buffer("flat", self.fc.weight.data.view(-1))  # built for real: the view is kept
        self.a = torch.nn.Parameter(torch.randn(4))
        self.b = torch.nn.Parameter(self.a.data[1:3])


class _Views(_ViewsLayers, PyTorchModelHubMixin):
    pass


class _RefViews(_ViewsLayers, huggingface_hub.PyTorchModelHubMixin):
    pass


@pytest.mark.parametrize("strict", [False, True])
def test_views_in_the_references_file_load_as_views(
    strict: bool, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """safetensors' save_model stores a view's covering tensor once and records the view's name under it."""
    reference = _RefViews()
    reference.save_pretrained(tmp_path)
    capsys.readouterr()
    assert set(_contents(tmp_path / "model.safetensors")[0]) == {"fc.weight", "fc.bias", "a"}
    loaded = _Views.from_pretrained(tmp_path, strict=strict)
    for name, tensor in reference.state_dict().items():
        assert torch.equal(loaded.state_dict()[name], tensor), name
    assert loaded.flat.data_ptr() == loaded.fc.weight.data_ptr()
    assert loaded.b.data_ptr() == loaded.a.data_ptr() + loaded.a.element_size()
    assert isinstance(loaded.b, torch.nn.Parameter) and loaded.b.requires_grad


_REFERENCE_READS_LOCAL_PICKLES = tuple(map(int, huggingface_hub.__version__.split(".")[:2])) >= (2, 5)


@pytest.mark.skipif(not _REFERENCE_READS_LOCAL_PICKLES, reason="huggingface_hub reads a local .bin from 2.5 on")
def test_a_local_legacy_pickle_loads_as_in_the_reference(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A folder saved before safetensors (only pytorch_model.bin): both mixins load the same weights from it."""
    saved = trained_net(Net)
    saved.save_pretrained(tmp_path)
    (tmp_path / "model.safetensors").unlink()
    torch.save(saved.state_dict(), tmp_path / "pytorch_model.bin")
    ours = Net.from_pretrained(tmp_path, strict=True)
    reference = RefNet.from_pretrained(tmp_path, strict=True)
    capsys.readouterr()
    assert_same_tensors(saved, ours)
    assert_same_tensors(reference, ours)


def test_shards_win_over_a_local_legacy_pickle(tmp_path: Path) -> None:
    """Where a folder holds safetensors shards and a pytorch_model.bin, the shards load (huggingface_hub 2.5 reads
    the pickle: it knows no shards); the pickle here holds other values, so the test tells which was read."""
    saved = trained_net(Net)
    saved.save_pretrained(tmp_path, max_shard_size="1KB")
    assert not (tmp_path / "model.safetensors").exists()
    other = trained_net(Net)
    with torch.no_grad():
        for parameter in other.parameters():
            parameter.add_(1.0)
    torch.save(other.state_dict(), tmp_path / "pytorch_model.bin")
    assert_same_tensors(saved, Net.from_pretrained(tmp_path, strict=True))
