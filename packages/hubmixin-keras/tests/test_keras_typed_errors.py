"""Bad checkpoints for Keras: tensors of the wrong rank, deeply nested layer settings, float8 FNUZ dtypes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import keras
import numpy as np
import pytest
from safetensors.numpy import load_file, save_file

from hubmixin_core.errors import WeightsShapeError
from hubmixin_core.weights._settings import SETTINGS_KEY
from hubmixin_keras import KerasModelHubMixin


class Small(keras.Model, KerasModelHubMixin):  # type: ignore[misc]
    """A Dense layer and a Conv2D, both built from the checkpoint's shapes at load."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.fc1 = keras.layers.Dense(3)
        self.conv = keras.layers.Conv2D(2, (3, 3))

    def call(self, x: Any) -> Any:
        return self.fc1(self.conv(x))


@pytest.fixture
def saved(tmp_path: Path) -> Path:
    model = Small()
    model(np.zeros((1, 5, 5, 4), np.float32))
    model.save_pretrained(tmp_path)
    return tmp_path


def _replace(directory: Path, key: str, array: np.ndarray[Any, Any], metadata: dict[str, str] | None = None) -> Path:
    path = directory / "model.safetensors"
    tensors = load_file(str(path))
    tensors[key] = array
    save_file(tensors, str(path), {"format": "pt", **(metadata or {})})
    return path


@pytest.mark.parametrize(
    ("key", "shape"), [("fc1.weight", ()), ("fc1.weight", (3, 2, 1)), ("conv.weight", (2,)), ("conv.weight", ())]
)
def test_a_tensor_of_the_wrong_rank_is_a_shape_error(saved: Path, key: str, shape: tuple[int, ...]) -> None:
    path = _replace(saved, key, np.ones(shape, np.float32))
    with pytest.raises(WeightsShapeError) as info:
        Small.from_pretrained(saved)
    message = str(info.value)
    assert str(path) in message and repr(key) in message and str(shape) in message
    assert info.value.key == key and info.value.found == shape


def test_deeply_nested_settings_warn_at_load(saved: Path) -> None:
    tensors = load_file(str(saved / "model.safetensors"))
    deep = "[" * 100_000 + "]" * 100_000
    save_file(tensors, str(saved / "model.safetensors"), {"format": "pt", SETTINGS_KEY: deep})
    with pytest.warns(UserWarning, match=SETTINGS_KEY):
        Small.from_pretrained(saved)
