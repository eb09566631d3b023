"""Regressions of QA round 19 (torch): a Parameter made on part of another's memory (``nn.Parameter(a.data[:2])``,
built on the meta device) that ``dtype=`` converts gets memory of its own, as after torch's ``Module.to``, whichever
library wrote the file (huggingface_hub's records it under the covering tensor; hubmixin's holds it apart)."""

from __future__ import annotations

from pathlib import Path

import huggingface_hub
import pytest
import torch
from torch import nn

from hubmixin_torch import PyTorchModelHubMixin


class _Body(nn.Module):
    a: nn.Parameter
    b: nn.Parameter

    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Parameter(torch.zeros(3, 4))
        self.b = nn.Parameter(self.a.data[:, 1])  # a column: a view with strides of its own


class Ours(_Body, PyTorchModelHubMixin):
    """``b`` views ``a``, with hubmixin's mixin."""


class Theirs(_Body, huggingface_hub.PyTorchModelHubMixin):
    """``b`` views ``a``, with huggingface_hub's mixin (its file holds ``a`` only, recording ``b`` as ``a``)."""


def _shares(loaded: _Body) -> bool:
    return bool(loaded.b.untyped_storage()._cdata == loaded.a.untyped_storage()._cdata)


@pytest.mark.parametrize("writer", [Ours, Theirs], ids=["hubmixin", "huggingface_hub"])
@pytest.mark.parametrize("map_location", [None, "cpu", "meta"])
@pytest.mark.parametrize("strict", [False, True])
@pytest.mark.parametrize("dtype", [None, torch.float16, torch.bfloat16])
def test_a_view_converted_by_dtype_gets_memory_of_its_own_whoever_wrote_the_file(
    tmp_path: Path, writer: type[_Body], map_location: str | None, strict: bool, dtype: torch.dtype | None
) -> None:
    model = writer()
    with torch.no_grad():
        model.a.copy_(torch.arange(12.0).view(3, 4) + 1)
    model.save_pretrained(tmp_path)  # type: ignore[operator]
    if map_location is None:
        loaded = Ours.from_pretrained(tmp_path, strict=strict, dtype=dtype)
    else:
        loaded = Ours.from_pretrained(tmp_path, strict=strict, dtype=dtype, map_location=map_location)
    reference = Ours()
    reference.load_state_dict(model.state_dict())
    if dtype is not None:
        reference.to(dtype)
    assert _shares(loaded) == _shares(reference) == (dtype is None)  # as torch's Module.to leaves them
    assert isinstance(loaded.b, nn.Parameter) and loaded.b.dtype == loaded.a.dtype == (dtype or torch.float32)
    if map_location == "meta":
        assert loaded.a.is_meta and loaded.b.is_meta
        return
    assert torch.equal(loaded.a, reference.a) and torch.equal(loaded.b, reference.b)
    with torch.no_grad():
        loaded.a.add_(100.0)  # a training step on a: b follows only where it views a
    assert torch.equal(loaded.b, loaded.a[:, 1]) == (dtype is None)
