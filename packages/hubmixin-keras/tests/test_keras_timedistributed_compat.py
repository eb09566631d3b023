"""Files an older hubmixin-keras wrote of a ``TimeDistributed`` layer, which held its wrapped layer's tensors under
the wrapper's ``layer`` (``tagger.layer.weight``, with a build record of the wrapper and the wrapped layer's
settings at ``tagger.layer``), load into the same model as before, now that they are saved at the wrapper's path."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import keras
import numpy as np
from safetensors import safe_open
from safetensors.numpy import load_file, save_file

from hubmixin_core.errors import LayerSettingsWarning
from hubmixin_core.weights import BUILD_KEY, SETTINGS_KEY
from hubmixin_keras import KerasModelHubMixin
from hubmixin_keras._layout import older_wrapper_renames

X = np.random.default_rng(0).normal(size=(2, 3, 4, 4, 2)).astype(np.float32)


class Frames(keras.Model, KerasModelHubMixin):  # type: ignore[misc]
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.frames = keras.layers.TimeDistributed(keras.layers.Conv2D(3, 3, padding="same"))
        self.twice = keras.layers.TimeDistributed(keras.layers.TimeDistributed(keras.layers.Dense(2)))

    def call(self, x: Any) -> Any:
        return self.twice(self.frames(x))


def _numpy(value: Any) -> np.ndarray[Any, Any]:
    return np.asarray(keras.ops.convert_to_numpy(value))


def _as_older(path: Path, model: Frames) -> Path:
    """``path``'s checkpoint as an older hubmixin-keras wrote it: the wrapped layers' tensors and settings under
    ``layer`` (once per wrapper), a build record for each wrapper."""
    file = str(path / "model.safetensors")
    with safe_open(file, "np") as opened:
        metadata = dict(opened.metadata())
    older = {"frames.": "frames.layer.", "twice.": "twice.layer.layer."}
    tensors = {
        next((name.replace(new, old, 1) for new, old in older.items() if name.startswith(new)), name): tensor
        for name, tensor in load_file(file).items()
    }
    settings = json.loads(metadata[SETTINGS_KEY])
    metadata[SETTINGS_KEY] = json.dumps({"frames.layer": settings.pop("frames"), **settings})
    builds = {"frames": model.frames.get_build_config(), "twice": model.twice.get_build_config()}
    metadata[BUILD_KEY] = json.dumps(builds)
    save_file(tensors, file, metadata)
    return path


def test_an_older_file_of_wrapped_layers_loads_into_the_same_model(tmp_path: Path) -> None:
    model = Frames()
    expected = _numpy(model(X))
    model.save_pretrained(tmp_path)
    _as_older(tmp_path, model)
    with safe_open(str(tmp_path / "model.safetensors"), "np") as opened:
        assert sorted(opened.keys())[0] == "frames.layer.bias"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        loaded = Frames.from_pretrained(tmp_path, strict=True)
    assert [w for w in caught if issubclass(w.category, LayerSettingsWarning)] == []
    np.testing.assert_array_equal(_numpy(loaded(X)), expected)


def test_the_older_path_is_renamed_only_where_the_file_holds_nothing_at_the_new_one() -> None:
    dense = keras.layers.TimeDistributed(keras.layers.Dense(2))
    assert older_wrapper_renames([("head", dense)], ["head.weight", "head.bias"]) == {}
    assert older_wrapper_renames([("head", dense)], ["head.weight", "head.layer.weight"]) == {}
    assert older_wrapper_renames([("head", dense)], ["head.layer.weight"]) == {r"^head\.layer\.": "head."}


class Block(keras.layers.Layer):  # type: ignore[misc]
    pass


def test_a_wrapped_layer_walked_on_its_own_is_not_renamed() -> None:
    assert older_wrapper_renames([("head", keras.layers.TimeDistributed(Block()))], ["head.layer.w"]) == {}
    twice = keras.layers.TimeDistributed(keras.layers.TimeDistributed(Block()))
    assert older_wrapper_renames([("head", twice)], ["head.layer.layer.w"]) == {}
