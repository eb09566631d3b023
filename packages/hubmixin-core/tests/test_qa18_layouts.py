"""Round 18: a fused tensor's present parts are reported unused when another part is missing; the registry refuses
what is no layer class or adapter; ``reshape`` refuses the same targets on shapes and on arrays."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray
from safetensors.numpy import save_file

from hubmixin_core.errors import HubMixinTypeError, LayoutError, WeightsKeyError
from hubmixin_core.weights import (
    LayerTensors,
    LayoutAdapter,
    LayoutRegistry,
    MappedAdapter,
    TensorInfo,
    TensorRule,
    dtype_name,
    load_canonical,
    open_checkpoint,
)
from hubmixin_core.weights.transforms import T, add, concat, reshape, split

Array = NDArray[Any]


class Cell:
    """A recurrent cell holding one bias, which its PyTorch twin stores as two (``bias_ih`` + ``bias_hh``), and a
    ``kernel`` stored as ``weight``."""


class FoldedBiasAdapter(LayoutAdapter):
    def to_canonical(self, layer: Any, path: str, tensors: Mapping[str, T]) -> dict[str, T]:
        return {"weight": tensors["kernel"], "bias_ih": tensors["bias"], "bias_hh": tensors["bias"]}

    def from_canonical(self, layer: Any, path: str, tensors: Mapping[str, T]) -> dict[str, T]:
        out = {"kernel": tensors["weight"]} if "weight" in tensors else {}
        if "bias_ih" in tensors and "bias_hh" in tensors:
            out["bias"] = add(tensors["bias_ih"], tensors["bias_hh"])
        return out


class QKV:
    """Three projections' biases held fused as ``qkv``, stored as ``q``, ``k`` and ``v``; ``k`` is also held alone
    as ``k_alone`` (so ``k`` is used whatever else the file lacks)."""


class QKVAdapter(LayoutAdapter):
    def to_canonical(self, layer: Any, path: str, tensors: Mapping[str, T]) -> dict[str, T]:
        q, k, v = split(tensors["qkv"], 3)
        return {"q": q, "k": k, "v": v}

    def from_canonical(self, layer: Any, path: str, tensors: Mapping[str, T]) -> dict[str, T]:
        out = {"k_alone": tensors["k"]} if "k" in tensors else {}
        if all(name in tensors for name in "qkv"):
            out["qkv"] = concat([tensors["q"], tensors["k"], tensors["v"]])
        return out


def _registry() -> LayoutRegistry:
    registry = LayoutRegistry("qa18")
    registry.register(Cell, FoldedBiasAdapter())
    registry.register(QKV, QKVAdapter())
    return registry


def _info(shape: tuple[int, ...]) -> TensorInfo:
    return TensorInfo(shape, dtype_name(np.dtype(np.float32)))


def _cell_layers() -> list[LayerTensors[TensorInfo]]:
    return [LayerTensors("rnn", Cell(), {"kernel": _info((3, 2)), "bias": _info((3,))})]


def _write(path: Path, **tensors: Array) -> Path:
    save_file(tensors, str(path / "model.safetensors"), metadata={"format": "pt"})
    return path


def test_present_part_of_a_fused_tensor_is_reported_unused(tmp_path: Path) -> None:
    ones = np.ones(3, np.float32)
    _write(tmp_path, **{"rnn.weight": np.ones((3, 2), np.float32), "rnn.bias_ih": ones})  # no rnn.bias_hh
    load = load_canonical(_cell_layers(), open_checkpoint(tmp_path), _registry(), strict=False)
    assert load.report.missing == ["rnn.bias_hh"]
    assert load.report.unexpected == ["rnn.bias_ih"]  # not loaded: it was silently dropped
    ((_, arrays),) = list(load)
    assert set(arrays) == {"kernel"}  # what the report says: the bias keeps its initialisation


def test_the_log_names_the_unused_part(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    _write(tmp_path, **{"rnn.weight": np.ones((3, 2), np.float32), "rnn.bias_ih": np.ones(3, np.float32)})
    load = load_canonical(_cell_layers(), open_checkpoint(tmp_path), _registry(), strict=False)
    with caplog.at_level(logging.WARNING):
        load.report.log(logging.getLogger("qa18"), "Model", "model.safetensors")
    assert "keeps the model's own initialisation: 'rnn.bias_hh'" in caplog.text
    assert "1 tensor of model.safetensors is not used by the model: 'rnn.bias_ih'" in caplog.text


def test_a_part_also_used_elsewhere_is_not_reported(tmp_path: Path) -> None:
    layers = [LayerTensors("attn", QKV(), {"qkv": _info((6,)), "k_alone": _info((2,))})]
    _write(tmp_path, **{"attn.q": np.ones(2, np.float32), "attn.k": np.ones(2, np.float32)})  # no attn.v
    load = load_canonical(layers, open_checkpoint(tmp_path), _registry(), strict=False)
    assert load.report.missing == ["attn.v"]
    assert load.report.unexpected == ["attn.q"]  # k still loads as k_alone
    ((_, arrays),) = list(load)
    assert set(arrays) == {"k_alone"}


def test_complete_and_strict_loads_are_unchanged(tmp_path: Path) -> None:
    ones = np.ones(3, np.float32)
    _write(tmp_path, **{"rnn.weight": np.ones((3, 2), np.float32), "rnn.bias_ih": ones, "rnn.bias_hh": ones})
    load = load_canonical(_cell_layers(), open_checkpoint(tmp_path), _registry(), strict=True)
    assert load.report.missing == [] and load.report.unexpected == []
    partial = tmp_path / "partial"
    partial.mkdir()
    _write(partial, **{"rnn.weight": np.ones((3, 2), np.float32), "rnn.bias_ih": ones})
    with pytest.raises(WeightsKeyError, match=r"missing keys \['rnn\.bias_hh'\]"):
        load_canonical(_cell_layers(), open_checkpoint(partial), _registry(), strict=True)


class Layer:
    pass


@pytest.mark.parametrize(
    ("layer_type", "adapter", "match"),
    [
        (Layer(), MappedAdapter(), r"qa18: register\(\) takes a layer class, got <.*Layer object.*> \(Layer\)"),
        ("Layer", MappedAdapter(), r"qa18: register\(\) takes a layer class, got 'Layer' \(str\)"),
        (Layer, lambda *args: None, r"qa18: the adapter for Layer must be a LayoutAdapter.*\(function\)"),
        (Layer, MappedAdapter, r"qa18: the adapter for Layer must be a LayoutAdapter instance.*<class .*Mapped"),
        (Layer, TensorRule("w", "weight"), r"qa18: the adapter for Layer must be a LayoutAdapter.*TensorRule"),
    ],
)
def test_registry_refuses_what_is_no_layer_class_or_adapter(layer_type: Any, adapter: Any, match: str) -> None:
    registry = _registry()
    with pytest.raises(HubMixinTypeError, match=match):
        registry.register(layer_type, adapter)
    assert len(registry) == 2  # nothing registered


@pytest.mark.parametrize(
    ("shape", "target"),
    [((2, 3, 4), (-2, -12)), ((0, 4), (0, -1)), ((0, 4), (-1, 0)), ((2, 3), (-1, -1)), ((2, 3), (4, -1))],
)
def test_reshape_refuses_alike_on_shapes_and_arrays(shape: tuple[int, ...], target: tuple[int, ...]) -> None:
    with pytest.raises(ValueError):  # numpy refuses them too
        np.zeros(shape, np.float32).reshape(target)
    with pytest.raises(LayoutError, match=rf"cannot reshape a tensor of shape \({shape[0]}, "):
        reshape(_info(shape), target)
    with pytest.raises(LayoutError, match="cannot reshape"):
        reshape(np.zeros(shape, np.float32), target)


def test_reshape_still_resolves_minus_one_and_zero_sizes() -> None:
    assert reshape(_info((2, 3, 4)), (6, -1)) == _info((6, 4))
    assert reshape(_info((0, 4)), (2, 0)) == _info((2, 0))
    assert reshape(np.zeros((0, 4), np.float32), (4, 0)).shape == (4, 0)


class StrictReadAdapter(FoldedBiasAdapter):
    """Reads ``weight`` whatever it is given, as adapters written for complete checkpoints do."""

    def from_canonical(self, layer: Any, path: str, tensors: Mapping[str, T]) -> dict[str, T]:
        out = {"kernel": tensors["weight"]}
        if "bias_ih" in tensors and "bias_hh" in tensors:
            out["bias"] = add(tensors["bias_ih"], tensors["bias_hh"])
        return out


def test_an_adapter_raising_on_a_probed_subset_does_not_fail_the_load(tmp_path: Path) -> None:
    registry = LayoutRegistry("qa18-strict-read")
    registry.register(Cell, StrictReadAdapter())
    _write(tmp_path, **{"rnn.weight": np.ones((3, 2), np.float32), "rnn.bias_ih": np.ones(3, np.float32)})
    load = load_canonical(_cell_layers(), open_checkpoint(tmp_path), registry, strict=False)
    assert load.report.missing == ["rnn.bias_hh"]
    assert load.report.unexpected == ["rnn.bias_ih"]  # (weight, which it cannot build without, is used)
    ((_, arrays),) = list(load)
    assert set(arrays) == {"kernel"}
