"""Normalization over several axes (``LayerNormalization(axis=[-2, -1])``, ``RMSNormalization``): built from the
checkpoint's scale, whose shape is the normalised axes' sizes, and read from torch's ``LayerNorm((rows, cols))``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import keras
import numpy as np
import pytest
from keras_models import numpy
from safetensors.numpy import load_file, save_file

from hubmixin_core.errors import WeightsShapeError
from hubmixin_keras import KerasModelHubMixin

pytest.importorskip("torch")
pytest.importorskip("hubmixin_torch")

import torch
from torch import nn

from hubmixin_torch import PyTorchModelHubMixin

X = np.random.default_rng(0).standard_normal((2, 3, 5, 7)).astype(np.float32)


class Normed(keras.Model, KerasModelHubMixin):  # type: ignore[misc]
    """A normalization layer over ``axis``, then a Dense head."""

    def __init__(self, axis: list[int], kind: str = "layer", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if kind == "layer":
            self.norm: keras.layers.Layer = keras.layers.LayerNormalization(axis=list(axis), epsilon=1e-5)
        else:
            self.norm = keras.layers.RMSNormalization(axis=list(axis), epsilon=1e-5)
        self.head = keras.layers.Dense(2)

    def call(self, x: Any) -> Any:
        return self.head(self.norm(x))


def _randomized(model: keras.Model) -> keras.Model:
    model(X)
    rng = np.random.default_rng(1)
    for variable in model.weights:
        variable.assign(rng.uniform(0.5, 1.5, tuple(variable.shape)).astype(np.float32))
    return model


@pytest.mark.parametrize(
    ("axis", "kind"),
    [([-2, -1], "layer"), ([-1, -2], "layer"), ([2, 3], "layer"), ([-3, -1], "layer"), ([-2, -1], "rms")],
)
def test_a_norm_over_several_axes_round_trips(tmp_path: Path, axis: list[int], kind: str) -> None:
    model = _randomized(Normed(axis, kind))
    model.save_pretrained(tmp_path)
    loaded = Normed.from_pretrained(tmp_path, strict=True)
    assert loaded.norm.built
    for ours, theirs in zip(model.weights, loaded.weights, strict=True):
        np.testing.assert_array_equal(numpy(ours), numpy(theirs))
    np.testing.assert_array_equal(numpy(model(X)), numpy(loaded(X)))


def test_a_scale_of_the_wrong_rank_names_the_rank_expected(tmp_path: Path) -> None:
    _randomized(Normed([-2, -1])).save_pretrained(tmp_path)
    path = tmp_path / "model.safetensors"
    tensors = load_file(str(path))
    tensors["norm.weight"] = np.ones((7,), np.float32)
    save_file(tensors, str(path), {"format": "pt"})
    with pytest.raises(WeightsShapeError, match=r"'norm\.weight' has shape \(7,\), the model expects a 2-dim"):
        Normed.from_pretrained(tmp_path)


class TorchNormed(nn.Module, PyTorchModelHubMixin):
    """What ``Normed([-2, -1])`` computes, in torch."""

    def __init__(self, axis: list[int], kind: str = "layer") -> None:
        super().__init__()
        self.norm = nn.LayerNorm((5, 7), eps=1e-5)
        self.head = nn.Linear(7, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.head(self.norm(x))
        return out


def test_torch_layer_norm_over_two_dims_loads_into_keras(tmp_path: Path) -> None:
    torch.manual_seed(0)
    source = TorchNormed([-2, -1])
    with torch.no_grad():
        for param in source.parameters():
            param.uniform_(0.5, 1.5)
    source.save_pretrained(tmp_path)
    loaded = Normed.from_pretrained(tmp_path, strict=True)
    with torch.no_grad():
        expected = source(torch.from_numpy(X)).numpy()
    np.testing.assert_allclose(numpy(loaded(X)), expected, rtol=1e-5, atol=1e-5)
