"""Regressions of QA round 23: a checkpoint whose every key carries a prefix (``model.lin.weight``, a wrapper's)
names the ``key_mapping`` that loads it, strict or not; the floating dtype hint names ``dtype=``."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file
from torch import nn

from hubmixin_core.errors import WeightsDtypeError, WeightsKeyError
from hubmixin_torch import PyTorchModelHubMixin


class Net(nn.Module, PyTorchModelHubMixin):
    def __init__(self, h: int = 4) -> None:
        super().__init__()
        self.lin = nn.Linear(h, h)


_MAPPING = 'key_mapping={r"^model\\.": ""}'


def test_every_key_under_a_prefix_names_the_key_mapping(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    reference = Net()
    (tmp_path / "config.json").write_text('{"h": 4}')
    save_file({f"model.{k}": v.contiguous() for k, v in reference.state_dict().items()}, tmp_path / "model.safetensors")
    with pytest.raises(WeightsKeyError) as info:
        Net.from_pretrained(tmp_path, strict=True)
    assert f"the file's names carry the prefix 'model.', the model's do not: load with {_MAPPING}" in str(info.value)
    with caplog.at_level(logging.WARNING):
        Net.from_pretrained(tmp_path)
    assert _MAPPING in caplog.text
    loaded = Net.from_pretrained(tmp_path, strict=True, key_mapping={r"^model\.": ""})
    assert torch.equal(loaded.lin.weight, reference.lin.weight)


def test_the_dtype_hint_names_the_loaders_dtype_option(tmp_path: Path) -> None:
    Net().to(torch.float16).save_pretrained(tmp_path)
    with pytest.raises(WeightsDtypeError, match=r"pass dtype=<the dtype to load in>, or strict=False"):
        Net.from_pretrained(tmp_path, strict=True)
