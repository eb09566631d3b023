"""Save and load: every variable bit-exact, equal outputs, the config without Keras' own keywords, attribute keys."""

from __future__ import annotations

import json
from pathlib import Path

import keras
import numpy as np
import pytest
from keras_models import IDS, IMAGE, Block, Net, assert_same_variables, canonical, make_net, numpy, outputs
from safetensors import safe_open
from safetensors.numpy import load_file

from hubmixin_core import ModelHubMixin
from hubmixin_keras import KerasModelHubMixin

CONFIG = {"units": 4, "depth": 2, "vocab": 10}


def _file_keys(directory: Path) -> list[str]:
    with safe_open(str(directory / "model.safetensors"), framework="numpy") as f:
        keys: list[str] = f.keys()
    return sorted(keys)


def test_files_config_and_card(saved: Path) -> None:
    assert sorted(p.name for p in saved.iterdir()) == ["README.md", "config.json", "model.safetensors"]
    assert json.loads((saved / "config.json").read_text()) == CONFIG
    readme = (saved / "README.md").read_text()
    assert "keras_model_hub_mixin" in readme
    assert "license: mit" in readme


def test_round_trip_is_bit_exact_with_equal_outputs(net: Net, saved: Path) -> None:
    loaded = Net.from_pretrained(saved, strict=True)
    assert isinstance(loaded, Net) and isinstance(loaded, ModelHubMixin)
    assert loaded._hub_mixin_config == CONFIG
    assert_same_variables(net, loaded)
    assert {str(v.dtype) for v in loaded.weights} == {"float32", "int32"}
    assert str(loaded.scale.steps.dtype) == "int32"
    for ours, theirs in zip(outputs(net), outputs(loaded), strict=True):
        np.testing.assert_array_equal(ours, theirs)


def test_keras_keywords_are_not_in_the_config(tmp_path: Path) -> None:
    model = Net(depth=1, name="my_net", trainable=False, dtype="float32")
    assert model.name == "my_net"
    assert model._hub_mixin_config == {"units": 4, "depth": 1, "vocab": 10}
    model(IDS, IMAGE)
    model.save_pretrained(tmp_path)
    assert json.loads((tmp_path / "config.json").read_text()) == {"units": 4, "depth": 1, "vocab": 10}
    assert Net.from_pretrained(tmp_path).name != "my_net"
    named = Net.from_pretrained(tmp_path, model_kwargs={"name": "other", "trainable": False}, strict=True)
    assert named.name == "other" and not named.trainable
    assert named._hub_mixin_config == {"units": 4, "depth": 1, "vocab": 10}


def test_nested_layers_lists_and_dicts_are_rebuilt(saved: Path) -> None:
    loaded = Net.from_pretrained(saved, strict=True)
    assert len(loaded.blocks) == 2 and all(isinstance(block, Block) for block in loaded.blocks)
    assert sorted(loaded.heads) == ["left", "right"]
    assert loaded.heads["right"].bias is None
    keys = _file_keys(saved)
    assert "blocks.1.dense.weight" in keys and "heads.left.weight" in keys and "heads.right.weight" in keys


def test_keys_are_attribute_paths_not_keras_auto_names(net: Net, tmp_path: Path) -> None:
    first, second = make_net(seed=1), make_net(seed=2)
    names = {layer.name for layer in (net.emb, first.emb, second.emb)}
    assert len(names) == 3  # embedding, embedding_1, ...: Keras numbers its auto names per process
    assert len({net.blocks[0].dense.name, first.blocks[0].dense.name}) == 2
    first.save_pretrained(tmp_path / "first")
    second.save_pretrained(tmp_path / "second")
    assert _file_keys(tmp_path / "first") == _file_keys(tmp_path / "second") == sorted(canonical(net))
    assert not any("embedding" in key or "dense_" in key for key in _file_keys(tmp_path / "first"))
    loaded = Net.from_pretrained(tmp_path / "first", strict=True)  # yet other auto names: keys still match
    assert_same_variables(first, loaded)


def test_batch_norm_statistics_are_loaded_and_used_in_inference(net: Net, saved: Path) -> None:
    loaded = Net.from_pretrained(saved, strict=True)
    file = load_file(saved / "model.safetensors")
    x = np.random.default_rng(1).standard_normal((2, 4)).astype("float32")
    mean, var = file["blocks.1.norm.running_mean"], file["blocks.1.norm.running_var"]
    assert not np.array_equal(mean, np.zeros(4, "float32")) and not np.array_equal(var, np.ones(4, "float32"))
    expected = (x - mean) / np.sqrt(var + 1e-5) * file["blocks.1.norm.weight"] + file["blocks.1.norm.bias"]
    np.testing.assert_allclose(numpy(loaded.blocks[1].norm(x, training=False)), expected, rtol=1e-5, atol=1e-6)
    ours, theirs = outputs(net), outputs(loaded)  # training=False: the running statistics
    for a, b in zip(ours, theirs, strict=True):
        np.testing.assert_array_equal(a, b)
    assert not np.allclose(outputs(loaded, IDS, IMAGE, training=True)[0], theirs[0])  # batch statistics instead


def test_dropout_seed_state_is_not_saved_and_is_usable(saved: Path) -> None:
    keys = _file_keys(saved)
    assert not any("seed" in key or "drop" in key for key in keys)
    loaded = Net.from_pretrained(saved)
    x = np.ones((4, 64), "float32")
    first, second = numpy(loaded.drop(x, training=True)), numpy(loaded.drop(x, training=True))
    assert set(np.unique(first).tolist()) == {0.0, 2.0}  # dropped, or kept and scaled by 1 / 0.5
    assert not np.array_equal(first, second)  # the seed state advances


def test_saving_a_loaded_model_round_trips(net: Net, saved: Path, tmp_path: Path) -> None:
    Net.from_pretrained(saved).save_pretrained(tmp_path / "again")
    assert (tmp_path / "again" / "config.json").read_text() == (saved / "config.json").read_text()
    assert_same_variables(net, Net.from_pretrained(tmp_path / "again", strict=True))


class Rooted(keras.Model, KerasModelHubMixin):  # type: ignore[misc]
    """A variable of the model itself (0-d), next to a layer's."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.temperature = self.add_weight(shape=(), initializer="ones", name="temperature")
        self.dense = keras.layers.Dense(2)

    def call(self, x: object) -> object:
        return self.dense(x) / self.temperature


def test_the_model_own_variables_are_saved_at_the_root(tmp_path: Path) -> None:
    model = Rooted()
    x = np.ones((1, 3), "float32")
    model(x)
    model.temperature.assign(np.float32(2.5))
    model.save_pretrained(tmp_path)
    assert _file_keys(tmp_path) == ["dense.bias", "dense.weight", "temperature"]
    with safe_open(str(tmp_path / "model.safetensors"), framework="numpy") as f:
        assert f.get_slice("temperature").get_shape() == []
    loaded = Rooted.from_pretrained(tmp_path, strict=True)
    assert float(numpy(loaded.temperature)) == 2.5
    np.testing.assert_array_equal(numpy(loaded(x)), numpy(model(x)))


class Shared(keras.Model, KerasModelHubMixin):  # type: ignore[misc]
    """One layer under two attributes."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.first = keras.layers.Dense(3)
        self.again = self.first

    def call(self, x: object) -> object:
        return self.again(self.first(x))


def test_a_shared_layer_is_saved_once_under_its_first_path_and_stays_shared(tmp_path: Path) -> None:
    model = Shared()
    x = np.ones((1, 3), "float32")
    model(x)
    model.save_pretrained(tmp_path)
    assert _file_keys(tmp_path) == ["first.bias", "first.weight"]
    loaded = Shared.from_pretrained(tmp_path, strict=True)
    assert loaded.again is loaded.first
    np.testing.assert_array_equal(numpy(loaded(x)), numpy(model(x)))


def test_a_non_keras_subclass_is_a_type_error(tmp_path: Path) -> None:
    class NotAModel(KerasModelHubMixin):
        pass

    with pytest.raises(TypeError, match=r"not a keras\.Model"):
        NotAModel().save_pretrained(tmp_path / "out")
    assert not (tmp_path / "out").exists()


class _Odd(keras.Model, KerasModelHubMixin):  # type: ignore[misc]
    """Variables of odd sizes (11 and 7 floats), which a 16-byte aligned allocation would start mid-line."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.a, self.b = keras.layers.Dense(11), keras.layers.Dense(7)

    def call(self, x: object) -> object:
        return self.b(self.a(x))


@pytest.mark.skipif(keras.backend.backend() != "torch", reason="data_ptr() of the PyTorch backend's variables")
def test_variables_loaded_on_the_torch_backend_are_64_byte_aligned_and_their_own(tmp_path: Path) -> None:
    x = np.random.default_rng(0).standard_normal((64, 7)).astype("float32")
    for attempt in range(10):
        model = _Odd()
        model(x)
        model.save_pretrained(tmp_path / str(attempt))
        loaded = _Odd.from_pretrained(tmp_path / str(attempt))
        assert [w.value.data_ptr() % 64 for w in loaded.weights] == [0] * 4
        assert np.array_equal(numpy(model(x)), numpy(loaded(x)))
    pointers = [w.value.data_ptr() for w in loaded.weights]
    assert len(set(pointers)) == len(pointers)
