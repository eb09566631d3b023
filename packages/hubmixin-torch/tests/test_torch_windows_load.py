"""On Windows a loaded model holds no mapping of its files (one would lock them against replacement and deletion);
Windows taken on Linux by setting the platform ``hubmixin_torch._checkpoint`` reads."""

from __future__ import annotations

import os
import types
from pathlib import Path

import pytest
import torch
from torch_models import Net, assert_same_tensors, trained_net

from hubmixin_torch import _checkpoint

pytestmark = pytest.mark.skipif(not Path("/proc/self/maps").is_file(), reason="judges mappings from /proc")


def _mapped(path: Path) -> bool:
    """Whether this process maps ``path`` now."""
    real = os.path.realpath(path)
    with open("/proc/self/maps", encoding="utf-8") as maps:
        return any(line.rstrip("\n").endswith(" " + real) for line in maps)


@pytest.mark.parametrize("windows", [False, True])
def test_a_loaded_model_maps_its_weights_off_windows_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, windows: bool
) -> None:
    if windows:
        monkeypatch.setattr(_checkpoint, "sys", types.SimpleNamespace(platform="win32"), raising=False)
    model = trained_net(Net)
    model.save_pretrained(tmp_path)
    loaded = Net.from_pretrained(tmp_path)
    assert_same_tensors(loaded, model)
    assert _mapped(tmp_path / "model.safetensors") is not windows


@pytest.mark.parametrize("windows", [False, True])
def test_a_legacy_bin_maps_off_windows_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, windows: bool) -> None:
    if windows:
        monkeypatch.setattr(_checkpoint, "sys", types.SimpleNamespace(platform="win32"), raising=False)
    model = trained_net(Net)
    torch.save(model.state_dict(), tmp_path / "pytorch_model.bin")
    (tmp_path / "config.json").write_text("{}")
    loaded = Net.from_pretrained(tmp_path)
    assert_same_tensors(loaded, model)
    assert _mapped(tmp_path / "pytorch_model.bin") is not windows
