"""The canonical (PyTorch) layout on disk: names, shapes and axis orders of every layer's tensors."""

from __future__ import annotations

import json
import weakref
from pathlib import Path
from typing import Any

import keras
import numpy as np
from keras_models import Block, Mlp, Net, canonical, numpy, outputs
from safetensors import safe_open

from hubmixin_keras import KerasModelHubMixin


def _read(directory: Path) -> tuple[dict[str, np.ndarray[Any, Any]], dict[str, str]]:
    with safe_open(str(directory / "model.safetensors"), framework="numpy") as f:
        keys: list[str] = f.keys()
        return {k: f.get_tensor(k) for k in keys}, f.metadata() or {}


def test_metadata_is_format_pt(saved: Path) -> None:
    _, metadata = _read(saved)
    assert "hubmixin.settings" in metadata
    del metadata["hubmixin.settings"]
    # the input shapes of the layers its call built from their layers (the model, its blocks): export reads them
    assert set(json.loads(metadata.pop("hubmixin.build"))) == {"", "blocks.0", "blocks.1"}
    assert metadata == {
        "format": "pt",
        "hubmixin.layout": "1",
        "hubmixin.framework": f"keras-{keras.backend.backend()}",
    }


def test_every_tensor_is_in_the_canonical_layout(net: Net, saved: Path) -> None:
    tensors, _ = _read(saved)
    expected = canonical(net)
    assert sorted(tensors) == sorted(expected)
    for key, value in expected.items():
        assert (tensors[key].dtype, tensors[key].shape) == (value.dtype, value.shape), key
        assert tensors[key].tobytes() == value.tobytes(), key


def test_dense_kernel_is_stored_as_weight_out_in(net: Net, saved: Path) -> None:
    tensors, _ = _read(saved)
    kernel = numpy(net.heads["left"].kernel)
    assert kernel.shape == (4, 3)  # (in, out)
    assert tensors["heads.left.weight"].shape == (3, 4)  # [out, in]
    np.testing.assert_array_equal(tensors["heads.left.weight"], kernel.T)
    np.testing.assert_array_equal(tensors["heads.left.bias"], numpy(net.heads["left"].bias))
    assert "heads.right.bias" not in tensors  # use_bias=False
    np.testing.assert_array_equal(tensors["blocks.1.dense.weight"], numpy(net.blocks[1].dense.kernel).T)


def test_conv_2d_kernel_is_out_in_kh_kw(net: Net, saved: Path) -> None:
    tensors, _ = _read(saved)
    kernel = numpy(net.conv.kernel)
    assert kernel.shape == (3, 2, 2, 3)  # (kh, kw, in, out)
    assert tensors["conv.weight"].shape == (3, 2, 3, 2)  # (out, in, kh, kw)
    for o, i, h, w in [(0, 0, 0, 0), (2, 1, 2, 1), (1, 0, 1, 1), (2, 0, 0, 1)]:
        assert tensors["conv.weight"][o, i, h, w] == kernel[h, w, i, o]
    np.testing.assert_array_equal(tensors["conv.bias"], numpy(net.conv.bias))


def test_batch_norm_embedding_and_layer_norm(net: Net, saved: Path) -> None:
    tensors, _ = _read(saved)
    norm = net.blocks[0].norm
    assert sorted(k for k in tensors if k.startswith("blocks.0.norm.")) == [
        "blocks.0.norm.bias",
        "blocks.0.norm.running_mean",
        "blocks.0.norm.running_var",
        "blocks.0.norm.weight",
    ]
    np.testing.assert_array_equal(tensors["blocks.0.norm.weight"], numpy(norm.gamma))
    np.testing.assert_array_equal(tensors["blocks.0.norm.bias"], numpy(norm.beta))
    np.testing.assert_array_equal(tensors["blocks.0.norm.running_mean"], numpy(norm.moving_mean))
    np.testing.assert_array_equal(tensors["blocks.0.norm.running_var"], numpy(norm.moving_variance))
    assert tensors["emb.weight"].shape == (10, 4)  # [num, features]
    np.testing.assert_array_equal(tensors["emb.weight"], numpy(net.emb.embeddings))
    np.testing.assert_array_equal(tensors["ln.weight"], numpy(net.ln.gamma))
    np.testing.assert_array_equal(tensors["ln.bias"], numpy(net.ln.beta))
    assert tensors["scale.steps"].dtype == np.int32 and tensors["scale.steps"].shape == ()  # custom layer: as is


def test_optimizer_and_metric_state_is_not_saved(tmp_path: Path) -> None:
    model = Mlp()
    model.compile(optimizer=keras.optimizers.Adam(0.1), loss="mse")
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((8, 3)).astype("float32"), rng.standard_normal((8, 1)).astype("float32")
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    assert model.optimizer.variables and int(numpy(model.optimizer.iterations)) == 1
    assert not np.array_equal(numpy(model.blocks[0].norm.moving_mean), np.zeros(4, "float32"))  # fit moved it
    model.save_pretrained(tmp_path)
    tensors, _ = _read(tmp_path)
    expected = canonical(model)
    assert sorted(tensors) == sorted(expected)  # model variables only: no iterations, moments, loss tracker
    for key, value in expected.items():
        assert tensors[key].tobytes() == value.tobytes(), key
    loaded = Mlp.from_pretrained(tmp_path, strict=True)
    assert getattr(loaded, "optimizer", None) is None
    np.testing.assert_array_equal(outputs(loaded, x)[0], outputs(model, x)[0])


class Zoo(keras.Model, KerasModelHubMixin):  # type: ignore[misc]
    """The other registered layers and layouts: Conv1D, Conv3D, channels_first, grouped Conv2D, GroupNorm."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.conv1 = keras.layers.Conv1D(4, 3)
        self.conv3 = keras.layers.Conv3D(2, (1, 2, 3))
        self.first = keras.layers.Conv2D(3, (2, 1), data_format="channels_first")
        self.grouped = keras.layers.Conv2D(4, 1, groups=2, use_bias=False)
        self.group_norm = keras.layers.GroupNormalization(groups=2)
        self.block = Block(5)

    def call(self, seq: Any, chw: Any, hwc: Any) -> tuple[Any, ...]:
        """``conv3`` is built but not called: a 5-D convolution would only cost jax compile time."""
        return (
            self.block(keras.ops.mean(self.conv1(seq), axis=1)),
            self.first(chw),
            self.group_norm(keras.ops.mean(self.grouped(hwc), axis=(1, 2))),
        )


def _zoo_inputs() -> tuple[np.ndarray[Any, Any], ...]:
    rng = np.random.default_rng(5)
    shapes = [(2, 7, 3), (1, 2, 4, 3), (1, 3, 3, 6)]
    return tuple(rng.standard_normal(shape).astype("float32") for shape in shapes)


def test_other_layers_layouts_and_build_shapes(tmp_path: Path) -> None:
    zoo = Zoo()
    inputs = _zoo_inputs()
    zoo.conv3.build((None, 3, 4, 5, 2))
    zoo(*inputs)
    rng = np.random.default_rng(0)
    for variable in zoo.weights:
        low = 0.5 if "variance" in variable.name else -1.0
        variable.assign(rng.uniform(low, 1.5, tuple(variable.shape)).astype("float32"))
    zoo.save_pretrained(tmp_path)
    tensors, _ = _read(tmp_path)
    shapes = {key: value.shape for key, value in tensors.items()}
    assert shapes == {
        "conv1.weight": (4, 3, 3),
        "conv1.bias": (4,),
        "conv3.weight": (2, 2, 1, 2, 3),
        "conv3.bias": (2,),
        "first.weight": (3, 2, 2, 1),
        "first.bias": (3,),
        "grouped.weight": (4, 3, 1, 1),  # in / groups
        "group_norm.weight": (4,),
        "group_norm.bias": (4,),
        "block.dense.weight": (5, 4),
        "block.dense.bias": (5,),
        "block.norm.weight": (5,),
        "block.norm.bias": (5,),
        "block.norm.running_mean": (5,),
        "block.norm.running_var": (5,),
    }
    np.testing.assert_array_equal(tensors["conv1.weight"], numpy(zoo.conv1.kernel).transpose(2, 1, 0))
    np.testing.assert_array_equal(tensors["conv3.weight"], numpy(zoo.conv3.kernel).transpose(4, 3, 0, 1, 2))
    np.testing.assert_array_equal(tensors["first.weight"], numpy(zoo.first.kernel).transpose(3, 2, 0, 1))
    np.testing.assert_array_equal(tensors["grouped.weight"], numpy(zoo.grouped.kernel).transpose(3, 2, 0, 1))
    np.testing.assert_array_equal(tensors["group_norm.weight"], numpy(zoo.group_norm.gamma))
    loaded = Zoo.from_pretrained(tmp_path, strict=True)  # each layer built from the file's shapes, no call
    for ours, theirs in zip(zoo.weights, loaded.weights, strict=True):
        assert tuple(ours.shape) == tuple(theirs.shape)
        np.testing.assert_array_equal(numpy(ours), numpy(theirs))
    for ours, theirs in zip(outputs(zoo, *inputs), outputs(loaded, *inputs), strict=True):
        np.testing.assert_array_equal(ours, theirs)


class Images(keras.Model, KerasModelHubMixin):  # type: ignore[misc]
    """BatchNormalization and GroupNormalization over NHWC feature maps, as after any Conv2D."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.conv = keras.layers.Conv2D(4, 3)
        self.bn = keras.layers.BatchNormalization()
        self.gn = keras.layers.GroupNormalization(groups=2)

    def call(self, x: Any) -> Any:
        return self.gn(self.bn(self.conv(x)))


def test_norms_over_feature_maps_load_and_run(tmp_path: Path) -> None:
    model = Images()
    x = np.random.default_rng(0).standard_normal((2, 5, 5, 3)).astype("float32")
    model(x)
    model.save_pretrained(tmp_path)
    loaded = Images.from_pretrained(tmp_path, strict=True)
    np.testing.assert_array_equal(outputs(loaded, x)[0], outputs(model, x)[0])


class Unnamed(keras.layers.Layer):  # type: ignore[misc]
    """Variables without names (Keras numbers them across the process) and with one name repeated."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.scale = keras.Variable(np.ones(3, dtype="float32"))

    def build(self, input_shape: Any) -> None:
        self.shift = self.add_weight(shape=(input_shape[-1],), initializer="zeros")
        self.kernels = [self.add_weight(shape=(3,), initializer="ones", name="kernel") for _ in range(2)]

    def call(self, x: Any) -> Any:
        return x * self.scale * self.kernels[0] * self.kernels[1] + self.shift


class HoldsUnnamed(keras.Model, KerasModelHubMixin):  # type: ignore[misc]
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.affine = Unnamed()

    def call(self, x: Any) -> Any:
        return self.affine(x)


def test_variables_without_distinct_names_are_keyed_by_their_attributes(tmp_path: Path) -> None:
    x = np.arange(3, dtype="float32").reshape(1, 3)
    model = HoldsUnnamed()
    model(x)
    for index, variable in enumerate(model.weights):
        variable.assign(np.full(3, index + 2, dtype="float32"))
    model.save_pretrained(tmp_path)
    with safe_open(tmp_path / "model.safetensors", "np") as file:
        keys = set(file.keys())
    assert keys == {"affine.scale", "affine.shift", "affine.kernels.0", "affine.kernels.1"}
    HoldsUnnamed()(x)  # more variables numbered by Keras in this process: the keys stay
    loaded = HoldsUnnamed.from_pretrained(tmp_path, strict=True)
    for ours, theirs in zip(model.weights, loaded.weights, strict=True):
        np.testing.assert_array_equal(numpy(theirs), numpy(ours))
    np.testing.assert_array_equal(outputs(loaded, x)[0], outputs(model, x)[0])


class HoldsTuple(keras.Model, KerasModelHubMixin):  # type: ignore[misc]
    """Layers in a tuple attribute (TensorFlow's tracking wraps it in a proxy that is no tuple subclass)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.pair = (keras.layers.Dense(3), keras.layers.Dense(2))

    def call(self, x: Any) -> Any:
        return self.pair[1](self.pair[0](x))


def test_layers_in_a_tuple_are_saved_under_their_index(tmp_path: Path) -> None:
    x = np.arange(4, dtype="float32").reshape(1, 4)
    model = HoldsTuple()
    model(x)
    model.save_pretrained(tmp_path)
    tensors, _ = _read(tmp_path)
    assert set(tensors) == {"pair.0.weight", "pair.0.bias", "pair.1.weight", "pair.1.bias"}
    loaded = HoldsTuple.from_pretrained(tmp_path, strict=True)
    np.testing.assert_array_equal(outputs(loaded, x)[0], outputs(model, x)[0])


class ProjectedCell(keras.layers.Layer):  # type: ignore[misc]
    """An RNN cell made of ``Dense`` layers held in its attributes (no adapter knows it)."""

    def __init__(self, units: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.units, self.state_size = units, units
        self.input_proj = keras.layers.Dense(units)
        self.recurrent_proj = keras.layers.Dense(units, use_bias=False)

    def build(self, input_shape: Any) -> None:
        self.input_proj.build(input_shape)
        self.recurrent_proj.build((None, self.units))

    def call(self, x: Any, states: Any) -> Any:
        h = keras.ops.tanh(self.input_proj(x) + self.recurrent_proj(states[0]))
        return h, [h]


class GatedAttention(keras.layers.MultiHeadAttention):  # type: ignore[misc]
    """A ``MultiHeadAttention`` with one more layer of its own."""

    def __init__(self, dim: int, **kwargs: Any) -> None:
        super().__init__(2, dim // 2, **kwargs)
        self.gate = keras.layers.Dense(dim)

    def call(self, query: Any, value: Any, key: Any = None, **kwargs: Any) -> Any:
        return super().call(query, value, key, **kwargs) * keras.ops.sigmoid(self.gate(query))


class Composites(keras.Model, KerasModelHubMixin):  # type: ignore[misc]
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.rnn = keras.layers.RNN(ProjectedCell(4), return_sequences=True)
        self.attn = GatedAttention(4)

    def call(self, x: Any) -> Any:
        h = self.rnn(x)
        return self.attn(h, h)


def _round_trip_keys(cls: Any, path: Path) -> set[str]:
    """Build ``cls`` by a call on a sequence, save it, check a strict reload computes the same: the saved keys."""
    x = np.random.default_rng(0).standard_normal((2, 5, 3)).astype("float32")
    model = cls()
    model(x)
    model.save_pretrained(path)
    loaded = cls.from_pretrained(path, strict=True)
    np.testing.assert_array_equal(outputs(loaded, x)[0], outputs(model, x)[0])
    return set(_read(path)[0])


def test_sub_layers_of_composite_layers_parts_are_saved(tmp_path: Path) -> None:
    expected = {"rnn.cell.input_proj.weight", "rnn.cell.input_proj.bias", "rnn.cell.recurrent_proj.weight"}
    expected |= {"attn.gate.weight", "attn.gate.bias", "attn.in_proj_weight"}
    assert expected <= _round_trip_keys(Composites, tmp_path)


class OwnCell(keras.layers.Layer):  # type: ignore[misc]
    """A cell with variables of its own (no adapter knows it)."""

    def __init__(self, units: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.units = self.state_size = units

    def build(self, input_shape: Any) -> None:
        self.kernel = self.add_weight(shape=(input_shape[-1], self.units), name="kernel")
        self.rec = self.add_weight(shape=(self.units, self.units), name="rec")

    def call(self, x: Any, states: Any) -> Any:
        h = keras.ops.tanh(keras.ops.matmul(x, self.kernel) + keras.ops.matmul(states[0], self.rec))
        return h, [h]


class StackedOwnCells(keras.Model, KerasModelHubMixin):  # type: ignore[misc]
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.stk = keras.layers.RNN(keras.layers.StackedRNNCells([OwnCell(4), OwnCell(4)]), return_sequences=True)

    def call(self, x: Any) -> Any:
        return self.stk(x)


def test_stacked_custom_cells_each_keep_their_tensors(tmp_path: Path) -> None:
    expected = {f"stk.cell.{i}.{name}" for i in (0, 1) for name in ("kernel", "rec")}
    assert _round_trip_keys(StackedOwnCells, tmp_path) == expected


class HoldsProxy(keras.layers.Layer):  # type: ignore[misc]
    """Keeps a weak proxy of a layer of the model (not a layer of its own)."""

    def __init__(self, owner: Any = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.dense = keras.layers.Dense(2)
        self.owner = owner

    def call(self, x: Any) -> Any:
        return self.dense(x)


class WithProxy(keras.Model, KerasModelHubMixin):  # type: ignore[misc]
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.enc = keras.layers.Dense(3)
        self.head = HoldsProxy(owner=weakref.proxy(self.enc))

    def call(self, x: Any) -> Any:
        return self.head(self.enc(x))


def test_a_weak_proxy_of_a_layer_is_not_walked(tmp_path: Path) -> None:
    x = np.ones((2, 4), "float32")
    model = WithProxy()
    model(x)
    model.save_pretrained(tmp_path)
    tensors, _ = _read(tmp_path)
    assert set(tensors) == {"enc.weight", "enc.bias", "head.dense.weight", "head.dense.bias"}
