"""`hubmixin convert` (QA round 12, interchange): a folder holding a legacy ``pytorch_model.bin`` converts, and
loading or inspecting it names the command (F1); the progress bar of every reader follows the bytes read from SRC
and written to DST, and reaches 100 % only once the weights are on disk (F2)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("KERAS_BACKEND", "jax")  # (where no test imported Keras before)

import keras
import numpy as np
import pytest
import torch
from flax import nnx, serialization
from huggingface_hub.utils.tqdm import tqdm
from safetensors.numpy import save_file

from hubmixin_core import _convert
from hubmixin_core.cli import main
from hubmixin_core.errors import WeightsNotFoundError
from hubmixin_flax import FlaxModelHubMixin
from hubmixin_keras import KerasModelHubMixin
from hubmixin_torch import _convert as torch_convert

WIDTH = 256
"""Features of the one dense layer of the models below: 257 KiB of float32 weights."""


class FlaxWide(nnx.Module, FlaxModelHubMixin):
    def __init__(self, width: int = WIDTH, *, rngs: nnx.Rngs) -> None:
        self.fc = nnx.Linear(width, width, rngs=rngs)


class KerasWide(keras.Model, KerasModelHubMixin):  # type: ignore[misc]
    def __init__(self, width: int = WIDTH) -> None:
        super().__init__()
        self.fc = keras.layers.Dense(width)
        self.fc.build((None, width))
        self.built = True

    def call(self, x: Any) -> Any:
        return self.fc(x)


def _torch_state(width: int = WIDTH) -> dict[str, torch.Tensor]:
    torch.manual_seed(0)
    return {k: v.detach() for k, v in torch.nn.Linear(width, width).state_dict().items()}


def _legacy_folder(folder: Path, width: int) -> dict[str, torch.Tensor]:
    """What huggingface_hub's PyTorchModelHubMixin saved before safetensors: pytorch_model.bin and config.json."""
    folder.mkdir()
    state = {f"fc.{name}": tensor for name, tensor in _torch_state(width).items()}
    torch.save(state, folder / "pytorch_model.bin")
    (folder / "config.json").write_text(json.dumps({"width": width}))
    return state


def test_a_folder_holding_a_legacy_pytorch_model_bin_converts(tmp_path: Path) -> None:
    state = _legacy_folder(tmp_path / "legacy", 8)
    assert main(["convert", str(tmp_path / "legacy"), str(tmp_path / "out"), "--to", "flax", "--quiet"]) == 0
    port = FlaxWide.from_pretrained(tmp_path / "out", strict=True)  # its width from the folder's config.json
    np.testing.assert_array_equal(np.asarray(port.fc.kernel[...]), state["fc.weight"].numpy().T)
    assert port.fc.bias is not None
    np.testing.assert_array_equal(np.asarray(port.fc.bias[...]), state["fc.bias"].numpy())


def test_loading_or_inspecting_a_legacy_folder_names_the_convert_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _legacy_folder(tmp_path / "legacy", 8)
    command = f"hubmixin convert {tmp_path / 'legacy'} DST --to "
    for model in (FlaxWide, KerasWide):
        with pytest.raises(WeightsNotFoundError, match=r"pytorch_model\.bin") as raised:
            model.from_pretrained(tmp_path / "legacy")
        assert command in str(raised.value)
    assert main(["inspect", str(tmp_path / "legacy")]) == 1
    assert command in capsys.readouterr().err


def test_a_folder_holding_nothing_convert_reads_says_what_it_takes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "empty").mkdir()
    assert main(["convert", str(tmp_path / "empty"), str(tmp_path / "out"), "--to", "torch"]) == 1
    assert "pytorch_model.bin" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def _safetensors(folder: Path) -> list[str]:
    save_file({k: v.numpy() for k, v in _torch_state().items()}, str(folder / "wide.safetensors"), {"format": "pt"})
    return [str(folder / "wide.safetensors")]


def _torch(folder: Path) -> list[str]:
    torch.save(_torch_state(), folder / "wide.pt")
    return [str(folder / "wide.pt")]


def _msgpack(folder: Path) -> list[str]:
    state = nnx.to_pure_dict(nnx.state(FlaxWide(rngs=nnx.Rngs(0)), nnx.Param))
    (folder / "wide.msgpack").write_bytes(serialization.to_bytes(state))
    return [str(folder / "wide.msgpack"), "--model", f"{__name__}:FlaxWide"]


def _keras(folder: Path) -> list[str]:
    KerasWide().save_weights(str(folder / "wide.weights.h5"))
    return [str(folder / "wide.weights.h5"), "--model", f"{__name__}:KerasWide"]


SOURCES: dict[str, Callable[[Path], list[str]]] = {
    "safetensors": _safetensors,
    "torch": _torch,
    "flax": _msgpack,
    "keras": _keras,
}
"""Each reader's source file, written into a folder, and the arguments that convert it."""


def _bytes_under(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())


def _convert_watched(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, source: str, *extra: str) -> list[Any]:
    """Convert with the bar shown from 100 KiB, moving in 16 KiB steps; every position it took, with the bytes
    under DST's folder at that moment (staging directories included)."""
    monkeypatch.setattr(_convert, "PROGRESS_FROM_BYTES", 100 * 2**10, raising=False)
    monkeypatch.setattr(_convert, "_STEP_BYTES", 16 * 2**10, raising=False)
    monkeypatch.setattr(torch_convert, "_PROGRESS_FROM_BYTES", 100 * 2**10, raising=False)  # (its bar until QA 12)
    (tmp_path / "src").mkdir()
    (tmp_path / "dst").mkdir()
    args = SOURCES[source](tmp_path / "src")
    (tmp_path / "src" / "config.json").write_text(json.dumps({"width": WIDTH}))
    seen: list[tuple[int, int, int]] = []
    update = tqdm.update

    def watched(bar: Any, n: float = 1) -> Any:
        moved = update(bar, n)
        seen.append((bar.n, bar.total, _bytes_under(tmp_path / "dst")))
        return moved

    monkeypatch.setattr(tqdm, "update", watched)
    assert main(["convert", args[0], str(tmp_path / "dst" / "out"), "--to", "torch", *args[1:], *extra]) == 0
    return seen


@pytest.mark.parametrize("source", list(SOURCES))
def test_the_bar_follows_reading_and_writing(source: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen = _convert_watched(tmp_path, monkeypatch, source)
    weights = (WIDTH + 1) * WIDTH * 4
    assert seen, "no progress bar"
    finished = [written for n, total, written in seen if n == total]
    assert finished and min(finished) >= weights, "the bar reached 100 % before the weights were written"
    assert any(0 < n < total for n, total, _ in seen), "the bar jumped to its end"
    for n, total, written in seen[:-1]:  # half the bar counts reading, the other half what is on disk
        assert n <= total // 2 + written, f"at {n} of {total} with {written} bytes written"
    assert seen[-1][1] >= 2 * weights  # bytes read and bytes written


def test_quiet_shows_no_bar(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert _convert_watched(tmp_path, monkeypatch, "safetensors", "--quiet") == []


def test_the_bar_shows_from_100_mib(tmp_path: Path) -> None:
    def shown(reads: int, *, progress: bool = True) -> bool:
        request = _convert.ConvertRequest(tmp_path / "model.pt", "torch", progress=progress)
        with _convert.ConvertProgress(request, tmp_path, reads=reads) as bar:
            return bar.shown

    assert shown(100 * 2**20) and not shown(100 * 2**20 - 1) and not shown(2**30, progress=False)
