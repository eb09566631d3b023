"""Layout adapters: the shared transforms, registries per framework, and canonical save/load through them."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray
from safetensors import safe_open

from hubmixin_core.errors import LayoutError, WeightsKeyError, WeightsShapeError
from hubmixin_core.weights import (
    IDENTITY,
    BidirectionalAdapter,
    LayerTensors,
    LayoutAdapter,
    LayoutRegistry,
    MappedAdapter,
    SubLayerAdapter,
    TensorInfo,
    TensorRule,
    dtype_name,
    load_canonical,
    open_checkpoint,
    save_canonical,
)
from hubmixin_core.weights.transforms import T, add, concat, inverse_axes, reshape, split, transpose, zeros_like

Array = NDArray[Any]
rng = np.random.default_rng(0)


def _info(array: Array) -> TensorInfo:
    return TensorInfo(tuple(array.shape), dtype_name(array.dtype))


@pytest.mark.parametrize("axes", [(1, 0), (2, 1, 0), (3, 2, 0, 1), (4, 3, 0, 1, 2)])
def test_transpose_inverts_and_maps_shapes(axes: tuple[int, ...]) -> None:
    x = rng.standard_normal(tuple(range(2, 2 + len(axes)))).astype(np.float32)
    y = transpose(x, axes)
    assert np.array_equal(transpose(y, inverse_axes(axes)), x)
    assert transpose(_info(x), axes) == _info(y)


def test_split_concat_reshape_on_arrays_and_infos_agree() -> None:
    x = rng.standard_normal((6, 4)).astype(np.float32)
    parts = split(x, 3)
    assert [_info(p) for p in parts] == split(_info(x), 3)
    assert np.array_equal(concat(parts), x) and concat(split(_info(x), 3)) == _info(x)
    assert [p.shape for p in split(x, [1, 5])] == [(1, 4), (5, 4)]
    assert reshape(_info(x), (2, -1, 4)) == TensorInfo((2, 3, 4), "F32")
    assert np.array_equal(reshape(x, (2, -1, 4)), x.reshape(2, 3, 4))
    assert np.array_equal(add(x, zeros_like(x)), x) and add(_info(x), _info(x)) == _info(x)


def test_transforms_name_the_shapes_they_reject() -> None:
    with pytest.raises(LayoutError, match=r"\(6, 4\).*\(5, -1\)"):
        reshape(TensorInfo((6, 4), "F32"), (5, -1))
    with pytest.raises(LayoutError, match="4 equal parts"):
        split(TensorInfo((6, 4), "F32"), 4)
    with pytest.raises(LayoutError, match="axes"):
        transpose(TensorInfo((6, 4), "F32"), (0, 0))
    with pytest.raises(LayoutError, match="join"):
        concat([TensorInfo((2, 4), "F32"), TensorInfo((2, 3), "F32")])


class Dense:
    """A layer laid out as JAX does: ``kernel`` [in, out]."""

    def __init__(self, din: int, dout: int) -> None:
        self.kernel = rng.standard_normal((din, dout)).astype(np.float32)
        self.bias = rng.standard_normal(dout).astype(np.float32)


class GatedDense(Dense):
    """A subclass: it finds Dense's adapter."""


class Fused:
    """Two projections stored fused, as one canonical ``in_proj_weight`` [2*out, in]."""

    def __init__(self, din: int, dout: int) -> None:
        self.a = rng.standard_normal((din, dout)).astype(np.float32)
        self.b = rng.standard_normal((din, dout)).astype(np.float32)


class FusedAdapter(LayoutAdapter):
    ignored = ("num_batches_tracked",)

    def to_canonical(self, layer: Any, path: str, tensors: Mapping[str, T]) -> dict[str, T]:
        return {"in_proj_weight": concat([transpose(tensors["a"], (1, 0)), transpose(tensors["b"], (1, 0))])}

    def from_canonical(self, layer: Any, path: str, tensors: Mapping[str, T]) -> dict[str, T]:
        if "in_proj_weight" not in tensors:
            return {}
        a, b = split(tensors["in_proj_weight"], 2)
        return {"a": transpose(a, (1, 0)), "b": transpose(b, (1, 0))}


def _registry() -> LayoutRegistry:
    registry = LayoutRegistry("test")
    registry.register(Dense, MappedAdapter(TensorRule("kernel", "weight", (1, 0))))
    registry.register(Fused, FusedAdapter())
    return registry


def _layers(model: dict[str, Any]) -> list[LayerTensors[Array]]:
    return [LayerTensors(path, layer, dict(vars(layer))) for path, layer in model.items()]


def _infos(model: dict[str, Any]) -> list[LayerTensors[TensorInfo]]:
    return [LayerTensors(g.path, g.layer, {k: _info(v) for k, v in g.tensors.items()}) for g in _layers(model)]


def test_registry_finds_the_nearest_type_and_refuses_conflicts() -> None:
    registry = _registry()
    assert registry.find(GatedDense(2, 3)) is registry.find(Dense(2, 3))
    assert registry.find(object()) is IDENTITY
    registry.register(Dense, registry.find(Dense(1, 1)))  # the same adapter again is no conflict
    with pytest.raises(LayoutError, match="Dense already has"):
        registry.register(Dense, MappedAdapter())
    replacement = MappedAdapter()
    registry.register(Dense, replacement, replace=True)
    assert registry.find(Dense(1, 1)) is replacement
    assert LayoutRegistry("other").find(Dense(1, 1)) is IDENTITY  # registries are per framework
    assert (Dense, replacement) in registry.items() and len(registry) == len(registry.items())


class Wrapper:
    """A layer holding a ``Dense`` as ``cell`` and a tensor of its own, as an RNN holds its cell."""

    def __init__(self, din: int, dout: int) -> None:
        self.cell = Dense(din, dout)
        self.h0 = np.zeros(dout, np.float32)


def test_sub_layer_adapter_maps_the_cell_at_the_layers_path() -> None:
    registry = _registry()
    adapter = SubLayerAdapter(registry.find)
    layer = Wrapper(4, 3)
    tensors = {"cell.kernel": layer.cell.kernel, "cell.bias": layer.cell.bias, "h0": layer.h0}
    canonical = adapter.to_canonical(layer, "rnn", tensors)
    assert {name: x.shape for name, x in canonical.items()} == {"weight": (3, 4), "bias": (3,), "h0": (3,)}
    assert np.array_equal(canonical["weight"], layer.cell.kernel.T)
    back = adapter.from_canonical(layer, "rnn", {"weight": canonical["weight"], "bias": canonical["bias"]})
    assert set(back) == {"cell.kernel", "cell.bias"} and np.array_equal(back["cell.kernel"], layer.cell.kernel)
    assert adapter.rule_for(layer, "cell.kernel") == TensorRule("cell.kernel", "weight", (1, 0))
    assert adapter.rule_for(layer, "h0") == TensorRule("h0", "h0")
    assert SubLayerAdapter(registry.find, "inner").attribute == "inner"


class TwoWay:
    """Two ``Dense`` layers, one per direction, as a bidirectional RNN holds its forward and backward RNNs."""

    def __init__(self, din: int, dout: int) -> None:
        self.fwd, self.bwd = Dense(din, dout), Dense(din, dout)


def test_bidirectional_adapter_suffixes_the_backward_tensors() -> None:
    adapter = BidirectionalAdapter(_registry().find, "fwd", "bwd")
    layer = TwoWay(4, 3)
    tensors = {
        f"{side}.{name}": getattr(getattr(layer, side), name) for side in ("fwd", "bwd") for name in ("kernel", "bias")
    }
    canonical = adapter.to_canonical(layer, "rnn", tensors)
    assert sorted(canonical) == ["bias", "bias_reverse", "weight", "weight_reverse"]
    assert np.array_equal(canonical["weight_reverse"], layer.bwd.kernel.T)
    back = adapter.from_canonical(layer, "rnn", canonical)
    assert all(np.array_equal(back[name], tensors[name]) for name in tensors) and back.keys() == tensors.keys()
    assert adapter.rule_for(layer, "bwd.kernel") == TensorRule("bwd.kernel", "weight_reverse", (1, 0))


def test_canonical_save_writes_pytorch_names_and_layouts(tmp_path: Path) -> None:
    head, attn = Dense(4, 3), Fused(4, 2)
    model = {"head": head, "attn": attn, "blocks.0": GatedDense(3, 5)}
    save_canonical(_layers(model), _registry(), tmp_path)
    with safe_open(str(tmp_path / "model.safetensors"), framework="numpy") as f:
        saved = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 - safe_open is not a mapping
        assert f.metadata() == {"format": "pt", "hubmixin.layout": "1"}
    assert sorted(saved) == [
        "attn.in_proj_weight",
        "blocks.0.bias",
        "blocks.0.weight",
        "head.bias",
        "head.weight",
    ]
    assert np.array_equal(saved["head.weight"], head.kernel.T)
    assert np.array_equal(saved["attn.in_proj_weight"], np.concatenate([attn.a.T, attn.b.T]))


def test_canonical_load_round_trips_layer_by_layer(tmp_path: Path) -> None:
    model = {"head": Dense(4, 3), "attn": Fused(4, 2)}
    save_canonical(_layers(model), _registry(), tmp_path, max_shard_size=40)
    fresh = {"head": Dense(4, 3), "attn": Fused(4, 2)}
    load = load_canonical(_infos(fresh), open_checkpoint(tmp_path), _registry(), strict=True)
    assert load.report.missing == [] and load.report.unexpected == []
    loaded = {group.path: arrays for group, arrays in load}
    for path, layer in model.items():
        for name, array in vars(layer).items():
            assert np.array_equal(loaded[path][name], array), (path, name)


def test_canonical_load_checks_headers_before_reading(tmp_path: Path) -> None:
    save_canonical(_layers({"head": Dense(4, 3)}), _registry(), tmp_path)
    checkpoint = open_checkpoint(tmp_path)
    with pytest.raises(WeightsShapeError, match=r"model\.safetensors: tensor 'head\.weight' has shape \(3, 4\)"):
        load_canonical(_infos({"head": Dense(5, 3)}), checkpoint, _registry(), strict=False)
    with pytest.raises(WeightsKeyError, match=r"attn\.in_proj_weight"):
        load_canonical(_infos({"head": Dense(4, 3), "attn": Fused(4, 2)}), checkpoint, _registry(), strict=True)
    partial = load_canonical(_infos({"head": Dense(4, 3), "attn": Fused(4, 2)}), checkpoint, _registry(), strict=False)
    assert partial.report.missing == ["attn.in_proj_weight"]
    assert [group.path for group, _ in partial] == ["head"]  # nothing read for the absent layer


def test_ignored_canonical_tensors_are_not_unexpected(tmp_path: Path) -> None:
    layers = [
        *_layers({"attn": Fused(4, 2)}),
        LayerTensors("attn", object(), {"num_batches_tracked": np.zeros((), np.int64)}),
    ]
    save_canonical(layers, _registry(), tmp_path)  # as torch writes a batch norm: with its step counter
    load = load_canonical(_infos({"attn": Fused(4, 2)}), open_checkpoint(tmp_path), _registry(), strict=True)
    assert load.report.unexpected == []


def test_canonical_load_converts_dtypes_to_the_models(tmp_path: Path) -> None:
    model = {"head": Dense(4, 3)}
    save_canonical(_layers(model), _registry(), tmp_path, dtype="BF16")
    checkpoint = open_checkpoint(tmp_path)
    assert {info.dtype for info in checkpoint.infos.values()} == {"BF16"}
    ((_, arrays),) = list(load_canonical(_infos({"head": Dense(4, 3)}), checkpoint, _registry(), strict=False))
    assert arrays["kernel"].dtype == np.float32
    np.testing.assert_allclose(arrays["kernel"], model["head"].kernel, rtol=1e-2)


def test_two_layers_writing_one_key_is_an_error(tmp_path: Path) -> None:
    layers = [LayerTensors("a", object(), {"w": np.zeros(2)}), LayerTensors("", object(), {"a.w": np.zeros(2)})]
    with pytest.raises(LayoutError, match=r"'a\.w'"):
        save_canonical(layers, LayoutRegistry("x"), tmp_path)


def test_lazy_tensors_read_slices_in_the_framework_layout(tmp_path: Path) -> None:
    head, attn = Dense(6, 4), Fused(4, 2)
    model: dict[str, Any] = {"head": head, "attn": attn}
    save_canonical(_layers(model), _registry(), tmp_path)
    load = load_canonical(_infos(model), open_checkpoint(tmp_path), _registry(), strict=True)
    lazy = {group.path: tensors for group, tensors in load.lazily()}
    kernel = lazy["head"]["kernel"]
    assert kernel.info == TensorInfo((6, 4), "F32")
    index = (slice(1, 3), slice(2, 4))
    assert np.array_equal(kernel.read_slice(index), head.kernel[index])  # read transposed from the file
    assert np.array_equal(kernel.read(), head.kernel)
    fused = lazy["attn"]["b"]  # made from the fused tensor: read whole, then sliced
    assert np.array_equal(fused.read_slice((slice(0, 2), slice(1, 2))), attn.b[:2, 1:2])
