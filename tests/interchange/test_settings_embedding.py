"""An embedding's ``max_norm`` (PyTorch renormalises each looked-up row larger than it) is recorded and compared:
a Flax or Keras port, which cannot renormalise, loads a PyTorch file with one with a ``LayerSettingsWarning``, as
does a PyTorch model whose ``max_norm`` differs from the file's (or that loads a Flax or Keras file); files written
before it was recorded load as before."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pytest
from flax import nnx
from safetensors import safe_open
from safetensors.numpy import load_file, save_file
from settings_checks import recorded_settings, settings_warnings
from torch import nn

from hubmixin_core.errors import LayerSettingsWarning
from hubmixin_core.weights import SETTINGS_KEY
from hubmixin_flax import FlaxModelHubMixin
from hubmixin_keras import KerasModelHubMixin
from hubmixin_keras._settings import model_settings as keras_model_settings
from hubmixin_torch import PyTorchModelHubMixin
from hubmixin_torch._settings import layer_settings as torch_settings


class TorchNet(nn.Module, PyTorchModelHubMixin):
    def __init__(self, max_norm: float | None = None, norm_type: float = 2.0) -> None:
        super().__init__()
        self.layer = nn.Embedding(10, 4, max_norm=max_norm, norm_type=norm_type)


class FlaxNet(nnx.Module, FlaxModelHubMixin):
    def __init__(self, *, rngs: nnx.Rngs) -> None:
        self.layer = nnx.Embed(10, 4, rngs=rngs)


class KerasNet(keras.Model, KerasModelHubMixin):  # type: ignore[misc]
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.layer = keras.layers.Embedding(10, 4)


def _saved(framework: str, path: Path, **kwargs: Any) -> Path:
    if framework == "flax":
        FlaxNet(rngs=nnx.Rngs(0)).save_pretrained(path)
    elif framework == "keras":
        model = KerasNet()
        model.layer(np.zeros((1, 3), np.int32))
        model.save_pretrained(path)
    else:
        TorchNet(**kwargs).save_pretrained(path)
    return path


def _warnings(port: str, path: Path, **kwargs: Any) -> list[str]:
    return settings_warnings({"torch": TorchNet, "flax": FlaxNet, "keras": KerasNet}[port], path, **kwargs)


def test_torch_records_an_embeddings_max_norm_set_or_not() -> None:
    assert torch_settings(nn.Embedding(3, 2)) == {"max_norm": None}
    assert torch_settings(nn.Embedding(3, 2, max_norm=1, norm_type=1)) == {"max_norm": 1.0, "norm_type": 1.0}
    assert torch_settings(nn.EmbeddingBag(3, 2, max_norm=2.0)) == {"max_norm": 2.0, "norm_type": 2.0}


def test_flax_and_keras_files_record_no_max_norm(tmp_path: Path) -> None:
    assert keras_model_settings([("emb", keras.layers.Embedding(3, 2))]) == {"emb": {}}  # compared as the default
    assert recorded_settings(_saved("flax", tmp_path / "flax")) == {}
    assert recorded_settings(_saved("keras", tmp_path / "keras")) == {}


@pytest.mark.parametrize("port", ["flax", "keras"])
def test_a_port_that_cannot_renormalise_is_warned_of_a_max_norm(tmp_path: Path, port: str) -> None:
    path = _saved("torch", tmp_path, max_norm=1.0)
    assert _warnings(port, path) == ["layer: max_norm None here, 1.0 saved"]


@pytest.mark.parametrize("source", ["flax", "keras"])
def test_a_torch_model_that_renormalises_is_warned_of_a_file_whose_embedding_never_did(
    tmp_path: Path, source: str
) -> None:
    path = _saved(source, tmp_path)  # (the file records nothing for the embedding: Flax's and Keras' never renormalise)
    assert _warnings("torch", path, max_norm=1.0) == ["layer: max_norm 1.0 here, None saved"]


class TorchNetWithExtra(nn.Module, PyTorchModelHubMixin):
    def __init__(self) -> None:
        super().__init__()
        self.layer = nn.Embedding(10, 4)
        self.extra = nn.Embedding(10, 4, max_norm=1.0)  # a new layer: not in the file


@pytest.mark.parametrize("source", ["flax", "keras"])
def test_a_layer_the_file_holds_no_tensor_of_is_not_compared(tmp_path: Path, source: str) -> None:
    path = _saved(source, tmp_path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        TorchNetWithExtra.from_pretrained(path, strict=False)
    assert [w for w in caught if issubclass(w.category, LayerSettingsWarning)] == []


WARNED = [
    ({}, {"max_norm": 1.0}, "layer: max_norm 1.0 here, None saved"),
    ({"max_norm": 1.0}, {"max_norm": None}, "layer: max_norm None here, 1.0 saved"),  # config.json's: 1.0
    ({"max_norm": 1.0}, {"max_norm": 2.0}, "layer: max_norm 2.0 here, 1.0 saved"),
    ({"max_norm": 1.0}, {"max_norm": 1.0, "norm_type": 1.0}, "layer: norm_type 1.0 here, 2.0 saved"),
]


@pytest.mark.parametrize(("saved", "ours", "message"), WARNED)
def test_a_torch_model_with_another_max_norm_is_warned_of(
    tmp_path: Path, saved: dict[str, float | None], ours: dict[str, float | None], message: str
) -> None:
    assert _warnings("torch", _saved("torch", tmp_path, **saved), **ours) == [message]


SAME = [
    ("torch", {}, "torch", {}),
    ("torch", {"max_norm": 1.0}, "torch", {"max_norm": 1.0}),
    ("torch", {}, "flax", {}),
    ("torch", {}, "keras", {}),
    ("flax", {}, "torch", {}),
    ("keras", {}, "torch", {}),
    ("keras", {}, "flax", {}),
]


@pytest.mark.parametrize(("source", "saved", "port", "ours"), SAME)
def test_embeddings_set_alike_load_without_warning(
    tmp_path: Path, source: str, saved: dict[str, float | None], port: str, ours: dict[str, float | None]
) -> None:
    assert _warnings(port, _saved(source, tmp_path, **saved), **ours) == []


def _as_before(path: Path) -> Path:
    """``path``'s checkpoint as written before an embedding's settings were recorded (it recorded none)."""
    file = str(path / "model.safetensors")
    with safe_open(file, "np") as opened:
        metadata = dict(opened.metadata())
    save_file(load_file(file), file, {k: v for k, v in metadata.items() if k != SETTINGS_KEY})
    return path


@pytest.mark.parametrize(("port", "ours"), [("torch", {"max_norm": 1.0}), ("torch", {"max_norm": None}), ("flax", {})])
def test_a_file_written_before_max_norm_was_recorded_loads_without_warning(
    tmp_path: Path, port: str, ours: dict[str, float | None]
) -> None:
    path = _as_before(_saved("torch", tmp_path, max_norm=1.0))
    assert _warnings(port, path, **ours) == []
