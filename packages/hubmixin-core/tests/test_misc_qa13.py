"""A legacy ``pytorch_model.bin`` named for a Hub repository as for a folder, and what reading one needs where
hubmixin-torch is not installed; LocalHub's repository names as the Hub client takes them."""

from __future__ import annotations

import http.client
import json
from importlib import metadata
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import huggingface_hub as hf
import numpy as np
import pytest
from huggingface_hub.utils._validators import validate_repo_id
from safetensors.numpy import save_file

from hubmixin_core import DownloadOptions
from hubmixin_core._convert import ConvertError, convert_checkpoint
from hubmixin_core._inspect import inspect_checkpoint
from hubmixin_core.cli import main
from hubmixin_core.errors import WeightsNotFoundError
from hubmixin_core.testing import LocalHub
from hubmixin_core.weights import open_checkpoint

_NEEDS_TORCH = "reading it needs hubmixin-torch, which is not installed: pip install hubmixin-torch"


def _legacy(folder: Path, name: str = "pytorch_model.bin") -> Path:
    """A folder as huggingface_hub's PyTorch mixin saved before safetensors (the bytes are never read)."""
    folder.mkdir()
    (folder / name).write_bytes(b"PK\x03\x04 not read")
    (folder / "config.json").write_text("{}")
    return folder


def _pushed(hub: LocalHub, folder: Path, name: str) -> str:
    repo = f"{hub.username}/{name}"
    hf.create_repo(repo)
    hf.upload_folder(repo_id=repo, folder_path=folder)
    return repo


@pytest.fixture
def no_torch_reader(monkeypatch: pytest.MonkeyPatch) -> None:
    """hubmixin-torch not installed: its ``hubmixin.converters`` entry point absent (as in a flax-only install)."""
    real = metadata.entry_points

    def entry_points(**params: Any) -> Any:
        if params != {"group": "hubmixin.converters"}:
            return real(**params)
        return [ep for ep in real(group="hubmixin.converters") if ep.name != "torch"]

    monkeypatch.setattr(metadata, "entry_points", entry_points)


# A Hub repository holding a legacy PyTorch checkpoint


@pytest.mark.parametrize("name", ["pytorch_model.bin", "pytorch_model.bin.index.json"])
def test_a_hub_repository_holding_a_legacy_checkpoint_is_named_with_the_convert(
    local_hub: LocalHub, tmp_path: Path, name: str
) -> None:
    repo = _pushed(local_hub, _legacy(tmp_path / "legacy", name), "legacy")
    with pytest.raises(WeightsNotFoundError) as info:
        open_checkpoint(repo)  # what Flax's and Keras' from_pretrained open
    assert str(info.value) == (
        f"{repo}: found neither model.safetensors nor model.safetensors.index.json: a PyTorch checkpoint ({name}): "
        f"download it (`hf download {repo} --local-dir DIR`), then convert it with "
        "`hubmixin convert DIR DST --to torch|flax|keras`"
    )
    with pytest.raises(WeightsNotFoundError, match=r"--revision main --local-dir DIR"):
        open_checkpoint(repo, DownloadOptions(revision="main"))


def test_inspect_of_a_hub_repository_without_safetensors_names_the_legacy_checkpoint(
    local_hub: LocalHub, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = _pushed(local_hub, _legacy(tmp_path / "legacy"), "legacy")
    assert main(["inspect", repo]) == 1
    error = capsys.readouterr().err.strip()
    assert error.startswith(f"hubmixin: error: {repo}: found neither model.safetensors nor")
    assert "NotASafetensorsRepoError" not in error
    assert f"(pytorch_model.bin): download it (`hf download {repo} --local-dir DIR`)" in error
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "README.md").write_text("no weights")
    plain = _pushed(local_hub, tmp_path / "empty", "empty")
    with pytest.raises(WeightsNotFoundError) as info:
        inspect_checkpoint(plain)
    assert str(info.value) == f"{plain}: found neither model.safetensors nor model.safetensors.index.json"


def test_local_files_only_asks_the_hub_nothing_for_the_hint(local_hub: LocalHub, tmp_path: Path) -> None:
    repo = _pushed(local_hub, _legacy(tmp_path / "legacy"), "legacy")
    with pytest.raises(WeightsNotFoundError, match="hubmixin convert"):
        open_checkpoint(repo)  # online: the cache records model.safetensors and its index as absent
    with pytest.raises(WeightsNotFoundError) as info:
        open_checkpoint(repo, DownloadOptions(local_files_only=True))
    assert str(info.value) == f"{repo}: found neither model.safetensors nor model.safetensors.index.json"


# Without hubmixin-torch


def test_the_folder_hint_says_reading_the_checkpoint_needs_hubmixin_torch(
    tmp_path: Path, no_torch_reader: None
) -> None:
    folder = _legacy(tmp_path / "legacy")
    with pytest.raises(WeightsNotFoundError) as info:
        open_checkpoint(folder)
    assert str(info.value).endswith(f"--to torch|flax|keras` ({_NEEDS_TORCH})")


def test_convert_says_reading_the_checkpoint_needs_hubmixin_torch(tmp_path: Path, no_torch_reader: None) -> None:
    folder = _legacy(tmp_path / "legacy")
    with pytest.raises(ConvertError) as info:
        convert_checkpoint(folder, tmp_path / "out", to="flax")
    assert str(info.value) == f"{folder}: a folder holding pytorch_model.bin: {_NEEDS_TORCH}"
    with pytest.raises(ConvertError) as info:
        convert_checkpoint(folder / "pytorch_model.bin", tmp_path / "out", to="flax")
    assert str(info.value) == f"{folder / 'pytorch_model.bin'}: a PyTorch checkpoint: {_NEEDS_TORCH}"
    assert not (tmp_path / "out").exists()


def test_with_hubmixin_torch_the_hint_needs_nothing_more(tmp_path: Path) -> None:
    with pytest.raises(WeightsNotFoundError) as info:
        open_checkpoint(_legacy(tmp_path / "legacy"))
    assert str(info.value).endswith("--to torch|flax|keras`")
    save_file({"w": np.zeros(2, np.float32)}, str(tmp_path / "x.safetensors"))
    (tmp_path / "other").mkdir()
    with pytest.raises(ConvertError, match="a folder holding no checkpoint hubmixin converts"):
        convert_checkpoint(tmp_path / "other", tmp_path / "out", to="flax")


# LocalHub repository names


@pytest.mark.parametrize("name", ["model_", "_model", "_", "my_model_", "a.b-c_d"])
def test_local_hub_accepts_the_names_the_client_accepts(local_hub: LocalHub, name: str) -> None:
    repo = f"{local_hub.username}/{name}"
    validate_repo_id(repo)
    hf.create_repo(repo)
    assert hf.model_info(repo).id == repo


@pytest.mark.parametrize("name", ["model-", ".model", "a--b", "a..b", "m.git", "x" * 97])
def test_local_hub_refuses_other_names_naming_the_rule(local_hub: LocalHub, name: str) -> None:
    with pytest.raises(hf.errors.HFValidationError):
        validate_repo_id(f"{local_hub.username}/{name}")  # the client refuses them too
    url = urlsplit(local_hub.endpoint)
    connection = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port, timeout=30)
    try:
        headers = {"Authorization": f"Bearer {local_hub.token}", "Content-Type": "application/json"}
        connection.request("POST", "/api/repos/create", json.dumps({"name": name}).encode(), headers)
        response = connection.getresponse()
        status, body = response.status, json.loads(response.read())
    finally:
        connection.close()
    assert status == 400
    assert body["error"] == (
        f"Invalid repository name {name!r}: up to 96 letters, digits, '-', '_' and '.', neither starting nor ending "
        "with '-' or '.', without '--' or '..', not ending in '.git'"
    )
