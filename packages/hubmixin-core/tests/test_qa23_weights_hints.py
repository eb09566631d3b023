"""What to do with weights in another form than a model directory's (round 23, first use #1, #2, #7, #8): a file
given for a model directory is named for what it is (the folder only for a model directory's own files); a folder
or a Hub repository holding safetensors under another name or a framework's own checkpoint is answered with the
renaming or ``hubmixin convert``; a near-miss repo id (``user/model/``, ``user/model@main``) names the id meant."""

from __future__ import annotations

import json
import zipfile
from importlib import metadata
from pathlib import Path

import huggingface_hub as hf
import numpy as np
import pytest
from core_models import MLP
from safetensors.numpy import save_file

from hubmixin_core import DownloadOptions
from hubmixin_core.errors import WeightsNotFoundError
from hubmixin_core.testing import LocalHub
from hubmixin_core.weights import open_checkpoint

_TENSORS = {"w": np.zeros((2, 2), np.float32)}


def _file_message(path: Path) -> str:
    with pytest.raises(WeightsNotFoundError) as info:
        MLP.from_pretrained(path)
    message = str(info.value)
    assert message.startswith(f"{path}: is a file, not a directory; from_pretrained takes a model directory")
    return message


# 1. a file given to from_pretrained


@pytest.mark.parametrize(
    "name",
    [
        "model.safetensors",
        "config.json",
        "model-00001-of-00002.safetensors",
        "diffusion_pytorch_model-00001-of-00002.safetensors",  # (a shard of another name: never "rename it")
        "unet.safetensors.index.json",
    ],
)
def test_a_file_of_a_model_directory_is_answered_with_its_folder(tmp_path: Path, name: str) -> None:
    (tmp_path / name).write_text("{}")
    assert _file_message(tmp_path / name).endswith(f": give its folder, {str(tmp_path)!r}")


def test_a_safetensors_file_under_another_name_is_to_be_renamed(tmp_path: Path) -> None:
    save_file(_TENSORS, str(tmp_path / "weights.safetensors"))
    message = _file_message(tmp_path / "weights.safetensors")
    assert "give its folder" not in message
    assert message.endswith(
        ": a safetensors file under another name than model.safetensors: rename it model.safetensors (beside its "
        f"config.json), then pass its folder, {str(tmp_path)!r}; or rewrite it as a model directory with "
        f"`hubmixin convert {tmp_path / 'weights.safetensors'} DST --to torch|flax|keras`"
    )


@pytest.mark.parametrize(
    ("name", "kind", "model"),
    [
        ("ckpt.pt", "a torch.save state dict", ""),
        ("params.msgpack", "a Flax msgpack", " --model package.module:Class"),
        ("my.weights.h5", "a Keras save_weights file", " --model package.module:Class"),
    ],
)
def test_a_framework_checkpoint_is_answered_with_its_convert(tmp_path: Path, name: str, kind: str, model: str) -> None:
    (tmp_path / name).write_bytes(b"not read")
    message = _file_message(tmp_path / name)
    assert "give its folder" not in message
    assert f": {kind}: convert it with `hubmixin convert {tmp_path / name} DST --to torch|flax|keras{model}`" in message


def test_a_keras_file_is_answered_with_keras_load_model(tmp_path: Path) -> None:
    (tmp_path / "my_model.keras").write_bytes(b"not read")
    message = _file_message(tmp_path / "my_model.keras")
    assert message.endswith(f"load it with keras.saving.load_model({str(tmp_path / 'my_model.keras')!r})")
    with pytest.raises(WeightsNotFoundError, match=r"it holds \['my_model.keras'\]\): a Keras model file"):
        MLP.from_pretrained(tmp_path)  # its folder, too


def test_a_file_of_another_name_is_named_by_its_first_bytes(tmp_path: Path) -> None:
    with zipfile.ZipFile(tmp_path / "last.ckpt", "w") as archive:
        archive.writestr("last/data.pkl", b"")
    message = _file_message(tmp_path / "last.ckpt")
    assert ": a zip archive (torch.save's format): hubmixin convert reads it under a .pt name" in message
    (tmp_path / "notes.txt").write_text("no checkpoint")
    assert _file_message(tmp_path / "notes.txt").endswith("takes a model directory or a repo id")


# 2. a folder holding safetensors under another name


@pytest.mark.parametrize("name", ["diffusion_pytorch_model.safetensors", "weights.safetensors"])
def test_a_folder_with_safetensors_under_another_name_names_it(tmp_path: Path, name: str) -> None:
    save_file(_TENSORS, str(tmp_path / name))
    with pytest.raises(WeightsNotFoundError) as info:
        open_checkpoint(tmp_path)
    assert str(info.value) == (
        f"{tmp_path}: found neither model.safetensors nor model.safetensors.index.json (it holds [{name!r}]): a "
        f"safetensors file under another name ({name}): rename {name} to model.safetensors"
    )
    (tmp_path / name).rename(tmp_path / "model.safetensors")
    assert set(open_checkpoint(tmp_path).infos) == {"w"}


def test_an_index_under_another_name_is_to_be_renamed_and_its_shards_kept(tmp_path: Path) -> None:
    save_file(_TENSORS, str(tmp_path / "unet-00001-of-00001.safetensors"))
    index = {"metadata": {}, "weight_map": {"w": "unet-00001-of-00001.safetensors"}}
    (tmp_path / "unet.safetensors.index.json").write_text(json.dumps(index))
    with pytest.raises(WeightsNotFoundError) as info:
        open_checkpoint(tmp_path)
    assert str(info.value).endswith(
        ": a safetensors index under another name (unet.safetensors.index.json): rename "
        "unet.safetensors.index.json to model.safetensors.index.json"
    )
    (tmp_path / "unet.safetensors.index.json").rename(tmp_path / "model.safetensors.index.json")
    assert set(open_checkpoint(tmp_path).infos) == {"w"}


def test_several_safetensors_files_are_all_named(tmp_path: Path) -> None:
    save_file(_TENSORS, str(tmp_path / "ema.safetensors"))
    save_file(_TENSORS, str(tmp_path / "vae.safetensors"))
    with pytest.raises(WeightsNotFoundError) as info:
        open_checkpoint(tmp_path)
    assert str(info.value).endswith(
        ": safetensors files under other names (ema.safetensors, vae.safetensors): rename the model's one to "
        "model.safetensors"
    )


# 7. near-miss repo ids


@pytest.mark.parametrize(
    ("text", "hint"),
    [
        ("user/model/", "'user/model'"),
        (" user/model ", "'user/model'"),
        ("models/user/model", "'user/model'"),
        ("user/model@main", "'user/model', revision='main'"),
        ("models/user/model@v1.0/", "'user/model', revision='v1.0'"),
    ],
)
def test_a_near_miss_repo_id_names_the_id_meant(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, text: str, hint: str
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(WeightsNotFoundError) as info:
        MLP.from_pretrained(text, local_files_only=True)
    assert str(info.value) == (
        f"{text}: does not exist; from_pretrained takes a model directory or a repo id (for the Hub repository, "
        f"pass its id: {hint})"
    )


@pytest.mark.parametrize("text", ["./user/model", "my-model/", "a/b/c", "/abs/user/model", "user/model@"])
def test_a_path_is_given_no_repo_id(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, text: str) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(WeightsNotFoundError, match=r"does not exist") as info:
        MLP.from_pretrained(text, local_files_only=True)
    assert "revision=" not in str(info.value)
    if text != "user/model@":
        assert "pass its id" not in str(info.value)


# 8. a Hub repository holding a framework's own checkpoint, or safetensors under another name


def _pushed(hub: LocalHub, folder: Path, files: dict[str, bytes]) -> str:
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    for name, data in files.items():
        (folder / name).write_bytes(data)
    repo = f"{hub.username}/{folder.name}"
    hf.create_repo(repo)
    hf.upload_folder(repo_id=repo, folder_path=folder)
    return repo


@pytest.mark.parametrize(
    ("name", "kind", "model", "framework"),
    [
        ("flax_model.msgpack", "a Flax msgpack", " --model package.module:Class", "flax"),
        ("model.pt", "a torch.save state dict", "", "torch"),
        ("model.weights.h5", "a Keras save_weights file", " --model package.module:Class", "keras"),
    ],
)
def test_a_hub_repository_holding_a_native_checkpoint_is_named_with_its_two_steps(
    local_hub: LocalHub, tmp_path: Path, name: str, kind: str, model: str, framework: str
) -> None:
    repo = _pushed(local_hub, tmp_path / "native", {name: b"not read"})
    with pytest.raises(WeightsNotFoundError) as info:
        open_checkpoint(repo)
    installed = {entry_point.name for entry_point in metadata.entry_points(group="hubmixin.converters")}
    needs = f"hubmixin-{framework}, which is not installed: pip install hubmixin-{framework}"
    assert str(info.value) == (
        f"{repo}: found neither model.safetensors nor model.safetensors.index.json: {kind} ({name}): download it "
        f"(`hf download {repo} --local-dir DIR`), then convert it with `hubmixin convert DIR/{name} DST "
        f"--to torch|flax|keras{model}`" + ("" if framework in installed else f" (reading it needs {needs})")
    )
    with pytest.raises(WeightsNotFoundError, match=r"@main: .*--revision main --local-dir DIR"):
        open_checkpoint(repo, DownloadOptions(revision="main"))
    with pytest.raises(WeightsNotFoundError) as offline:
        open_checkpoint(repo, DownloadOptions(local_files_only=True))  # nothing asked
    assert str(offline.value) == f"{repo}: found neither model.safetensors nor model.safetensors.index.json"


def test_a_hub_repository_holding_safetensors_under_another_name_says_to_rename_it(
    local_hub: LocalHub, tmp_path: Path
) -> None:
    repo = _pushed(local_hub, tmp_path / "other", {"diffusion_pytorch_model.safetensors": b"not read"})
    with pytest.raises(WeightsNotFoundError) as info:
        open_checkpoint(repo)
    assert str(info.value).endswith(
        ": a safetensors file under another name (diffusion_pytorch_model.safetensors): download it (`hf download "
        f"{repo} --local-dir DIR`), then rename DIR/diffusion_pytorch_model.safetensors to model.safetensors"
    )


def test_a_hub_repository_of_training_state_or_keras_shards_gets_no_convert(
    local_hub: LocalHub, tmp_path: Path
) -> None:
    shards = {"model.weights.json": b"{}", "model_00000.weights.h5": b"", "optimizer.pt": b""}
    repo = _pushed(local_hub, tmp_path / "shards", shards)
    with pytest.raises(WeightsNotFoundError) as info:
        open_checkpoint(repo)
    assert str(info.value) == f"{repo}: found neither model.safetensors nor model.safetensors.index.json"


def test_a_peft_adapter_is_not_to_be_renamed(tmp_path: Path) -> None:
    # (reg23i #1 of round 23: an adapter renamed model.safetensors loads no base weights)
    save_file(_TENSORS, str(tmp_path / "adapter_model.safetensors"))
    (tmp_path / "adapter_config.json").write_text("{}")
    with pytest.raises(WeightsNotFoundError) as info:
        open_checkpoint(tmp_path)
    assert "rename" not in str(info.value)
    assert "rename" not in _file_message(tmp_path / "adapter_model.safetensors")


def test_a_large_folder_is_listed_in_part(tmp_path: Path) -> None:
    # (reg23i #2 of round 23: every file of the folder was listed)
    for i in range(30):
        (tmp_path / f"log{i:02d}.txt").write_text("x")
    with pytest.raises(WeightsNotFoundError) as info:
        open_checkpoint(tmp_path)
    assert "'log19.txt'] (+10 more)" in str(info.value) and "log20" not in str(info.value)
