"""Normalization layers on any channel axis built from a checkpoint, a layer its tensors cannot build, Keras' own
full-model saving named with the call that loads it, exact outputs of orthogonally initialised layers on torch,
and a mixin class without ``keras.Model``."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pytest
from huggingface_hub import HfApi
from keras_models import numpy

from hubmixin_core.errors import HubMixinTypeError, WeightsError, WeightsNotFoundError
from hubmixin_core.testing import LocalHub
from hubmixin_keras import KerasModelHubMixin

pytest.importorskip("torch")
pytest.importorskip("hubmixin_torch")

import torch
from torch import nn

from hubmixin_torch import PyTorchModelHubMixin

IMAGES = np.random.default_rng(0).standard_normal((2, 5, 4, 4)).astype(np.float32)  # NHWC, W == channels


class Normed(keras.Model, KerasModelHubMixin):  # type: ignore[misc]
    """A convolution, then a batch or group normalization over ``axis``."""

    def __init__(self, norm: str = "batch", axis: int = 3, groups: int = 2, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.conv = keras.layers.Conv2D(4, 3, padding="same")
        self.norm: keras.layers.Layer = (
            keras.layers.BatchNormalization(axis=axis, epsilon=1e-5)
            if norm == "batch"
            else keras.layers.GroupNormalization(groups=groups, axis=axis, epsilon=1e-5)
        )

    def call(self, x: Any, training: bool = False) -> Any:
        return self.norm(self.conv(x), training=training)


def _randomized(model: keras.Model) -> keras.Model:
    model(IMAGES)
    rng = np.random.default_rng(1)
    for variable in model.weights:
        variable.assign(rng.uniform(0.5, 1.5, tuple(variable.shape)).astype(np.float32))
    return model


@pytest.mark.parametrize("norm", ["batch", "group"])
@pytest.mark.parametrize("axis", [3, 2, -2, -1])
def test_a_norm_on_any_channel_axis_loads(tmp_path: Path, norm: str, axis: int) -> None:
    model = _randomized(Normed(norm, axis))
    model.save_pretrained(tmp_path)
    loaded = Normed.from_pretrained(tmp_path, strict=True)
    for ours, theirs in zip(model.weights, loaded.weights, strict=True):
        np.testing.assert_array_equal(numpy(ours), numpy(theirs))
    np.testing.assert_array_equal(numpy(model(IMAGES)), numpy(loaded(IMAGES)))
    # training: a batch norm's moments reduce over every axis but its own, on inputs of the rank it was called with
    np.testing.assert_array_equal(numpy(model(IMAGES, training=True)), numpy(loaded(IMAGES, training=True)))
    for ours, theirs in zip(model.weights, loaded.weights, strict=True):
        np.testing.assert_array_equal(numpy(ours), numpy(theirs))


class TorchNormed(nn.Module, PyTorchModelHubMixin):
    """What ``Normed("batch", axis=3)`` computes, on NCHW images."""

    def __init__(self, norm: str = "batch", axis: int = 3, groups: int = 2) -> None:
        super().__init__()
        self.conv = nn.Conv2d(4, 4, 3, padding=1)
        self.norm = nn.BatchNorm2d(4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.norm(self.conv(x))
        return out


@pytest.mark.parametrize("strict", [False, True])
def test_a_torch_batch_norm_2d_loads_into_a_channels_last_port(tmp_path: Path, strict: bool) -> None:
    torch.manual_seed(0)
    source = TorchNormed()
    with torch.no_grad():
        for tensor in (*source.parameters(), *(b for b in source.buffers() if b.is_floating_point())):
            tensor.uniform_(0.5, 1.5)
    source.eval().save_pretrained(tmp_path)
    loaded = Normed.from_pretrained(tmp_path, strict=strict)
    with torch.no_grad():
        expected = source(torch.from_numpy(IMAGES).permute(0, 3, 1, 2)).permute(0, 2, 3, 1).numpy()
    np.testing.assert_allclose(numpy(loaded(IMAGES)), expected, rtol=1e-5, atol=1e-5)


def test_a_layer_its_tensors_cannot_build_is_named(tmp_path: Path) -> None:
    _randomized(Normed("group", axis=-1, groups=2)).save_pretrained(tmp_path)
    with pytest.raises(WeightsError, match=r"layer 'norm' \(GroupNormalization\) cannot be built") as info:
        Normed.from_pretrained(tmp_path, model_kwargs={"groups": 3})  # 3 groups of 4 channels
    assert str(tmp_path / "model.safetensors") in str(info.value) and "groups" in str(info.value)


class Dense(keras.Model, KerasModelHubMixin):  # type: ignore[misc]
    """One Dense layer (registered: Keras' own saving stores the class by name)."""

    def __init__(self, units: int = 4, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.dense = keras.layers.Dense(units)

    def call(self, x: Any) -> Any:
        return self.dense(x)


keras.saving.register_keras_serializable("hubmixin_tests_norm_axes")(Dense)


def _keras_saved_model() -> Dense:
    model = Dense()
    model(np.ones((1, 3), np.float32))
    return model


def test_a_directory_of_keras_full_model_saving_names_load_model(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    directory = tmp_path / "saved"
    _keras_saved_model().save(directory, zipped=False)  # config.json, metadata.json, model.weights.h5
    with caplog.at_level(logging.WARNING), pytest.raises(WeightsNotFoundError) as info:
        Dense.from_pretrained(directory)
    assert f'keras.saving.load_model("{directory}")' in str(info.value)
    assert "load_weights" not in str(info.value)
    assert "saved by another class" not in caplog.text
    assert isinstance(keras.saving.load_model(directory), Dense)  # the call named does load it


def test_a_hub_repo_of_keras_full_model_saving_names_load_model(
    local_hub: LocalHub, caplog: pytest.LogCaptureFixture
) -> None:
    repo_id = f"{local_hub.username}/keras-full"
    _keras_saved_model().save(f"hf://{repo_id}")
    with caplog.at_level(logging.WARNING), pytest.raises(WeightsNotFoundError) as info:
        Dense.from_pretrained(repo_id)
    assert f'keras.saving.load_model("hf://{repo_id}")' in str(info.value)
    assert "saved by another class" not in caplog.text


def test_a_keras_file_on_the_hub_is_named_by_a_path_that_exists(local_hub: LocalHub, tmp_path: Path) -> None:
    repo_id = f"{local_hub.username}/keras-file"
    _keras_saved_model().save(tmp_path / "model.keras")
    HfApi().create_repo(repo_id)
    HfApi().upload_file(path_or_fileobj=tmp_path / "model.keras", path_in_repo="model.keras", repo_id=repo_id)
    with pytest.raises(WeightsNotFoundError) as info:
        Dense.from_pretrained(repo_id)
    assert f'keras.saving.load_model(huggingface_hub.hf_hub_download("{repo_id}", "model.keras"))' in str(info.value)


def test_a_keras_config_beside_safetensors_still_loads(tmp_path: Path) -> None:
    model = _keras_saved_model()
    model.save_pretrained(tmp_path)
    model.save(tmp_path, zipped=False)  # Keras' config.json over the mixin's: the safetensors stay
    np.testing.assert_array_equal(numpy(Dense.from_pretrained(tmp_path).dense.kernel), numpy(model.dense.kernel))


class Orthogonal(keras.Model, KerasModelHubMixin):  # type: ignore[misc]
    """Layers whose kernels Keras' orthogonal initializer gives (not row-major on torch)."""

    def __init__(self, units: int = 4, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.rnn = keras.layers.SimpleRNN(units)
        self.dense = keras.layers.Dense(units, kernel_initializer="orthogonal")
        self.conv = keras.layers.Conv1D(units, 3, kernel_initializer="orthogonal")

    def call(self, x: Any) -> tuple[Any, Any, Any]:
        return self.rnn(x), self.dense(x), self.conv(x)


@pytest.mark.parametrize(("units", "width"), [(4, 8), (16, 16), (32, 64), (64, 32)])
def test_orthogonally_initialised_layers_give_the_same_outputs_bit_for_bit(
    tmp_path: Path, units: int, width: int
) -> None:
    x = np.random.default_rng(0).standard_normal((3, 7, width)).astype(np.float32)
    model = Orthogonal(units)
    expected = [numpy(y) for y in model(x)]
    model.save_pretrained(tmp_path)
    loaded = Orthogonal.from_pretrained(tmp_path, strict=True)
    for ours, theirs in zip(expected, loaded(x), strict=True):
        np.testing.assert_array_equal(ours, numpy(theirs))
    if keras.backend.backend() == "torch":  # the same kernels run: the tensors have the same memory order
        for ours, theirs in zip(model.weights, loaded.weights, strict=True):
            assert ours.value.stride() == theirs.value.stride(), ours.path


class NotKeras(KerasModelHubMixin):
    """A mixin class that forgot ``keras.Model``."""

    def __init__(self, units: int = 4) -> None:
        self.units = units


def test_from_pretrained_of_a_class_without_keras_model_says_so(tmp_path: Path) -> None:
    _keras_saved_model().save_pretrained(tmp_path)
    with pytest.raises(HubMixinTypeError, match=r"NotKeras uses KerasModelHubMixin but is not a keras\.Model subclass"):
        NotKeras.from_pretrained(tmp_path)
