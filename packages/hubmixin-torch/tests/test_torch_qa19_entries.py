"""A weights file name the model directory holds as a directory is named as such (was "no weights found")."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch_models import Net

from hubmixin_core.errors import WeightsNotFoundError


@pytest.mark.parametrize("name", ["model.safetensors", "pytorch_model.bin"])
def test_a_weights_name_that_is_a_directory_is_named(saved: Path, name: str) -> None:
    (saved / "model.safetensors").unlink()
    (saved / name).mkdir()
    with pytest.raises(WeightsNotFoundError, match=rf"{saved / name}: not a file \(a directory\)"):
        Net.from_pretrained(saved)


def test_a_legacy_file_beside_a_directory_named_model_safetensors_loads(saved: Path, net: Net) -> None:
    """As huggingface_hub's mixin, which reads pytorch_model.bin where model.safetensors is no file."""
    (saved / "model.safetensors").unlink()
    (saved / "model.safetensors").mkdir()
    torch.save(net.state_dict(), saved / "pytorch_model.bin")
    loaded = Net.from_pretrained(saved)
    for key, value in net.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value)
