"""Layers inside a ``keras.Sequential`` and nested lists and dicts are saved and loaded (keys ``body.0``, as torch
names an ``nn.Sequential``) and functional models (by index too); layers the walk cannot reach are named at save
and at load instead of silently left out."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pytest
from keras_models import numpy, randomize_weights
from safetensors.numpy import load_file

from hubmixin_core.errors import WeightsKeyError
from hubmixin_keras import KerasModelHubMixin

pytest.importorskip("torch")
pytest.importorskip("hubmixin_torch")

import torch
from torch import nn

from hubmixin_torch import PyTorchModelHubMixin

X = np.random.default_rng(0).standard_normal((2, 6)).astype(np.float32)


class Nested(keras.Model, KerasModelHubMixin):  # type: ignore[misc]
    def __init__(self, hidden: int = 5, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.body = keras.Sequential([keras.layers.Dense(hidden, activation="relu"), keras.layers.Dense(hidden)])
        self.stages = [[keras.layers.Dense(hidden)], [keras.layers.Dense(hidden)]]
        self.heads = {"out": [keras.layers.Dense(2)]}

    def call(self, x: Any) -> Any:
        x = self.body(x)
        for stage in self.stages:
            x = stage[0](x)
        return self.heads["out"][0](x)


def _randomized(model: keras.Model) -> keras.Model:
    model(X)
    randomize_weights(model, seed=1)
    return model


def test_sequential_and_nested_containers_round_trip(tmp_path: Path) -> None:
    model = _randomized(Nested())
    model.save_pretrained(tmp_path)
    keys = sorted(load_file(str(tmp_path / "model.safetensors")))
    expected = ["body.0", "body.1", "heads.out.0", "stages.0.0", "stages.1.0"]
    assert keys == sorted(f"{layer}.{name}" for layer in expected for name in ("bias", "weight"))
    loaded = Nested.from_pretrained(tmp_path, strict=True)
    assert len(loaded.weights) == len(model.weights) == 10
    np.testing.assert_array_equal(numpy(loaded(X)), numpy(model(X)))


class TorchMLP(nn.Module, PyTorchModelHubMixin):
    def __init__(self, hidden: int = 5) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Linear(6, hidden), nn.ReLU(), nn.Linear(hidden, 2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.body(x)
        return out


class KerasMLP(keras.Model, KerasModelHubMixin):  # type: ignore[misc]
    def __init__(self, hidden: int = 5, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.body = keras.Sequential([keras.layers.Dense(hidden), keras.layers.ReLU(), keras.layers.Dense(2)])

    def call(self, x: Any) -> Any:
        return self.body(x)


def test_torch_sequential_and_keras_sequential_exchange_checkpoints(tmp_path: Path) -> None:
    torch.manual_seed(0)
    source = TorchMLP()
    source.save_pretrained(tmp_path / "torch")
    port = KerasMLP.from_pretrained(tmp_path / "torch", strict=True)
    with torch.no_grad():
        expected = source(torch.from_numpy(X)).numpy()
    np.testing.assert_allclose(numpy(port(X)), expected, rtol=1e-5, atol=1e-6)
    port.save_pretrained(tmp_path / "keras")
    back = TorchMLP.from_pretrained(tmp_path / "keras", strict=True)
    for name, tensor in source.state_dict().items():
        assert torch.equal(back.state_dict()[name], tensor), name


class Hidden(keras.Model, KerasModelHubMixin):  # type: ignore[misc]
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.inner = {keras.layers.Dense(3)}  # a set: Keras tracks it, no key can name its items
        self.head = keras.layers.Dense(2)

    def call(self, x: Any) -> Any:
        return self.head(next(iter(self.inner))(x))


def test_variables_the_walk_cannot_reach_are_named_at_save_and_at_load(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    model = Hidden()
    model(X)
    with pytest.warns(UserWarning, match=r"variables '[^']*kernel', '[^']*bias' are held by layers hubmixin does not"):
        model.save_pretrained(tmp_path)

    with pytest.raises(WeightsKeyError, match=r"held by layers hubmixin does not walk.*missing keys \['dense[_0-9]*'"):
        Hidden.from_pretrained(tmp_path, strict=True)  # (not built yet: named as a layer)
    with caplog.at_level(logging.WARNING, logger="hubmixin_keras"):
        loaded = Hidden.from_pretrained(tmp_path)
    assert "not loaded: 'dense" in caplog.text
    np.testing.assert_array_equal(numpy(loaded.head.kernel), numpy(model.head.kernel))


class HiddenBuilt(keras.Model, KerasModelHubMixin):  # type: ignore[misc]
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        inputs = keras.Input((6,))
        self.inner = {keras.Model(inputs, keras.layers.Dense(3)(inputs))}  # built here, in a set: not walked

    def call(self, x: Any) -> Any:
        return next(iter(self.inner))(x)


def test_built_variables_the_walk_cannot_reach_fail_a_strict_load(tmp_path: Path) -> None:
    model = HiddenBuilt()
    with pytest.warns(UserWarning, match="not saved"):
        model.save_pretrained(tmp_path)
    with pytest.raises(WeightsKeyError, match=r"missing keys \['[^']*/kernel', '[^']*/bias'\]"):
        HiddenBuilt.from_pretrained(tmp_path, strict=True)


class Private(keras.Model, KerasModelHubMixin):  # type: ignore[misc]
    """Holds layers in private attributes (as keras-hub's layers do), one of them also public."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._proj = keras.layers.Dense(4)
        self._blocks = [keras.layers.Dense(4), keras.layers.LayerNormalization()]
        self._head = keras.layers.Dense(2)
        self.head = self._head  # its public name wins

    def call(self, x: Any) -> Any:
        return self.head(self._blocks[1](self._blocks[0](self._proj(x))))


class TorchPrivate(nn.Module, PyTorchModelHubMixin):
    def __init__(self) -> None:
        super().__init__()
        self._proj = nn.Linear(6, 4)
        self._blocks = nn.ModuleList([nn.Linear(4, 4), nn.LayerNorm(4, eps=1e-3)])
        self.head = nn.Linear(4, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.head(self._blocks[1](self._blocks[0](self._proj(x))))
        return out


def test_layers_in_private_attributes_are_saved_as_torch_names_them(tmp_path: Path) -> None:
    model = Private()
    model(X)
    randomize_weights(model, seed=2)
    model.save_pretrained(tmp_path / "keras")
    assert sorted(load_file(tmp_path / "keras" / "model.safetensors")) == sorted(TorchPrivate().state_dict())

    loaded = Private.from_pretrained(tmp_path / "keras", strict=True)
    np.testing.assert_array_equal(numpy(loaded(X)), numpy(model(X)))
    port = TorchPrivate.from_pretrained(tmp_path / "keras", strict=True)
    with torch.no_grad():
        np.testing.assert_allclose(port(torch.from_numpy(X)).numpy(), numpy(model(X)), rtol=1e-5, atol=1e-6)


class WithBackbone(keras.Model, KerasModelHubMixin):  # type: ignore[misc]
    """A functional model held as an attribute: the usual backbone and head."""

    def __init__(self, classes: int = 3, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        inputs = keras.Input((6,))
        hidden = keras.layers.Dense(6, activation="relu")(inputs)
        self.backbone = keras.Model(inputs, keras.layers.Dense(5)(hidden))
        self.head = keras.layers.Dense(classes)

    def call(self, x: Any) -> Any:
        return self.head(self.backbone(x))


class FunctionalStyle(keras.Model, KerasModelHubMixin):  # type: ignore[misc]
    """A functional model of its own: its layers live in the graph, not in attributes (but ``gate``)."""

    def __init__(self, width: int = 6, **kwargs: Any) -> None:
        inputs = keras.Input((6,))
        gate = keras.layers.Dense(width, name="gate")
        super().__init__(inputs=inputs, outputs=keras.layers.Dense(2)(gate(inputs)), **kwargs)
        self.gate = gate


@pytest.mark.parametrize(
    ("cls", "keys"),
    [
        (WithBackbone, ["backbone.0.bias", "backbone.0.weight", "backbone.1.bias", "backbone.1.weight", "head.bias"]),
        (FunctionalStyle, ["1.bias", "1.weight", "gate.bias", "gate.weight"]),
    ],
)
def test_functional_models_layers_are_saved_by_index(tmp_path: Path, cls: Any, keys: list[str]) -> None:
    model = cls()
    model(X)
    randomize_weights(model, seed=6)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # every variable reached: no warning
        model.save_pretrained(tmp_path)
    assert sorted(load_file(tmp_path / "model.safetensors"))[: len(keys)] == keys

    loaded = cls.from_pretrained(tmp_path, strict=True)

    for mine, theirs in zip(loaded.weights, model.weights, strict=True):  # built in the same order
        assert numpy(mine).tobytes() == numpy(theirs).tobytes(), theirs.path
    np.testing.assert_array_equal(numpy(loaded(X)), numpy(model(X)))


class PartlyCalled(keras.Model, KerasModelHubMixin):  # type: ignore[misc]
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.head = keras.layers.Dense(2)
        self.unused = keras.layers.Dense(3)  # never reached by call: never built
        self.dropout = keras.layers.Dropout(0.1)  # never built either, but it holds nothing
        self.add = keras.layers.Add()  # nor this one, which has a build
        self.emb = keras.layers.Embedding(10, 2)  # its adapter names no shape-giving tensor: built from its sizes
        self.einsum = keras.layers.EinsumDense("ab,bc->ac", 2)  # no adapter: its own build makes its variables

    def call(self, x: Any) -> Any:
        return self.head(x)


def test_layers_never_built_are_named_at_save(tmp_path: Path) -> None:
    model = PartlyCalled()
    with pytest.warns(UserWarning, match="unbuilt state"):  # Keras' own warning, at the first call
        model(X)
    unbuilt = r"layers 'unused', 'emb', 'einsum' are not built \(never called\)"
    with pytest.warns(UserWarning, match=unbuilt) as caught:
        model.save_pretrained(tmp_path)
    assert caught[0].filename == __file__
    assert sorted(load_file(tmp_path / "model.safetensors")) == ["head.bias", "head.weight"]


def test_a_model_never_called_is_named_at_save(tmp_path: Path) -> None:
    with pytest.warns(UserWarning, match=r"PartlyCalled has no variables yet \(never called\): the checkpoint"):
        PartlyCalled().save_pretrained(tmp_path)
    assert load_file(tmp_path / "model.safetensors") == {}


class Pair(keras.layers.Layer):  # type: ignore[misc]
    """Holds one sub-layer under two names: each level doubles the paths to the layers below."""

    def __init__(self, inner: keras.layers.Layer, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.left = self.right = inner

    def call(self, x: Any) -> Any:
        return self.left(x)


class DeeplyShared(keras.Model, KerasModelHubMixin):  # type: ignore[misc]
    def __init__(self, depth: int = 30, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        layer: keras.layers.Layer = keras.layers.Dense(2)
        for _ in range(depth):
            layer = Pair(layer)
        self.top = layer

    def call(self, x: Any) -> Any:
        return self.top(x)


def test_a_model_sharing_layers_at_every_level_saves(tmp_path: Path) -> None:
    model = DeeplyShared()  # 2**30 paths to its Dense: the other paths are not recorded past a bound
    expected = keras.ops.convert_to_numpy(model(X))
    model.save_pretrained(tmp_path)
    loaded = DeeplyShared.from_pretrained(tmp_path, strict=True)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(loaded(X)), expected)
