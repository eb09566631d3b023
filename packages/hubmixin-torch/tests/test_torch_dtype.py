"""``dtype=`` on load and save; dtype mismatches."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors import safe_open
from torch_models import Net

from hubmixin_core.errors import WeightsDtypeError


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_loading_in_another_dtype_converts_floating_tensors_only(net: Net, saved: Path, dtype: torch.dtype) -> None:
    loaded = Net.from_pretrained(saved, dtype=dtype)
    assert {p.dtype for p in loaded.parameters()} == {dtype}
    assert loaded.get_buffer("norm.running_mean").dtype == dtype
    assert loaded.positions.dtype == dtype  # non-persistent, converted like model.to(dtype) would
    assert loaded.get_buffer("norm.num_batches_tracked").dtype == torch.int64
    assert loaded.steps.dtype == torch.int64
    assert torch.equal(loaded.embed.weight, net.embed.weight.to(dtype))
    assert loaded.head.weight is loaded.embed.weight
    loaded(torch.randint(0, 11, (1, 3)))


def test_saving_in_another_dtype(net: Net, tmp_path: Path) -> None:
    net.save_pretrained(tmp_path, dtype=torch.bfloat16)
    with safe_open(str(tmp_path / "model.safetensors"), framework="pt") as f:
        assert f.get_tensor("embed.weight").dtype == torch.bfloat16
        assert f.get_tensor("norm.num_batches_tracked").dtype == torch.int64
    assert net.embed.weight.dtype == torch.float32
    loaded = Net.from_pretrained(tmp_path, dtype=torch.bfloat16, strict=True)
    assert torch.equal(loaded.embed.weight, net.embed.weight.to(torch.bfloat16))


def test_a_dtype_mismatch_converts_to_the_model_dtype_unless_strict(net: Net, tmp_path: Path) -> None:
    net.save_pretrained(tmp_path, dtype=torch.float16)
    loaded = Net.from_pretrained(tmp_path)
    assert loaded.embed.weight.dtype == torch.float32
    assert torch.equal(loaded.embed.weight, net.embed.weight.half().float())
    with pytest.raises(
        WeightsDtypeError, match=r"model\.safetensors: tensor 'embed\.weight' has dtype F16, the model expects F32"
    ):
        Net.from_pretrained(tmp_path, strict=True)


def test_an_integer_tensor_saved_as_float_is_a_strict_error_even_with_dtype(net: Net, tmp_path: Path) -> None:
    net.norm.num_batches_tracked = torch.tensor(3.0)
    net.save_pretrained(tmp_path)
    with pytest.raises(WeightsDtypeError, match="num_batches_tracked") as info:
        Net.from_pretrained(tmp_path, strict=True, dtype=torch.float16)
    assert (info.value.key, info.value.expected, info.value.found) == ("norm.num_batches_tracked", "I64", "F32")


def test_a_complex_tensor_into_a_real_parameter_is_an_error_saying_so(net: Net, tmp_path: Path) -> None:
    net.norm.weight.data = torch.zeros_like(net.norm.weight, dtype=torch.complex64)
    net.save_pretrained(tmp_path)
    with pytest.raises(WeightsDtypeError, match="complex and real tensors are never converted") as info:
        Net.from_pretrained(tmp_path)
    assert (info.value.key, info.value.expected, info.value.found) == ("norm.weight", "F32", "C64")


@pytest.mark.parametrize("dtype", [torch.int8, "float16", torch.bool])
def test_a_dtype_that_is_not_floating_is_a_type_error(saved: Path, dtype: object) -> None:
    with pytest.raises(TypeError, match=r"floating-point torch\.dtype"):
        Net.from_pretrained(saved, dtype=dtype)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"floating-point torch\.dtype"):
        Net().save_pretrained(saved.parent / "out", dtype=dtype)  # type: ignore[call-overload]
