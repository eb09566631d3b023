"""A model folder without config.json whose weights do not fit ``__init__``'s defaults (QA round 23, firstuse #3):
the shape error says the model was built from the defaults because config.json is absent, and how to give them."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from torch import nn

from hubmixin_core.errors import WeightsShapeError
from hubmixin_torch import PyTorchModelHubMixin


class Net(nn.Module, PyTorchModelHubMixin):
    def __init__(self, h: int = 4) -> None:
        super().__init__()
        self.lin = nn.Linear(h, h)


def test_the_shape_error_says_config_json_is_absent(tmp_path: Path) -> None:
    Net(8).save_pretrained(tmp_path)
    (tmp_path / "config.json").unlink()
    logging.disable(logging.CRITICAL)  # (where an application shows no library logs)
    try:
        with pytest.raises(
            WeightsShapeError, match=r"no config\.json in .*Net\.__init__'s defaults.*\('h'\) to from_pretrained"
        ) as e:
            Net.from_pretrained(tmp_path)
    finally:
        logging.disable(logging.NOTSET)
    assert e.value.key == "lin.bias" and e.value.expected == (4,)
    loaded = Net.from_pretrained(tmp_path, h=8)  # type: ignore[call-arg]  # (as the message says)
    assert loaded.lin.weight.shape == (8, 8)


def test_a_model_with_its_config_keeps_the_plain_error(tmp_path: Path) -> None:
    Net(8).save_pretrained(tmp_path)
    with pytest.raises(WeightsShapeError) as e:
        Net.from_pretrained(tmp_path, h=4)  # type: ignore[call-arg]
    assert "config.json" not in str(e.value)
