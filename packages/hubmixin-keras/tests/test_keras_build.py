"""``from_pretrained`` builds the model from the checkpoint's shapes: no ``build`` call, no forward pass, and no
initializer runs for a variable the checkpoint holds."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import keras
import numpy as np
from keras_models import (
    IDS,
    IMAGE,
    Guarded,
    Net,
    assert_same_variables,
    canonical,
    layers_of,
    numpy,
    outputs,
    pending_variables,
    randomize,
    randomize_weights,
)
from safetensors.numpy import load_file

from hubmixin_core.weights import TensorInfo, TensorRule
from hubmixin_keras import LAYOUTS, KerasAdapter, KerasModelHubMixin


def test_the_loaded_model_is_built_and_holds_the_file_before_any_call(net: Net, saved: Path) -> None:
    loaded = Net.from_pretrained(saved, strict=True)
    assert loaded.built
    # Every Keras layer is built; `scale` has no `build` (its variables come from `__init__`): Keras marks such a
    # layer built at its first call, a fresh one as much as a loaded one.
    assert [path for path, layer in layers_of(loaded).items() if not layer.built] == ["scale"]
    assert all(block.built for block in loaded.blocks)
    assert len(loaded.weights) == len(net.weights)
    assert loaded.count_params() == net.count_params()
    file = load_file(saved / "model.safetensors")
    for key, value in canonical(loaded).items():  # read before any call
        assert value.tobytes() == file[key].tobytes(), key
    ours = {id(variable) for variable in loaded.weights}
    assert not [v for v in pending_variables() if id(v) in ours]  # nothing left for Keras to initialise later


def test_summary_works_before_any_call(net: Net, saved: Path) -> None:
    lines: list[str] = []
    Net.from_pretrained(saved).summary(print_fn=lambda line, *args, **kwargs: lines.append(line))
    text = "\n".join(lines)
    assert "Embedding" in text and "(None, None, 4)" in text  # a batch of id sequences, to 4 features
    assert f"Total params: {net.count_params()}" in text.replace(",", "")


def test_variable_paths_are_those_a_call_gives(net: Net, saved: Path) -> None:
    # Keras names a variable by the layers holding it (model/block/dense/kernel): LayoutMap patterns and optimizer
    # slot names use it. Built outside the model's call, the layers once lacked their holders' name scopes.
    loaded = Net.from_pretrained(saved)
    block = loaded.blocks[1]
    assert block.dense.kernel.path == f"{loaded.name}/{block.name}/{block.dense.name}/kernel"
    assert loaded.conv.kernel.path == f"{loaded.name}/{loaded.conv.name}/kernel"
    called = Net()
    called(IDS, IMAGE)
    under_model = [v.path.startswith(f"{called.name}/") for v in called.weights]  # (Scale's are made in __init__)
    assert [v.path.startswith(f"{loaded.name}/") for v in loaded.weights] == under_model
    assert [v.path.count("/") for v in loaded.weights] == [v.path.count("/") for v in called.weights]


class Attending(keras.Model, KerasModelHubMixin):  # type: ignore[misc]
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.att = keras.layers.MultiHeadAttention(2, 4)

    def call(self, x: Any) -> Any:
        return self.att(x, x)


def test_variable_paths_of_a_layer_its_adapter_builds_are_those_a_call_gives(tmp_path: Path) -> None:
    model = Attending()
    model(np.ones((1, 3, 8), "float32"))
    model.save_pretrained(tmp_path)
    loaded = Attending.from_pretrained(tmp_path)  # the attention adapter builds the layer itself
    assert loaded.att.query_dense.kernel.path == f"{loaded.name}/{loaded.att.name}/query/kernel"


def test_no_initializer_runs_for_a_variable_in_the_checkpoint(tmp_path: Path) -> None:
    model = Guarded()
    model(IDS, IMAGE)
    randomize(model)
    model.save_pretrained(tmp_path)
    loaded = Guarded.from_pretrained(tmp_path, strict=True, model_kwargs={"guard": True})  # every initializer raises
    assert loaded._hub_mixin_config == {"units": 4, "guard": True}
    assert_same_variables(model, loaded)
    file = load_file(tmp_path / "model.safetensors")
    assert sorted(file) == sorted(canonical(loaded))
    for ours, theirs in zip(outputs(model), outputs(loaded), strict=True):
        np.testing.assert_array_equal(ours, theirs)
    loaded.save_pretrained(tmp_path / "again")  # and it saves again
    assert_same_variables(model, Guarded.from_pretrained(tmp_path / "again", model_kwargs={"guard": True}))


class Affine(keras.layers.Layer):  # type: ignore[misc]
    """A custom layer whose weights are created in ``build`` from the input shape."""

    def __init__(self, units: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.units = units

    def build(self, input_shape: Any) -> None:
        self.w = self.add_weight(shape=(input_shape[-1], self.units), name="w")
        self.b = self.add_weight(shape=(self.units,), initializer="zeros", name="b")

    def call(self, x: Any) -> Any:
        return keras.ops.matmul(x, self.w) + self.b


def _affine_input(layer: Any, canonical: Mapping[str, TensorInfo]) -> tuple[int | None, ...] | None:
    info = canonical.get("weight")
    return None if info is None else (None, info.shape[1])


LAYOUTS.register(
    Affine, KerasAdapter(TensorRule("w", "weight", (1, 0)), TensorRule("b", "bias"), input_shape=_affine_input)
)


class Custom(keras.Model, KerasModelHubMixin):  # type: ignore[misc]
    def __init__(self, units: int = 2, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.affine = Affine(units)

    def call(self, x: Any) -> Any:
        return self.affine(x)


def test_a_custom_layer_built_in_build_loads_through_a_registered_adapter(tmp_path: Path) -> None:
    model = Custom()
    x = np.arange(6, dtype="float32").reshape(2, 3)
    model(x)
    model.affine.w.assign(np.arange(6, dtype="float32").reshape(3, 2) / 7)
    model.affine.b.assign(np.array([0.5, -0.25], "float32"))
    model.save_pretrained(tmp_path)
    file = load_file(tmp_path / "model.safetensors")
    assert {key: value.shape for key, value in file.items()} == {"affine.weight": (2, 3), "affine.bias": (2,)}
    loaded = Custom.from_pretrained(tmp_path, strict=True)
    assert loaded.affine.built and tuple(loaded.affine.w.shape) == (3, 2)
    np.testing.assert_array_equal(outputs(loaded, x)[0], outputs(model, x)[0])


class Offset(keras.layers.Layer):  # type: ignore[misc]
    """Variables made from values in ``__init__``, which Keras refuses to defer."""

    def __init__(self, size: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.shift = keras.Variable(np.arange(size, dtype="float32"), name="shift")
        self.scale = keras.Variable(np.ones(size, dtype="float32"), trainable=False, name="scale")

    def call(self, x: Any) -> Any:
        return x * self.scale + self.shift


class WithValues(keras.Model, KerasModelHubMixin):  # type: ignore[misc]
    def __init__(self, size: int = 3, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.offset = Offset(size)
        self.dense = keras.layers.Dense(2)
        self.bias = keras.Variable(np.zeros(size, dtype="float32"), name="bias")

    def call(self, x: Any) -> Any:
        return self.dense(self.offset(x) + self.bias)


def test_variables_made_from_values_in_init_load(tmp_path: Path) -> None:
    model = WithValues()
    x = np.arange(6, dtype="float32").reshape(2, 3)
    model(x)
    randomize_weights(model)
    model.save_pretrained(tmp_path)
    loaded = WithValues.from_pretrained(tmp_path, strict=True)
    assert loaded.name == f"{model.name}_1"  # the refused construction took no name
    assert [v.name for v in loaded.weights] == [v.name for v in model.weights]
    for ours, theirs in zip(model.weights, loaded.weights, strict=True):
        np.testing.assert_array_equal(numpy(theirs), numpy(ours))
    assert pending_variables() == []  # the deferred variables of the refused construction are not left behind
    np.testing.assert_array_equal(outputs(loaded, x)[0], outputs(model, x)[0])
