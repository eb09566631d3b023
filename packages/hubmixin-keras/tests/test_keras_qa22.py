"""QA round 22: values an ``__init__`` assigns inside the deferred construction."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pytest

from hubmixin_core import ConfigEncodingWarning
from hubmixin_core.errors import HubMixinValueError
from hubmixin_keras import KerasModelHubMixin

X = np.random.default_rng(0).normal(size=(2, 3, 4)).astype(np.float32)
TABLE = np.arange(12, dtype=np.float32).reshape(3, 4) / 7


def _numpy(value: Any) -> np.ndarray[Any, Any]:
    return np.asarray(keras.ops.convert_to_numpy(value))


class Proj(keras.Model, KerasModelHubMixin):  # type: ignore[misc]
    """The checkpoint's model: a PyTorch port's, whose table is a non-persistent buffer (not saved)."""

    def __init__(self, dim: int = 4, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.proj = keras.layers.Dense(dim)

    def call(self, x: Any) -> Any:
        return self.proj(x)


class TableOnModel(keras.Model, KerasModelHubMixin):  # type: ignore[misc]
    def __init__(self, dim: int = 4, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.pe = self.add_weight(name="pe", shape=(3, dim), initializer="zeros", trainable=False)
        self.pe.assign(TABLE)
        self.proj = keras.layers.Dense(dim)

    def call(self, x: Any) -> Any:
        return self.proj(x + self.pe)


class Positions(keras.layers.Layer):  # type: ignore[misc]
    def __init__(self, dim: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.pe = self.add_weight(name="pe", shape=(3, dim), initializer="zeros", trainable=False)
        self.pe.assign(TABLE)
        self.pe.assign_add(np.ones((3, dim), np.float32))  # reads the value assigned before

    def call(self, x: Any) -> Any:
        return x + self.pe


class TableOnLayer(keras.Model, KerasModelHubMixin):  # type: ignore[misc]
    def __init__(self, dim: int = 4, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.positions = Positions(dim)
        self.proj = keras.layers.Dense(dim)

    def call(self, x: Any) -> Any:
        return self.proj(self.positions(x))


def _saved_proj(tmp_path: Path) -> tuple[Path, Proj]:
    model = Proj()
    model(X)
    model.save_pretrained(tmp_path / "proj")
    return tmp_path / "proj", model


def test_a_missing_variable_assigned_in_init_keeps_the_assigned_value(tmp_path: Path) -> None:
    """Inside the construction's stateless scope Keras only records the assignment: it is the value, as in a
    plain construction, not the initializer's zeros."""
    directory, saved = _saved_proj(tmp_path)
    for cls, path, expected in ((TableOnModel, "pe", TABLE), (TableOnLayer, "positions.pe", TABLE + 1)):
        plain = cls()
        np.testing.assert_array_equal(_numpy(_at(plain, path)), expected)
        loaded = cls.from_pretrained(directory)
        np.testing.assert_array_equal(_numpy(_at(loaded, path)), expected)
        np.testing.assert_array_equal(_numpy(loaded.proj.kernel), _numpy(saved.proj.kernel))


SHARED = keras.ops.convert_to_tensor(TABLE)  # a table held once, assigned to every model built


class SharedTable(TableOnModel):
    def __init__(self, dim: int = 4, **kwargs: Any) -> None:
        super().__init__(dim, **kwargs)
        self.pe.assign(SHARED)


def test_an_assigned_value_is_copied_into_each_model(tmp_path: Path) -> None:
    """On the torch backend a variable initialised with a tensor would hold that tensor itself (reg22e)."""
    directory, _ = _saved_proj(tmp_path)
    first, second = SharedTable.from_pretrained(directory), SharedTable.from_pretrained(directory)
    first.pe.assign_add(np.ones((3, 4), np.float32))
    np.testing.assert_array_equal(_numpy(second.pe), TABLE)
    np.testing.assert_array_equal(_numpy(SHARED), TABLE)
    np.testing.assert_array_equal(_numpy(first.pe), TABLE + 1)


def _at(model: Any, path: str) -> Any:
    for name in path.split("."):
        model = getattr(model, name)
    return model


def test_a_variable_assigned_in_init_takes_the_checkpoints_value(tmp_path: Path) -> None:
    model = TableOnModel()
    model.pe.assign(np.full((3, 4), 5.0, np.float32))
    model(X)
    model.save_pretrained(tmp_path)
    loaded = TableOnModel.from_pretrained(tmp_path, strict=True)
    np.testing.assert_array_equal(_numpy(loaded.pe), np.full((3, 4), 5.0, np.float32))


class Holder(keras.Model, KerasModelHubMixin):  # type: ignore[misc]
    """Loads a pretrained part in its ``__init__``: inside the outer load's scope, the part's assigned value is
    recorded there again, for the outer load."""

    def __init__(self, part: str = "", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.part = TableOnModel.from_pretrained(part)
        self.head = keras.layers.Dense(2)

    def call(self, x: Any) -> Any:
        return self.head(self.part(x))


class HolderOfProj(keras.Model, KerasModelHubMixin):  # type: ignore[misc]
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.part = Proj()
        self.head = keras.layers.Dense(2)

    def call(self, x: Any) -> Any:
        return self.head(self.part(x))


def test_a_pretrained_part_loaded_in_init_keeps_its_assigned_value(tmp_path: Path) -> None:
    """The outer checkpoint lacks the part's table too: the value its ``__init__`` assigned is kept."""
    directory, _ = _saved_proj(tmp_path)
    outer = HolderOfProj()
    outer(X)
    outer.save_pretrained(tmp_path / "outer")
    loaded = Holder.from_pretrained(tmp_path / "outer", model_kwargs={"part": str(directory)})
    np.testing.assert_array_equal(_numpy(loaded.part.pe), TABLE)
    np.testing.assert_array_equal(_numpy(loaded.part.proj.kernel), _numpy(outer.part.proj.kernel))
    np.testing.assert_array_equal(_numpy(loaded.head.kernel), _numpy(outer.head.kernel))


class SeqArgs(keras.Sequential, KerasModelHubMixin):  # type: ignore[misc]
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)


def test_a_sequential_subclass_passing_its_layers_on_goes_through_keras_saving(tmp_path: Path) -> None:
    """Its layers reach Sequential's ``__init__`` through ``*args``: Sequential's own config (its layers) rebuilds it
    (a mixin config, of the arguments captured, could not: reg22e)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConfigEncodingWarning)  # (the layers are not in config.json)
        model = SeqArgs([keras.layers.Dense(4), keras.layers.Dense(2)])
    expected = _numpy(model(X6))
    model.save(tmp_path / "m.keras")
    again = keras.saving.load_model(tmp_path / "m.keras", custom_objects={"SeqArgs": SeqArgs})
    assert type(again) is SeqArgs
    np.testing.assert_array_equal(_numpy(again(X6)), expected)


X6 = np.random.default_rng(1).normal(size=(3, 6)).astype(np.float32)


class Calibrated(keras.layers.Layer):  # type: ignore[misc]
    """A projection plus a calibration table (an array, not a variable) kept through its own store."""

    def __init__(self, units: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.units = units
        self.table = np.zeros((units,), np.float32)

    def build(self, input_shape: Any) -> None:
        self.kernel = self.add_weight(name="kernel", shape=(input_shape[-1], self.units))

    def call(self, x: Any) -> Any:
        return keras.ops.matmul(x, self.kernel) + keras.ops.convert_to_tensor(self.table)

    def save_own_variables(self, store: Any) -> None:
        store["0"] = self.kernel
        store["1"] = self.table

    def load_own_variables(self, store: Any) -> None:
        self.kernel.assign(store["0"])
        self.table = np.asarray(store["1"])


class Renamed(Calibrated):
    """Stores its variables only, under keys of its own, in another dtype."""

    def save_own_variables(self, store: Any) -> None:
        store["kernel"] = keras.ops.convert_to_numpy(self.kernel.value).astype(np.float16)

    def load_own_variables(self, store: Any) -> None:
        self.kernel.assign(store["kernel"])


class WithSublayer(keras.layers.Layer):  # type: ignore[misc]
    """A table kept through its own store beside a sub-layer (whose variables its store does not hold)."""

    def __init__(self, units: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.inner = keras.layers.Dense(units)
        self.table = np.zeros((units,), np.float32)

    def call(self, x: Any) -> Any:
        return self.inner(x) + keras.ops.convert_to_tensor(self.table)

    def save_own_variables(self, store: Any) -> None:
        store["table"] = self.table

    def load_own_variables(self, store: Any) -> None:
        self.table = np.asarray(store["table"])


class Holds(keras.Model, KerasModelHubMixin):  # type: ignore[misc]
    def __init__(self, kind: str = "calibrated", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if kind == "calibrated":
            self.cal = Calibrated(3)
        elif kind == "sublayer":
            self.cal = WithSublayer(3)
        elif kind == "renamed":
            self.cal = Renamed(3)
        else:  # Keras' own layers overriding save_own_variables, storing their variables (merged LoRA, quantized)
            self.cal = keras.layers.Dense(3)
            self.emb = keras.layers.Embedding(5, 3)
            self.ein = keras.layers.EinsumDense("ab,bc->ac", output_shape=3)
            self.conv = keras.layers.Conv1D(2, 1)

    def call(self, x: Any) -> Any:
        return self.cal(x)


@pytest.mark.parametrize("kind", ["calibrated", "sublayer"])
def test_state_a_layer_keeps_through_its_own_save_own_variables_is_named_at_save(kind: str, tmp_path: Path) -> None:
    model = Holds(kind=kind)
    model(X[:, 0])
    model.cal.table = np.array([10.0, 20.0, 30.0], np.float32)
    name = type(model.cal).__name__
    with pytest.warns(UserWarning, match=rf"'cal' \({name}: what its own save_own_variables stores\)"):
        model.save_pretrained(tmp_path)


def test_layers_whose_save_own_variables_stores_their_variables_are_not_named(tmp_path: Path) -> None:
    renamed = Holds(kind="renamed")
    renamed(X[:, 0])
    keras_own = Holds(kind="keras")
    for layer, shape in ((keras_own.emb, (None,)), (keras_own.ein, (None, 4)), (keras_own.conv, (None, 3, 4))):
        layer.build(shape)
    keras_own(X[:, 0])
    keras_own.cal.enable_lora(2)
    keras_own.cal.lora_kernel_b.assign(np.ones((2, 3), np.float32))  # its store holds the merged kernel
    keras_own.emb.quantize("int8")
    keras_own.ein.quantize("int8")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        renamed.save_pretrained(tmp_path / "renamed")
        keras_own.save_pretrained(tmp_path / "keras")


def test_from_pretrained_refuses_a_dtype_policy_map_with_a_typed_error(tmp_path: Path) -> None:
    directory, _ = _saved_proj(tmp_path)
    policy_map = keras.dtype_policies.DTypePolicyMap(default_policy="bfloat16")
    with pytest.raises(HubMixinValueError, match=r"DTypePolicyMap .*model_kwargs=\{'dtype': \.\.\.\}"):
        Proj.from_pretrained(directory, dtype=policy_map)
