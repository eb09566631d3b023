"""F2 end to end (needs f2_impl.patch applied): a Keras SeparableConv2D port set differently from torch's
depthwise + pointwise convolutions is warned of, both ways; one set alike is not."""

from __future__ import annotations

import json
import re
import warnings
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pytest
from safetensors import safe_open
from torch import nn

from hubmixin_core.errors import LayerSettingsWarning
from hubmixin_keras import KerasModelHubMixin
from hubmixin_torch import PyTorchModelHubMixin


class TorchSeparable(nn.Module):
    def __init__(self, dilation: int) -> None:
        super().__init__()
        self.depthwise = nn.Conv2d(3, 6, 3, groups=3, padding=dilation, dilation=dilation, bias=False)
        self.pointwise = nn.Conv2d(6, 4, 1)


class TorchNet(nn.Module, PyTorchModelHubMixin):
    def __init__(self, dilation: int = 2) -> None:
        super().__init__()
        self.sep = TorchSeparable(dilation)


class KerasNet(keras.Model, KerasModelHubMixin):  # type: ignore[misc]
    def __init__(self, rate: int = 1, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.sep = keras.layers.SeparableConv2D(4, 3, depth_multiplier=2, padding="same", dilation_rate=rate)

    def call(self, x: Any) -> Any:
        return self.sep(x)


def test_separable_settings_are_compared_both_ways(tmp_path: Path) -> None:
    TorchNet().save_pretrained(tmp_path / "torch")
    with pytest.warns(LayerSettingsWarning) as caught:
        KerasNet.from_pretrained(tmp_path / "torch", strict=True)
    message = str(caught[0].message)
    assert "sep.depthwise: dilation [1, 1] here, [2, 2] saved" in message
    assert "sep.depthwise: padding [[1, 1], [1, 1]] here, [[2, 2], [2, 2]] saved" in message
    with warnings.catch_warnings():
        warnings.simplefilter("error", LayerSettingsWarning)
        KerasNet.from_pretrained(tmp_path / "torch", model_kwargs={"rate": 2}, strict=True)

    model = KerasNet()
    model(np.zeros((1, 8, 8, 3), np.float32))
    model.save_pretrained(tmp_path / "keras")
    with safe_open(tmp_path / "keras" / "model.safetensors", "np") as file:
        assert {"sep.depthwise", "sep.pointwise"} <= set(json.loads(file.metadata()["hubmixin.settings"]))
    with pytest.warns(LayerSettingsWarning, match=re.escape("sep.depthwise: dilation [2, 2] here, [1, 1] saved")):
        TorchNet.from_pretrained(tmp_path / "keras", strict=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error", LayerSettingsWarning)
        TorchNet.from_pretrained(tmp_path / "keras", model_kwargs={"dilation": 1}, strict=True)
        KerasNet.from_pretrained(tmp_path / "keras", strict=True)
