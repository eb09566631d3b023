"""Reliability against the local Hub: injected faults, corrupt or hostile repositories."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from huggingface_hub import HfApi
from huggingface_hub.errors import HfHubHTTPError
from tinylib import TinyClassifier

from hubmixin_core.errors import InvalidRepoPathError, WeightsFileError
from hubmixin_core.testing import Fault, LocalHub


def _push(hub: LocalHub, name: str = "clf") -> tuple[str, TinyClassifier]:
    torch.manual_seed(0)
    model = TinyClassifier(features=4, classes=2)
    repo_id = f"{hub.username}/{name}"
    model.push_to_hub(repo_id, max_shard_size="200B")
    return repo_id, model


def _cache_files(cache: Path) -> list[str]:
    return sorted(p.name for p in cache.rglob("*") if p.is_file() and "blobs" in p.parts)


def test_transient_server_error_is_retried(local_hub: LocalHub) -> None:
    repo_id, model = _push(local_hub)
    fault = local_hub.inject_fault(Fault(route="resolve", method="HEAD", status=503, path=r"model-00002", times=1))
    loaded = TinyClassifier.from_pretrained(repo_id)
    assert fault.hits == 1
    torch.testing.assert_close(loaded.state_dict(), model.state_dict(), rtol=0, atol=0)


@pytest.mark.local_hub(xet=False)  # a fault of the plain download path (/resolve/ GET)
def test_permanent_download_error_is_clear_and_leaves_no_partial_file(local_hub: LocalHub, tmp_path: Path) -> None:
    repo_id, _ = _push(local_hub)
    local_hub.inject_fault(Fault(route="resolve", method="GET", status=500, path=r"model-00002", times=None))
    with pytest.raises(HfHubHTTPError, match="500"):
        TinyClassifier.from_pretrained(repo_id, cache_dir=tmp_path, max_workers=1)
    assert not any(name.endswith(".incomplete") for name in _cache_files(tmp_path))
    local_hub.clear_faults()
    TinyClassifier.from_pretrained(repo_id, cache_dir=tmp_path)  # the cache is usable afterwards


def test_truncated_weights_file_names_the_file(local_hub: LocalHub, tmp_path: Path) -> None:
    torch.manual_seed(0)
    TinyClassifier(features=4, classes=2).save_pretrained(tmp_path / "m")
    weights = tmp_path / "m" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-64])
    repo_id = f"{local_hub.username}/broken"
    HfApi().create_repo(repo_id)
    HfApi().upload_folder(repo_id=repo_id, folder_path=tmp_path / "m")
    with pytest.raises(WeightsFileError, match=r"model\.safetensors"):
        TinyClassifier.from_pretrained(repo_id)


def test_index_pointing_outside_the_repo_is_refused(local_hub: LocalHub) -> None:
    repo_id = f"{local_hub.username}/hostile"
    HfApi().create_repo(repo_id)
    index = {"metadata": {}, "weight_map": {"body.weight": "../../../../etc/passwd"}}
    HfApi().upload_file(
        path_or_fileobj=json.dumps(index).encode(), path_in_repo="model.safetensors.index.json", repo_id=repo_id
    )
    HfApi().upload_file(path_or_fileobj=b'{"features": 4, "classes": 2}', path_in_repo="config.json", repo_id=repo_id)
    with pytest.raises(InvalidRepoPathError, match="etc/passwd"):
        TinyClassifier.from_pretrained(repo_id)
