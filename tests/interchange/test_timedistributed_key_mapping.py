"""Keras' ``TimeDistributed`` holds the layer it wraps under ``layer``; a PyTorch port applying that layer to every
step itself loads the file with the ``key_mapping`` docs/keras.md gives, and Keras loads the port's with the
reverse one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import keras
import numpy as np
import torch
from torch import nn

from hubmixin_keras import KerasModelHubMixin
from hubmixin_torch import PyTorchModelHubMixin


class KerasTagger(keras.Model, KerasModelHubMixin):  # type: ignore[misc]
    def __init__(self, n: int = 3, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.tagger = keras.layers.TimeDistributed(keras.layers.Dense(n))

    def call(self, x: Any) -> Any:
        return self.tagger(x)


class TorchTagger(nn.Module, PyTorchModelHubMixin):
    def __init__(self, n: int = 3) -> None:
        super().__init__()
        self.tagger = nn.Linear(4, n)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.tagger(x)  # type: ignore[no-any-return]


def test_a_timedistributed_layer_moves_to_a_port_by_key_mapping(tmp_path: Path) -> None:
    x = np.random.default_rng(0).normal(size=(2, 5, 4)).astype(np.float32)
    model = KerasTagger()
    expected = np.asarray(keras.ops.convert_to_numpy(model(x)))
    model.save_pretrained(tmp_path / "keras")
    port = TorchTagger.from_pretrained(tmp_path / "keras", strict=True, key_mapping={r"^tagger\.layer\.": "tagger."})
    with torch.no_grad():
        np.testing.assert_allclose(port(torch.from_numpy(x)).numpy(), expected, atol=1e-5)
    port.save_pretrained(tmp_path / "torch")
    back = KerasTagger.from_pretrained(tmp_path / "torch", strict=True, key_mapping={r"^tagger\.": "tagger.layer."})
    np.testing.assert_allclose(np.asarray(keras.ops.convert_to_numpy(back(x))), expected, atol=1e-5)
