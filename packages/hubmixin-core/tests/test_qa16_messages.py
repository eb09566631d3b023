"""Regressions of QA round 16 (errors that say what to do): a strict load of another floating dtype names
``dtype=``, a folder holding a framework-native checkpoint names ``hubmixin convert``, and ``hubmixin inspect`` of
a repository it cannot see says how to authenticate."""

from __future__ import annotations

import importlib.util
from importlib import metadata
from pathlib import Path
from typing import Any

import huggingface_hub as hf
import numpy as np
import pytest
from safetensors.numpy import save_file

from hubmixin_core.cli import main
from hubmixin_core.errors import WeightsDtypeError, WeightsNotFoundError
from hubmixin_core.testing import LocalHub
from hubmixin_core.weights import MIXIN_CONVERT_HINT, TensorInfo, check_checkpoint, open_checkpoint

_HINT = "floating tensors are converted only when asked: pass dtype=<the dtype to load in>, or strict=False"


# A strict load of a checkpoint in another floating dtype


def test_a_strict_load_of_another_floating_dtype_says_what_to_do_once(tmp_path: Path) -> None:
    tensors: dict[str, np.ndarray[Any, Any]] = {name: np.zeros(2, np.float16) for name in ("a", "b", "c")}
    save_file(tensors, str(tmp_path / "model.safetensors"))
    expected = {name: TensorInfo((2,), "F32") for name in tensors}
    with pytest.raises(WeightsDtypeError) as info:
        check_checkpoint(expected, open_checkpoint(tmp_path), strict=True, convert_hint=MIXIN_CONVERT_HINT)
    message = str(info.value)
    assert message.splitlines()[0].endswith(f"tensor 'a' has dtype F16, the model expects F32 ({_HINT}); 2 more:")
    assert message.count(_HINT) == 1  # the same for every tensor: said once
    assert message.count("has dtype F16, the model expects F32") == 3
    assert info.value.detail == _HINT
    check_checkpoint(expected, open_checkpoint(tmp_path), strict=True, convert_floating=True)  # what dtype= does


def test_integer_dtypes_get_no_dtype_hint(tmp_path: Path) -> None:
    save_file({"i": np.zeros(2, np.int16)}, str(tmp_path / "model.safetensors"))
    with pytest.raises(WeightsDtypeError) as info:  # dtype= converts floating tensors only
        check_checkpoint({"i": TensorInfo((2,), "I8")}, open_checkpoint(tmp_path), strict=True)
    assert "dtype=" not in str(info.value) and info.value.detail == ""


# A folder holding a framework-native checkpoint


def _with_reader(framework: str) -> pytest.MarkDecorator:
    """Skip where hubmixin-``framework`` is not installed (the hint then says that reading the file needs it)."""
    missing = importlib.util.find_spec(f"hubmixin_{framework}") is None
    return pytest.mark.skipif(missing, reason=f"the hint where hubmixin-{framework} is installed")


@pytest.mark.parametrize(
    ("name", "kind", "model"),
    [
        pytest.param("model.pt", "a torch.save state dict", "", marks=_with_reader("torch")),
        pytest.param("weights.pth", "a torch.save state dict", "", marks=_with_reader("torch")),
        pytest.param(
            "model.weights.h5",
            "a Keras save_weights file",
            " --model package.module:Class",
            marks=_with_reader("keras"),
        ),
        pytest.param("model.msgpack", "a Flax msgpack", " --model package.module:Class", marks=_with_reader("flax")),
    ],
)
def test_a_folder_holding_a_native_checkpoint_names_the_convert(
    tmp_path: Path, name: str, kind: str, model: str
) -> None:
    folder = tmp_path / "native"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    (folder / name).write_bytes(b"not read")
    with pytest.raises(WeightsNotFoundError) as info:
        open_checkpoint(folder)  # what Flax's and Keras' from_pretrained open
    assert str(info.value) == (
        f"{folder}: found neither model.safetensors nor model.safetensors.index.json (it holds "
        f"['config.json', {name!r}]): {kind} ({name}): convert it with "
        f"`hubmixin convert {folder / name} DST --to torch|flax|keras{model}`"
    )


def test_a_training_checkpoints_optimizer_state_is_not_taken_for_the_model(tmp_path: Path) -> None:
    for name in ("optimizer.pt", "scheduler.pt", "rng_state.pth", "scaler.pt"):
        (tmp_path / name).write_bytes(b"not read")
    with pytest.raises(WeightsNotFoundError) as info:
        open_checkpoint(tmp_path)
    assert "hubmixin convert" not in str(info.value)
    (tmp_path / "weights.pt").write_bytes(b"not read")
    with pytest.raises(WeightsNotFoundError) as info:
        open_checkpoint(tmp_path)
    assert f"(weights.pt): convert it with `hubmixin convert {tmp_path / 'weights.pt'} DST" in str(info.value)


def test_the_hint_says_what_reading_the_file_needs_where_its_reader_is_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = metadata.entry_points

    def entry_points(**params: Any) -> Any:  # hubmixin-flax not installed: its converter absent
        if params != {"group": "hubmixin.converters"}:
            return real(**params)
        return [ep for ep in real(group="hubmixin.converters") if ep.name != "flax"]

    monkeypatch.setattr(metadata, "entry_points", entry_points)
    (tmp_path / "model.msgpack").write_bytes(b"")
    with pytest.raises(WeightsNotFoundError) as info:
        open_checkpoint(tmp_path)
    assert str(info.value).endswith(
        "--model package.module:Class` (reading it needs hubmixin-flax, which is not installed: "
        "pip install hubmixin-flax)"
    )


def test_a_folder_without_a_checkpoint_gets_no_convert_hint(tmp_path: Path) -> None:
    (tmp_path / "model.h5").write_bytes(b"")  # (a Keras 2 / TF file: not what hubmixin convert reads)
    (tmp_path / "data.msgpack").mkdir()  # a folder, not a file
    with pytest.raises(WeightsNotFoundError) as info:
        open_checkpoint(tmp_path)
    assert "convert" not in str(info.value)


# `hubmixin inspect` of a repository the caller cannot see


def test_inspect_of_a_private_repository_without_a_token_says_how_to_log_in(
    local_hub: LocalHub, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = hf.create_repo("priv", private=True).repo_id
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("HF_TOKEN")
    assert main(["inspect", repo]) == 1
    error = capsys.readouterr().err.strip()
    assert error.startswith(f"hubmixin: error: RepositoryNotFoundError: {repo!r} is neither a local file")
    assert error.endswith("; if it is private, log in (`hf auth login`) or set HF_TOKEN")
    assert len(error.splitlines()) == 1


def test_inspect_with_a_token_says_to_check_what_it_may_read(
    local_hub: LocalHub, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["inspect", f"{local_hub.username}/nothing-here"]) == 1
    error = capsys.readouterr().err.strip()
    assert error.endswith("; if it is private, check that your token (HF_TOKEN or `hf auth login`) may read it")
