"""QA round 17: on the PyTorch backend, torch parameters and buffers set on a Keras layer directly (not Keras
variables) are named as not saved; a load that is not strict names a layer whose shape-giving tensors the
checkpoint lacks, and says its tensors the checkpoint holds are not loaded."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pytest
from safetensors.numpy import load_file, save_file

from hubmixin_core.errors import WeightsKeyError
from hubmixin_keras import KerasModelHubMixin

on_torch = pytest.mark.skipif(keras.backend.backend() != "torch", reason="torch tensors on the PyTorch backend")


def _raw_tensor_model() -> keras.Model:
    """A model holding torch tensors of its own beside its Keras variables: a parameter and a buffer on the
    model, a parameter on a sub-layer, and a non-persistent buffer (torch never saves those)."""
    import torch

    class Gain(keras.layers.Layer):  # type: ignore[misc]
        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.gain = torch.nn.Parameter(torch.full((2,), 2.0))

        def call(self, x: Any) -> Any:
            return x * self.gain

    class Raw(keras.Model, KerasModelHubMixin):  # type: ignore[misc]
        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.fc = keras.layers.Dense(2)
            self.block = Gain()
            self.scale = torch.nn.Parameter(torch.full((2,), 3.0))
            self.register_buffer("shift", torch.ones(2))
            self.register_buffer("table", torch.zeros(2), persistent=False)

        def call(self, x: Any) -> Any:
            return self.block(self.fc(x)) * self.scale + self.shift + self.table

    return Raw()


def _save_warnings(model: Any, directory: Path) -> list[str]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.save_pretrained(directory)
    return [str(warning.message) for warning in caught if issubclass(warning.category, UserWarning)]


@on_torch
def test_torch_parameters_and_buffers_of_layers_are_named_as_not_saved(tmp_path: Path) -> None:
    model = _raw_tensor_model()
    model(np.ones((1, 3), "float32"))
    messages = _save_warnings(model, tmp_path)
    named = [message for message in messages if "torch tensors" in message]
    assert len(named) == 1, messages
    assert "torch tensors 'scale', 'shift', 'block.gain' are set on layers as torch parameters or buffers" in named[0]
    assert "'table'" not in named[0]  # non-persistent: not part of a torch state_dict either
    assert "not saved" in named[0]
    assert sorted(load_file(tmp_path / "model.safetensors")) == ["fc.bias", "fc.weight"]


@on_torch
def test_keras_own_torch_state_is_not_named(tmp_path: Path) -> None:
    import torch

    class Plain(keras.Model, KerasModelHubMixin):  # type: ignore[misc]
        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.drop = keras.layers.Dropout(0.5)  # seed-generator state
            self.fc = keras.layers.Dense(3)
            self.norm = keras.layers.BatchNormalization()
            self.net = torch.nn.Sequential(torch.nn.Linear(3, 3), torch.nn.BatchNorm1d(3))  # wrapped by Keras
            self.offset = keras.Variable(np.ones(3, "float32"))

        def call(self, x: Any) -> Any:
            return self.net(self.norm(self.fc(self.drop(x)))) + self.offset

    model = Plain()
    model(np.ones((2, 4), "float32"))
    assert not [message for message in _save_warnings(model, tmp_path) if "torch tensors" in message]


class Seq(keras.Model, KerasModelHubMixin):  # type: ignore[misc]
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.emb = keras.layers.Embedding(10, 4)
        self.att = keras.layers.MultiHeadAttention(2, 2)
        self.lstm = keras.layers.LSTM(3)
        self.head = keras.layers.Dense(2)

    def call(self, x: Any) -> Any:
        h = self.emb(x)
        return self.head(self.lstm(self.att(h, h)))


IDS = np.array([[1, 2, 3], [4, 5, 6]], "int32")


@pytest.fixture(scope="module")
def seq_tensors(tmp_path_factory: pytest.TempPathFactory) -> dict[str, np.ndarray[Any, Any]]:
    model = Seq()
    model(IDS)
    directory = tmp_path_factory.mktemp("seq")
    model.save_pretrained(directory)
    return load_file(directory / "model.safetensors")


def _without(tensors: dict[str, np.ndarray[Any, Any]], directory: Path, *dropped: str) -> Path:
    directory.mkdir()
    kept = {key: value for key, value in tensors.items() if not key.startswith(dropped)}
    save_file(kept, directory / "model.safetensors")
    return directory


@pytest.mark.parametrize(
    ("dropped", "held"),
    [
        ("lstm.weight_ih_l0", ["lstm.bias_hh_l0", "lstm.bias_ih_l0", "lstm.weight_hh_l0"]),
        ("att.in_proj_weight", ["att.in_proj_bias", "att.out_proj.bias", "att.out_proj.weight"]),
    ],
)
def test_a_layer_lacking_its_shape_giving_tensor_is_named_with_it_when_not_strict(
    seq_tensors: dict[str, np.ndarray[Any, Any]],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    dropped: str,
    held: list[str],
) -> None:
    directory = _without(seq_tensors, tmp_path / "partial", dropped)
    layer = dropped.split(".")[0]
    with caplog.at_level(logging.WARNING, logger="hubmixin_keras"):
        loaded = Seq.from_pretrained(directory)
    text = caplog.text
    assert f"layers [{layer!r}] are not in" not in text  # the checkpoint holds its other tensors
    assert f"layer {layer!r}: no tensors in {directory / 'model.safetensors'} that give its shapes" in text
    assert f"(missing keys [{dropped!r}])" in text
    assert f"the 3 tensors the checkpoint holds under its path are not loaded: {', '.join(map(repr, held))}" in text
    assert "Keras builds it at its first call, with its own initialisation" in text
    assert np.isfinite(keras.ops.convert_to_numpy(loaded(IDS))).all()  # built at its first call
    with pytest.raises(WeightsKeyError) as info:  # the strict error words it the same
        Seq.from_pretrained(directory, strict=True)
    assert info.value.missing == [dropped]
    assert f"layer {layer!r}: no tensors in the checkpoint that give its shapes" in str(info.value)


def test_several_partial_layers_and_an_absent_one_are_told_apart(
    seq_tensors: dict[str, np.ndarray[Any, Any]], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    directory = _without(seq_tensors, tmp_path / "partial", "lstm.weight_ih_l0", "att.in_proj_weight", "head.")
    with caplog.at_level(logging.WARNING, logger="hubmixin_keras"):
        Seq.from_pretrained(directory)
    text = caplog.text
    assert "layers ['head'] are not in" in text  # nothing of it in the checkpoint
    assert "layers 'att', 'lstm': no tensors in" in text
    assert "that give their shapes (missing keys ['att.in_proj_weight', 'lstm.weight_ih_l0'])" in text
    assert "the 6 tensors the checkpoint holds under their paths are not loaded" in text
    assert "Keras builds them at their first call" in text


class _Float8(keras.layers.Layer):  # type: ignore[misc]
    def build(self, input_shape: Any = None) -> None:
        self.w = self.add_weight(name="w", shape=(4,), dtype="float8_e4m3fn", trainable=False, initializer="zeros")

    def call(self, x: Any) -> Any:
        return x


class Float8Model(keras.Model, KerasModelHubMixin):  # type: ignore[misc]
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.scales = _Float8()

    def call(self, x: Any) -> Any:
        return self.scales(x)


@pytest.mark.skipif(keras.backend.backend() == "tensorflow", reason="TensorFlow makes no float8 variable (Cast)")
def test_float8_variables_round_trip_on_jax_and_torch(tmp_path: Path) -> None:
    import ml_dtypes

    model = Float8Model()
    model.scales.build()
    values = np.array([1.0, -2.0, 0.5, 448.0], ml_dtypes.float8_e4m3fn)
    model.scales.w.assign(values.astype(np.float32))
    model.save_pretrained(tmp_path)
    pytest.importorskip("torch")  # (its checkpoint is read with torch: safetensors' numpy reader takes no float8)
    import torch
    from safetensors.torch import load_file as load_torch_file

    saved = load_torch_file(str(tmp_path / "model.safetensors"))["scales.w"]
    assert saved.dtype == torch.float8_e4m3fn and saved.view(torch.uint8).tolist() == values.view(np.uint8).tolist()
    loaded = Float8Model.from_pretrained(tmp_path, strict=True)
    value = keras.ops.convert_to_numpy(keras.ops.cast(loaded.scales.w.value, "float32"))
    assert str(loaded.scales.w.dtype) == "float8_e4m3fn" and value.tolist() == [1.0, -2.0, 0.5, 448.0]
