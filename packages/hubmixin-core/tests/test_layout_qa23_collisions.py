"""Regressions of QA round 23: a layer whose own tensor is named like another's canonical name is refused at save
and at load (one was dropped silently, the other loaded from its tensor); the floating dtype hint of
``check_checkpoint`` names what its caller offers; missing and unexpected keys that differ by one prefix say
which ``key_mapping`` loads them."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray
from safetensors.numpy import save_file

from hubmixin_core import weights
from hubmixin_core.errors import LayoutError, WeightsDtypeError, WeightsKeyError
from hubmixin_core.weights import (
    ConvAdapter,
    LayerTensors,
    LayoutRegistry,
    LoadReport,
    MappedAdapter,
    TensorInfo,
    TensorRule,
    check_checkpoint,
    load_canonical,
    open_checkpoint,
    save_canonical,
)
from hubmixin_core.weights._check import prefix_hint

Array = NDArray[Any]


class Dense:
    pass


def _registry(adapter: MappedAdapter | ConvAdapter) -> LayoutRegistry:
    registry = LayoutRegistry("test")
    registry.register(Dense, adapter)
    return registry


def _infos(tensors: dict[str, Array]) -> dict[str, TensorInfo]:
    return {name: TensorInfo(tuple(a.shape), "F32") for name, a in tensors.items()}


# A tensor named like another's canonical name


def test_rules_onto_one_canonical_name_or_from_one_tensor_are_refused() -> None:
    with pytest.raises(LayoutError, match=r"TensorRule\(framework='b'.*both map 'weight'"):
        MappedAdapter(TensorRule("a", "weight"), TensorRule("b", "weight"))
    with pytest.raises(LayoutError, match="both map 'a'"):
        MappedAdapter(TensorRule("a", "weight"), TensorRule("a", "bias"))


_DENSE = MappedAdapter(TensorRule("kernel", "weight", (1, 0)))
_GATED = {"kernel": np.ones((2, 3), np.float32), "weight": np.full((3, 2), 7.0, np.float32)}
_CONV = {"kernel": np.ones((3, 2, 4), np.float32), "weight": np.full((4, 2, 3), 7.0, np.float32)}


@pytest.mark.parametrize(("adapter", "tensors"), [(_DENSE, _GATED), (ConvAdapter(), _CONV)])
def test_a_tensor_named_like_another_tensors_canonical_name_is_refused_at_save(
    tmp_path: Path, adapter: MappedAdapter | ConvAdapter, tensors: dict[str, Array]
) -> None:
    """A subclass of a registered layer adding its own ``weight`` inherits the adapter storing ``kernel`` as
    ``weight``: the save wrote one of the two and a strict load put the other's values into both."""
    with pytest.raises(LayoutError) as info:
        save_canonical([LayerTensors("fc", Dense(), tensors)], _registry(adapter), tmp_path)
    message = str(info.value)
    assert "layer 'fc' (Dense)" in message
    assert "tensors 'kernel' and 'weight' are both stored as 'weight'" in message
    assert "Rename one of them, or register a layout adapter" in message
    assert not list(tmp_path.iterdir())  # nothing written


@pytest.mark.parametrize(("adapter", "tensors"), [(_DENSE, _GATED), (ConvAdapter(), _CONV)])
def test_a_file_tensor_is_never_loaded_into_two_tensors_of_a_layer(
    tmp_path: Path, adapter: MappedAdapter | ConvAdapter, tensors: dict[str, Array]
) -> None:
    """A file of the layer's canonical names (as such a save wrote it) is refused, not loaded twice."""
    save_file({"fc.weight": tensors["weight"]}, str(tmp_path / "model.safetensors"))
    for strict in (True, False):
        with pytest.raises(LayoutError, match="tensors 'kernel' and 'weight' are both stored as 'weight'"):
            load_canonical(
                [LayerTensors("fc", Dense(), _infos(tensors))],
                open_checkpoint(tmp_path),
                _registry(adapter),
                strict=strict,
            )


def test_a_layer_of_distinct_names_still_saves_and_loads(tmp_path: Path) -> None:
    tensors = {"kernel": np.arange(6, dtype=np.float32).reshape(2, 3), "gate": np.full((3, 2), 7.0, np.float32)}
    registry = _registry(_DENSE)
    save_canonical([LayerTensors("fc", Dense(), tensors)], registry, tmp_path)
    load = load_canonical(
        [LayerTensors("fc", Dense(), _infos(tensors))], open_checkpoint(tmp_path), registry, strict=True
    )
    ((_, loaded),) = list(load)
    assert loaded.keys() == tensors.keys()
    for name, array in tensors.items():
        np.testing.assert_array_equal(loaded[name], array)


# The floating dtype hint


def _half(tmp_path: Path) -> dict[str, TensorInfo]:
    save_file({"w": np.zeros(2, np.float16)}, str(tmp_path / "model.safetensors"))
    return {"w": TensorInfo((2,), "F32")}


def test_check_checkpoints_dtype_hint_names_its_own_options_unless_given_the_loaders(tmp_path: Path) -> None:
    """A loader of one's own on the core mixin offers no ``dtype=``/``strict=`` unless it says so."""
    expected = _half(tmp_path)
    with pytest.raises(WeightsDtypeError) as info:
        check_checkpoint(expected, open_checkpoint(tmp_path), strict=True)
    assert "dtype=" not in str(info.value) and "convert_floating=True" in str(info.value)
    with pytest.raises(WeightsDtypeError) as info:
        check_checkpoint(expected, open_checkpoint(tmp_path), strict=True, convert_hint=weights.MIXIN_CONVERT_HINT)
    assert info.value.detail == f"floating tensors are converted only when asked: {weights.MIXIN_CONVERT_HINT}"


def test_load_canonical_gives_the_framework_mixins_dtype_hint(tmp_path: Path) -> None:
    expected = _half(tmp_path)
    group = LayerTensors("", Dense(), expected)
    with pytest.raises(WeightsDtypeError, match="pass dtype=<the dtype to load in>, or strict=False"):
        load_canonical([group], open_checkpoint(tmp_path), LayoutRegistry("test"), strict=True)


# Keys that differ by a prefix


def _prefixed(tmp_path: Path, prefix: str, names: list[str]) -> None:
    save_file({prefix + name: np.zeros(2, np.float32) for name in names}, str(tmp_path / "model.safetensors"))


def test_a_strict_load_of_prefixed_keys_names_the_key_mapping(tmp_path: Path) -> None:
    _prefixed(tmp_path, "model.", ["lin.weight", "lin.bias"])
    expected = {name: TensorInfo((2,), "F32") for name in ("lin.weight", "lin.bias")}
    with pytest.raises(WeightsKeyError) as info:
        check_checkpoint(expected, open_checkpoint(tmp_path), strict=True)
    assert "the file's names carry the prefix 'model.', the model's do not" in str(info.value)
    assert 'key_mapping={r"^model\\.": ""}' in str(info.value)
    assert info.value.missing == ["lin.bias", "lin.weight"]


def test_the_reverse_prefix_is_named_too(tmp_path: Path) -> None:
    _prefixed(tmp_path, "", ["lin.weight"])
    with pytest.raises(
        WeightsKeyError, match=r"""the model's names carry the prefix 'net\.'.*key_mapping=\{r"\^": "net\."\}"""
    ):
        check_checkpoint({"net.lin.weight": TensorInfo((2,), "F32")}, open_checkpoint(tmp_path), strict=True)


def test_keys_that_do_not_differ_by_one_prefix_get_no_hint(tmp_path: Path) -> None:
    _prefixed(tmp_path, "model.", ["lin.weight", "other"])
    with pytest.raises(WeightsKeyError) as info:
        check_checkpoint({"lin.weight": TensorInfo((2,), "F32")}, open_checkpoint(tmp_path), strict=True)
    assert "key_mapping" not in str(info.value)


def test_a_lenient_loads_warning_names_the_key_mapping(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("test_qa23")
    with caplog.at_level(logging.WARNING, logger="test_qa23"):
        LoadReport(["lin.weight"], ["model.lin.weight"]).log(logger, "Net", "model.safetensors")
    assert "not used by the model: 'model.lin.weight' (the file's names carry the prefix 'model.'" in caplog.text
    assert 'key_mapping={r"^model\\.": ""}' in caplog.text


def test_no_prefix_hint_where_its_key_mapping_would_rename_keys_that_load() -> None:
    # (reg23c #3 of round 23: a layer moved out of 'encoder.' got key_mapping={r"^encoder\.": ""}, which renames
    # every other encoder tensor)
    loaded = ["encoder.lin.bias", "encoder.lin.weight"]
    assert prefix_hint(["norm.weight"], ["encoder.norm.weight"], loaded) == ""
    assert prefix_hint(["net.lin.weight"], ["lin.weight"], ["head.weight"]) == ""
    assert "key_mapping" in prefix_hint(["norm.weight"], ["encoder.norm.weight"], ["head.weight"])
