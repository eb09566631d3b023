"""Legacy ``pytorch_model.bin``: read only through ``torch.load(weights_only=True)``."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
import torch
from huggingface_hub import HfApi, hf_hub_download, snapshot_download
from huggingface_hub.errors import LocalEntryNotFoundError
from safetensors.torch import save_file
from torch_models import Net, assert_same_tensors

from hubmixin_core.errors import WeightsFileError
from hubmixin_core.testing import Fault, LocalHub


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
