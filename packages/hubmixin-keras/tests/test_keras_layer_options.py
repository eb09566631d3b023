"""Layers whose settings change the tensors they hold: normalization without a scale or a center,
``MultiHeadAttention`` with ``value_dim != key_dim``; and what a strict load says of a layer it cannot build."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pytest
from keras_models import numpy
from safetensors.numpy import load_file

from hubmixin_core.errors import WeightsKeyError, WeightsShapeError
from hubmixin_keras import KerasModelHubMixin

pytest.importorskip("torch")
pytest.importorskip("hubmixin_torch")

from torch import nn

from hubmixin_torch import PyTorchModelHubMixin

X = np.random.default_rng(0).standard_normal((2, 3, 4)).astype(np.float32)
L = keras.layers

NORMS: dict[str, Callable[[], keras.layers.Layer]] = {
    "batch-no-scale": lambda: L.BatchNormalization(scale=False),
    "batch-no-affine": lambda: L.BatchNormalization(scale=False, center=False),
    "layer-no-scale": lambda: L.LayerNormalization(scale=False),
    "layer-no-center": lambda: L.LayerNormalization(center=False),
    "layer-no-affine": lambda: L.LayerNormalization(scale=False, center=False),
    "layer-two-axes-no-scale": lambda: L.LayerNormalization(axis=[-2, -1], scale=False),
    "group-no-scale": lambda: L.GroupNormalization(2, scale=False),
    "group-no-affine": lambda: L.GroupNormalization(2, scale=False, center=False),
}


class Normed(keras.Model, KerasModelHubMixin):  # type: ignore[misc]
    """A Dense, then the normalization layer ``NORMS[kind]``."""

    def __init__(self, kind: str = "batch-no-scale", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.fc = L.Dense(4)
        self.norm = NORMS[kind]()

    def call(self, x: Any) -> Any:
        return self.norm(self.fc(x), training=False)


def _randomized(model: keras.Model) -> keras.Model:
    rng = np.random.default_rng(1)
    for variable in model.weights:
        variable.assign(rng.uniform(0.5, 1.5, tuple(variable.shape)).astype(np.float32))
    return model


@pytest.mark.parametrize("kind", list(NORMS))
def test_a_norm_without_scale_or_center_loads_strictly(tmp_path: Path, kind: str) -> None:
    model = Normed(kind)
    model(X)
    _randomized(model).save_pretrained(tmp_path)
    loaded = Normed.from_pretrained(tmp_path, strict=True)  # built from its bias or statistics, or not at all
    assert [v.path.split("/")[-1] for v in loaded.weights] == [v.path.split("/")[-1] for v in model.weights]
    for ours, theirs in zip(model.weights, loaded.weights, strict=True):
        np.testing.assert_array_equal(numpy(ours), numpy(theirs))
    np.testing.assert_array_equal(numpy(model(X)), numpy(loaded(X)))


class Attention(keras.Model, KerasModelHubMixin):  # type: ignore[misc]
    """Self-attention whose values have their own size (``value_dim != key_dim``)."""

    def __init__(self, heads: int = 2, key_dim: int = 4, value_dim: int = 3, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.att = L.MultiHeadAttention(heads, key_dim=key_dim, value_dim=value_dim)

    def call(self, x: Any) -> Any:
        return self.att(x, x)


def test_attention_with_its_own_value_dim_round_trips(tmp_path: Path) -> None:
    model = Attention()
    model.att.build((None, None, 8), (None, None, 8))  # jax's Keras cannot call it: build it by hand
    _randomized(model).save_pretrained(tmp_path)
    tensors = load_file(str(tmp_path / "model.safetensors"))
    shapes = {key: tensors[key].shape for key in ("att.q_proj_weight", "att.v_proj_weight", "att.in_proj_bias")}
    assert shapes == {"att.q_proj_weight": (8, 8), "att.v_proj_weight": (6, 8), "att.in_proj_bias": (22,)}
    loaded = Attention.from_pretrained(tmp_path, strict=True)
    for ours, theirs in zip(model.weights, loaded.weights, strict=True):
        assert ours.path.split("/")[-2:] == theirs.path.split("/")[-2:]
        np.testing.assert_array_equal(numpy(ours), numpy(theirs))
    if keras.backend.backend() != "jax":
        x = np.random.default_rng(2).standard_normal((2, 5, 8)).astype(np.float32)
        np.testing.assert_array_equal(numpy(model(x)), numpy(loaded(x)))


def test_attention_of_another_value_dim_is_a_shape_error(tmp_path: Path) -> None:
    model = Attention(value_dim=4)
    model.att.build((None, None, 8), (None, None, 8))
    model.save_pretrained(tmp_path)  # key_dim == value_dim: torch's one in_proj_weight (24, 8), in_proj_bias (24,)
    with pytest.raises(WeightsShapeError, match=r"'att\.in_proj_bias' has shape \(24,\), the model expects \(22,\)"):
        Attention.from_pretrained(tmp_path, model_kwargs={"value_dim": 3})


class Grown(keras.Model, KerasModelHubMixin):  # type: ignore[misc]
    """A Dense; with ``extra``, attention and an LSTM after it that a checkpoint without ``extra`` lacks."""

    def __init__(self, extra: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.fc = L.Dense(4)
        if extra:
            self.att = L.MultiHeadAttention(2, 2)
            self.lstm = L.LSTM(3)

    def call(self, x: Any) -> Any:
        h = self.fc(x)
        return self.lstm(self.att(h, h)) if hasattr(self, "lstm") else h


def test_layers_absent_from_the_checkpoint_are_named_with_the_keys_they_need(tmp_path: Path) -> None:
    model = Grown()
    model(X)
    model.save_pretrained(tmp_path)
    with pytest.raises(WeightsKeyError) as info:
        Grown.from_pretrained(tmp_path, model_kwargs={"extra": True}, strict=True)
    assert info.value.missing == ["att.in_proj_weight", "lstm.weight_ih_l0"]
    assert str(tmp_path / "model.safetensors") in str(info.value)
    assert "layers 'att', 'lstm': no tensors in the checkpoint" in str(info.value)


class TorchAttention(nn.Module, PyTorchModelHubMixin):
    """torch's attention: its projections all have ``embed_dim`` rows, whatever ``kdim`` and ``vdim``."""

    def __init__(self, heads: int = 2, kdim: int = 8) -> None:
        super().__init__()
        self.att = nn.MultiheadAttention(8, heads, kdim=kdim, vdim=kdim, batch_first=True)


@pytest.mark.parametrize("kdim", [8, 7])
def test_torch_refuses_attention_with_its_own_value_dim(tmp_path: Path, kdim: int) -> None:
    model = Attention()
    model.att.build((None, None, 8), (None, None, 8))
    model.save_pretrained(tmp_path)
    with pytest.raises(WeightsShapeError, match=r"'att\.in_proj_bias' has shape \(22,\), the model expects \(24,\)"):
        TorchAttention.from_pretrained(tmp_path, model_kwargs={"kdim": kdim})
