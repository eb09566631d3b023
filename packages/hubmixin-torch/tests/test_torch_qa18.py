"""Regressions of QA round 18 (torch): a Parameter made on part of another Parameter's memory
(``nn.Parameter(a.data[:2])``) loads as a view of it again, from huggingface_hub's files and from hubmixin's own."""

from __future__ import annotations

from pathlib import Path

import huggingface_hub
import pytest
import torch
from safetensors.torch import save_file
from torch import nn

from hubmixin_core.cli import main
from hubmixin_torch import PyTorchModelHubMixin


class _Body(nn.Module):
    a: nn.Parameter
    b: nn.Parameter

    def __init__(self, n: int = 4) -> None:
        super().__init__()
        a = nn.Parameter(torch.zeros(n))
        self.a = a
        self.b = nn.Parameter(a.data[1:3])  # dropped with __init__'s locals: only the two Parameters hold the memory


class Ours(_Body, PyTorchModelHubMixin):
    """``b`` views ``a``, with hubmixin's mixin."""


class Theirs(_Body, huggingface_hub.PyTorchModelHubMixin):
    """``b`` views ``a``, with huggingface_hub's mixin (its file holds ``a`` only, recording ``b`` as ``a``)."""


def _views(loaded: Ours) -> bool:
    return loaded.b.untyped_storage().data_ptr() == loaded.a.untyped_storage().data_ptr()


@pytest.mark.parametrize("writer", [Ours, Theirs], ids=["hubmixin", "huggingface_hub"])
def test_a_parameter_on_part_of_another_loads_as_its_view(tmp_path: Path, writer: type[_Body]) -> None:
    model = writer()
    with torch.no_grad():
        model.a.uniform_(1.0, 2.0)
    model.save_pretrained(tmp_path)  # type: ignore[operator]
    loaded = Ours.from_pretrained(tmp_path, strict=True)
    assert torch.equal(loaded.a, model.a) and torch.equal(loaded.b, model.b)  # was zeros from huggingface_hub's file
    assert _views(loaded)  # as torch's load_state_dict leaves it: training a changes b
    reference = Ours()
    reference.load_state_dict(model.state_dict())
    assert torch.equal(reference.a, loaded.a) and _views(reference)  # (what torch leaves, for comparison)
    with torch.no_grad():
        loaded.a.add_(1.0)
    assert torch.equal(loaded.b, loaded.a[1:3])


def test_a_file_whose_view_holds_other_values_loads_each_as_stored(tmp_path: Path) -> None:
    Ours().save_pretrained(tmp_path)
    a, b = torch.arange(4.0), torch.tensor([7.0, 8.0])  # b is not a[1:3]: written by something else
    save_file({"a": a, "b": b}, str(tmp_path / "model.safetensors"), metadata={"format": "pt"})
    loaded = Ours.from_pretrained(tmp_path, strict=True)
    assert torch.equal(loaded.a, a) and torch.equal(loaded.b, b)


def test_parameters_on_halves_of_a_dropped_tensor_load_their_values(tmp_path: Path) -> None:
    class Halves(nn.Module, PyTorchModelHubMixin):
        def __init__(self) -> None:
            super().__init__()
            w = torch.zeros(8)
            self.a = nn.Parameter(w[:4])
            self.b = nn.Parameter(w[4:])

    model = Halves()
    with torch.no_grad():
        model.a.fill_(1.0)
        model.b.fill_(2.0)
    model.save_pretrained(tmp_path)
    loaded = Halves.from_pretrained(tmp_path, strict=True)
    assert torch.equal(loaded.a, model.a) and torch.equal(loaded.b, model.b)


def test_a_dtype_hubmixin_does_not_store_is_refused_up_front(tmp_path: Path) -> None:
    Ours().save_pretrained(tmp_path)
    with pytest.raises(TypeError, match=r"hubmixin stores .*got torch\.float4_e2m1fn_x2"):
        Ours.from_pretrained(tmp_path, dtype=torch.float4_e2m1fn_x2)  # was a WeightsDtypeError per tensor
    with pytest.raises(TypeError, match=r"got torch\.float4_e2m1fn_x2"):
        Ours().save_pretrained(tmp_path / "again", dtype=torch.float4_e2m1fn_x2)
    assert not (tmp_path / "again").exists()


def test_convert_names_the_file_and_a_dtype_hubmixin_does_not_store(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "x.pt"
    torch.save({"w": torch.zeros(2, dtype=torch.float4_e2m1fn_x2)}, source)
    assert main(["convert", str(source), str(tmp_path / "out"), "--to", "torch"]) == 1
    error = capsys.readouterr().err
    assert f"{source}: cannot save tensor 'w': hubmixin does not store its dtype torch.float4_e2m1fn_x2" in error
    assert "safetensors cannot store" not in error  # (it does store F4)
    assert not (tmp_path / "out").exists()
