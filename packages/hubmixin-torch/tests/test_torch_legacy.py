"""Legacy ``pytorch_model.bin``: read only through ``torch.load(weights_only=True)``."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import pytest
import torch
from huggingface_hub import HfApi, hf_hub_download, snapshot_download
from huggingface_hub.errors import LocalEntryNotFoundError
from safetensors.torch import save_file
from torch import nn
from torch_models import Net, assert_same_tensors

from hubmixin_core.errors import WeightsFileError
from hubmixin_core.testing import Fault, LocalHub
from hubmixin_torch import PyTorchModelHubMixin


def _legacy(net: Net, directory: Path, *, zip_format: bool = True) -> Path:
    directory.mkdir(exist_ok=True)
    (directory / "config.json").write_text('{"dim": 8, "vocab": 11}')
    torch.save(net.state_dict(), directory / "pytorch_model.bin", _use_new_zipfile_serialization=zip_format)
    return directory


@pytest.mark.parametrize("zip_format", [True, False])
def test_a_legacy_checkpoint_loads(net: Net, tmp_path: Path, zip_format: bool) -> None:
    loaded = Net.from_pretrained(_legacy(net, tmp_path, zip_format=zip_format), strict=True)
    assert_same_tensors(net, loaded)
    assert loaded.head.weight is loaded.embed.weight
    assert not loaded.training


def test_a_legacy_checkpoint_loads_in_another_dtype(net: Net, tmp_path: Path) -> None:
    loaded = Net.from_pretrained(_legacy(net, tmp_path), dtype=torch.float16)
    assert loaded.embed.weight.dtype == torch.float16


def test_safetensors_win_over_a_legacy_checkpoint(net: Net, tmp_path: Path) -> None:
    _legacy(Net(), tmp_path)
    save_file(
        {k: v.clone() for k, v in net.state_dict().items() if k != "head.weight"},
        tmp_path / "model.safetensors",
        metadata={"format": "pt"},
    )
    assert_same_tensors(net, Net.from_pretrained(tmp_path))


class _Exploit:
    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (exec, ("open(__import__('os').environ['EXPLOIT_MARKER'], 'w').close()",))


def test_a_pickle_with_code_is_refused_without_running_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    marker = tmp_path / "pwned"
    monkeypatch.setenv("EXPLOIT_MARKER", str(marker))
    (tmp_path / "pytorch_model.bin").write_bytes(pickle.dumps({"embed.weight": _Exploit()}, protocol=2))
    with pytest.raises(WeightsFileError, match=r"pytorch_model\.bin: refusing to load"):
        Net.from_pretrained(tmp_path)
    assert not marker.exists()


def test_a_legacy_file_that_is_not_a_state_dict_is_refused(tmp_path: Path) -> None:
    torch.save([torch.zeros(2)], tmp_path / "pytorch_model.bin")
    with pytest.raises(WeightsFileError, match="expected a state dict, found a list"):
        Net.from_pretrained(tmp_path)
    torch.save({1: torch.zeros(2)}, tmp_path / "pytorch_model.bin")
    with pytest.raises(WeightsFileError, match="key 1 is a int, not a str"):
        Net.from_pretrained(tmp_path)
    torch.save({"fc.weight": 3}, tmp_path / "pytorch_model.bin")
    with pytest.raises(WeightsFileError, match=r"entry 'fc\.weight' is a int, not a tensor"):
        Net.from_pretrained(tmp_path)


@pytest.mark.parametrize("content", [b"garbage not a zip", b"", b"PK\x03\x04 truncated zip"])
def test_a_file_that_is_no_checkpoint_at_all_says_so(tmp_path: Path, content: bytes) -> None:
    (tmp_path / "pytorch_model.bin").write_bytes(content)
    with pytest.raises(WeightsFileError, match=r"pytorch_model\.bin: (not a PyTorch checkpoint|cannot read)") as caught:
        Net.from_pretrained(tmp_path)
    assert "holds more than tensors" not in str(caught.value)


def test_a_legacy_snapshot_fetched_ahead_loads_offline(net: Net, tmp_path: Path, local_hub: LocalHub) -> None:
    repo_id = f"{local_hub.username}/legacy-snapshot"
    api = HfApi()
    api.create_repo(repo_id)
    api.upload_folder(repo_id=repo_id, folder_path=_legacy(net, tmp_path / "legacy"))
    snapshot_download(repo_id, cache_dir=tmp_path / "cache")  # records no model.safetensors as absent

    loaded = Net.from_pretrained(repo_id, cache_dir=tmp_path / "cache", local_files_only=True, strict=True)

    assert_same_tensors(net, loaded)


def test_a_missing_shard_offline_is_named_not_replaced_by_a_legacy_file(
    net: Net, tmp_path: Path, local_hub: LocalHub
) -> None:
    repo_id = f"{local_hub.username}/shards-and-legacy"
    folder = _legacy(net, tmp_path / "both")
    net.save_pretrained(folder, max_shard_size=200)
    api = HfApi()
    api.create_repo(repo_id)
    api.upload_folder(repo_id=repo_id, folder_path=folder)
    shards = sorted(p.name for p in folder.glob("model-*-of-*.safetensors"))
    assert len(shards) > 1
    skipped = shards[-1]
    allowed = [p.name for p in folder.iterdir() if p.name != skipped]
    snapshot_download(repo_id, cache_dir=tmp_path / "cache", allow_patterns=allowed)

    with pytest.raises(LocalEntryNotFoundError, match=skipped):
        Net.from_pretrained(repo_id, cache_dir=tmp_path / "cache", local_files_only=True)


def test_a_legacy_repository_loads_with_no_request_beyond_its_files(
    net: Net, tmp_path: Path, local_hub: LocalHub
) -> None:
    """The hint naming a legacy checkpoint (for frameworks that cannot read it) is never asked for here."""
    repo_id = f"{local_hub.username}/legacy-requests"
    api = HfApi()
    api.create_repo(repo_id)
    api.upload_folder(repo_id=repo_id, folder_path=_legacy(net, tmp_path / "legacy"))
    asked = local_hub.inject_fault(Fault(path="pytorch_model.bin", method="HEAD", delay=0.001, times=None))
    assert_same_tensors(net, Net.from_pretrained(repo_id, cache_dir=tmp_path / "load"))
    during_load = asked.hits
    hf_hub_download(repo_id, "pytorch_model.bin", cache_dir=tmp_path / "download")  # the file's own requests
    assert during_load == asked.hits - during_load


class Kernels(nn.Module, PyTorchModelHubMixin):
    """A convolution, a linear layer, and a channels_last convolution as ``__init__`` lays it out."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3)
        self.fc = nn.Linear(8, 6)
        self.last = nn.Conv2d(8, 4, 3).to(memory_format=torch.channels_last)  # type: ignore[call-overload]


def _strided_views(model: Kernels) -> dict[str, torch.Tensor]:
    """``model``'s state dict as conversion scripts write it: kernels transposed from another framework's layout,
    a zero bias expanded from one element, a channels_last kernel made contiguous."""
    state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    state["fc.weight"] = model.fc.weight.detach().t().contiguous().t()  # from an (in, out) kernel
    state["conv.weight"] = model.conv.weight.detach().permute(2, 3, 1, 0).contiguous().permute(3, 2, 0, 1)  # HWIO
    state["fc.bias"] = torch.zeros(1).expand(6)  # stride 0
    state["last.weight"] = model.last.weight.detach().contiguous()
    return state


def test_a_legacy_checkpoint_of_strided_views_loads_in_the_layout_init_gives(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = Kernels()
    torch.save(_strided_views(model), tmp_path / "pytorch_model.bin")
    (tmp_path / "config.json").write_text("{}")
    layout = {name: p.stride() for name, p in Kernels().named_parameters()}
    for loaded in (
        Kernels.from_pretrained(tmp_path),
        Kernels._load_as_pickle(Kernels(), str(tmp_path / "pytorch_model.bin"), "cpu", True),
    ):
        assert {name: p.stride() for name, p in loaded.named_parameters()} == layout
        assert torch.equal(loaded.fc.weight, model.fc.weight) and torch.equal(loaded.conv.weight, model.conv.weight)
        assert loaded.fc.bias.tolist() == [0.0] * 6
        flat = torch.nn.utils.parameters_to_vector([*loaded.conv.parameters(), *loaded.fc.parameters()])
        assert flat.numel() == 278  # each .view(-1) works
        loaded.train()
        optimizer = torch.optim.SGD(loaded.parameters(), lr=0.1)
        loaded.fc(loaded.conv(torch.randn(1, 3, 5, 5)).mean((2, 3))).sum().backward()
        optimizer.step()  # an expanded bias would refuse: its elements share one memory location
        assert loaded.fc.bias.tolist() != [0.0] * 6


class Pair(nn.Module, PyTorchModelHubMixin):
    """Two parameters, apart, or ``b`` viewing the end of ``a``."""

    def __init__(self, view: bool = False) -> None:
        super().__init__()
        self.a = nn.Parameter(torch.zeros(40))
        self.b = nn.Parameter(self.a.data[16:] if view else torch.zeros(24))


@pytest.mark.parametrize("view", [False, True])
def test_legacy_entries_overlapping_in_one_storage_load_apart_unless_the_model_overlaps_them(
    view: bool, tmp_path: Path
) -> None:
    whole = torch.arange(40.0)
    torch.save({"a": whole, "b": whole[16:]}, tmp_path / "pytorch_model.bin")  # b: a's last 24 (64-byte aligned)
    (tmp_path / "config.json").write_text(json.dumps({"view": view}))
    loaded = Pair.from_pretrained(tmp_path, strict=True)
    assert loaded.a.tolist() == whole.tolist() and loaded.b.tolist() == whole[16:].tolist()
    with torch.no_grad():
        loaded.a.add_(100.0)  # an optimizer step on a
    assert loaded.b[0].item() == (116.0 if view else 16.0)  # b follows a only where the model made it a view of a
