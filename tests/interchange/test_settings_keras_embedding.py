"""Keras embedding options that neither PyTorch's nor Flax's embedding has are recorded and compared, as PyTorch's
``max_norm`` is the other way round: ``Embedding(mask_zero=True)`` (the layers after it skip the padded steps) and
``ReversibleEmbedding(logit_soft_cap=c)`` (its tied head caps its logits). A port without them loads such a file
with a ``LayerSettingsWarning``, and a Keras model with them loads a PyTorch or Flax file with one; at their
defaults nothing new is recorded, so files and ports without them load as before."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import keras
import numpy as np
import pytest
from flax import nnx
from settings_checks import recorded_settings, settings_warnings
from torch import nn

from hubmixin_flax import FlaxModelHubMixin
from hubmixin_keras import KerasModelHubMixin
from hubmixin_keras._settings import layer_settings as keras_settings
from hubmixin_torch import PyTorchModelHubMixin


class TorchNet(nn.Module, PyTorchModelHubMixin):
    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(10, 4, padding_idx=0)


class FlaxNet(nnx.Module, FlaxModelHubMixin):
    def __init__(self, *, rngs: nnx.Rngs) -> None:
        self.embed = nnx.Embed(10, 4, rngs=rngs)


class KerasNet(keras.Model, KerasModelHubMixin):  # type: ignore[misc]
    def __init__(self, mask_zero: bool = False, cap: float | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if cap is None:
            self.embed = keras.layers.Embedding(10, 4, mask_zero=mask_zero)
        else:
            self.embed = keras.layers.ReversibleEmbedding(10, 4, mask_zero=mask_zero, logit_soft_cap=cap)

    def call(self, ids: Any) -> Any:
        return self.embed(ids)


def _saved(framework: str, path: Path, **kwargs: Any) -> Path:
    if framework == "flax":
        FlaxNet(rngs=nnx.Rngs(0)).save_pretrained(path)
    elif framework == "keras":
        model = KerasNet(**kwargs)
        model(np.zeros((1, 3), np.int32))
        model.save_pretrained(path)
    else:
        TorchNet().save_pretrained(path)
    return path


def _warnings(port: str, path: Path, **kwargs: Any) -> list[str]:
    return settings_warnings({"torch": TorchNet, "flax": FlaxNet, "keras": KerasNet}[port], path, **kwargs)


def test_keras_records_mask_zero_and_a_logit_soft_cap_only_where_set() -> None:
    assert keras_settings(keras.layers.Embedding(3, 2)) == {}
    assert keras_settings(keras.layers.Embedding(3, 2, mask_zero=True)) == {"mask_zero": True}
    assert keras_settings(keras.layers.ReversibleEmbedding(3, 2)) == {}
    capped = keras.layers.ReversibleEmbedding(3, 2, logit_soft_cap=30)
    assert keras_settings(capped) == {"logit_soft_cap": 30.0}


def test_a_keras_file_at_the_defaults_records_nothing_for_its_embedding(tmp_path: Path) -> None:
    assert recorded_settings(_saved("keras", tmp_path / "plain")) == {}
    assert recorded_settings(_saved("keras", tmp_path / "reversible", cap=None)) == {}
    assert recorded_settings(_saved("keras", tmp_path / "masked", mask_zero=True)) == {"embed": {"mask_zero": True}}


UNSET = [("torch", {}), ("flax", {}), ("keras", {"mask_zero": False, "cap": None})]  # (config.json holds the file's)


@pytest.mark.parametrize(("port", "ours"), UNSET)
def test_a_port_that_does_not_mask_is_warned_of_a_mask_zero_file(
    tmp_path: Path, port: str, ours: dict[str, Any]
) -> None:
    path = _saved("keras", tmp_path, mask_zero=True)
    assert _warnings(port, path, **ours) == ["embed: mask_zero False here, True saved"]


@pytest.mark.parametrize("source", ["torch", "flax"])
def test_a_keras_model_that_masks_is_warned_of_a_file_whose_embedding_never_did(tmp_path: Path, source: str) -> None:
    assert _warnings("keras", _saved(source, tmp_path), mask_zero=True) == ["embed: mask_zero True here, False saved"]


@pytest.mark.parametrize(("port", "ours"), UNSET)
def test_a_port_that_does_not_cap_is_warned_of_a_logit_soft_cap_file(
    tmp_path: Path, port: str, ours: dict[str, Any]
) -> None:
    path = _saved("keras", tmp_path, cap=1.0)
    assert _warnings(port, path, **ours) == ["embed: logit_soft_cap None here, 1.0 saved"]


@pytest.mark.parametrize("source", ["torch", "flax"])
def test_a_keras_model_that_caps_is_warned_of_a_file_whose_head_never_did(tmp_path: Path, source: str) -> None:
    assert _warnings("keras", _saved(source, tmp_path), cap=1.0) == ["embed: logit_soft_cap 1.0 here, None saved"]


def test_another_cap_is_warned_of(tmp_path: Path) -> None:
    path = _saved("keras", tmp_path, cap=1.0)
    assert _warnings("keras", path, cap=2.0) == ["embed: logit_soft_cap 2.0 here, 1.0 saved"]


SAME = [
    ("keras", {}, "torch", {}),
    ("keras", {}, "flax", {}),
    ("torch", {}, "keras", {}),
    ("flax", {}, "keras", {}),
    ("keras", {"mask_zero": True}, "keras", {"mask_zero": True}),
    ("keras", {"cap": 1.0, "mask_zero": True}, "keras", {"cap": 1.0, "mask_zero": True}),
    # A Keras file at the default records nothing, as files written before these settings: not compared.
    ("keras", {}, "keras", {"mask_zero": True, "cap": 1.0}),
]


@pytest.mark.parametrize(("source", "saved", "port", "ours"), SAME)
def test_embeddings_set_alike_load_without_warning(
    tmp_path: Path, source: str, saved: dict[str, Any], port: str, ours: dict[str, Any]
) -> None:
    assert _warnings(port, _saved(source, tmp_path, **saved), **ours) == []
