"""Regressions of QA round 18 (torch): a Parameter made on part of another Parameter's memory
(``nn.Parameter(a.data[:2])``) loads as a view of it again, from huggingface_hub's files and from hubmixin's own."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import huggingface_hub
import pytest
import torch
from safetensors.torch import save_file
from torch import nn

from hubmixin_core.cli import main
from hubmixin_core.errors import WeightsKeyError
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


def test_a_file_whose_view_holds_other_values_loads_as_tied_weights_do(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    Ours().save_pretrained(tmp_path)
    a, b = torch.arange(4.0), torch.tensor([7.0, 8.0])  # b is not a[1:3]: written by something else
    save_file({"a": a, "b": b}, str(tmp_path / "model.safetensors"), metadata={"format": "pt"})
    with pytest.raises(WeightsKeyError, match=r"'b' views 'a' in the model, but the file holds them with other"):
        Ours.from_pretrained(tmp_path, strict=True)
    with caplog.at_level(logging.WARNING, logger="hubmixin_torch"):
        loaded = Ours.from_pretrained(tmp_path)
    assert torch.equal(loaded.a, a) and _views(loaded) and torch.equal(loaded.b, a[1:3])  # the covering one's
    assert "'a' is loaded, 'b' not" in caplog.text


def test_a_model_tied_by_data_refuses_a_file_holding_other_values(tmp_path: Path) -> None:
    class LM(nn.Module, PyTorchModelHubMixin):
        def __init__(self) -> None:
            super().__init__()
            self.emb = nn.Embedding(5, 3)
            self.head = nn.Linear(3, 5, bias=False)
            self.head.weight.data = self.emb.weight.data

    LM().save_pretrained(tmp_path)
    tensors = {"emb.weight": torch.ones(5, 3), "head.weight": torch.full((5, 3), 2.0)}  # saved before tying
    save_file(tensors, str(tmp_path / "model.safetensors"), metadata={"format": "pt"})
    with pytest.raises(RuntimeError, match=r"'head.weight' views 'emb.weight' in the model"):  # was loaded untied
        LM.from_pretrained(tmp_path, strict=True)
    loaded = LM.from_pretrained(tmp_path)
    assert loaded.head.weight.data_ptr() == loaded.emb.weight.data_ptr()
    assert torch.equal(loaded.head.weight, tensors["emb.weight"])


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


class TiedView(nn.Module, PyTorchModelHubMixin):
    """``b`` views ``a`` and is held at two paths."""

    def __init__(self) -> None:
        super().__init__()
        a = nn.Parameter(torch.zeros(6))
        self.a = a
        self.b = nn.Parameter(a.data[1:3])
        self.b2 = self.b


@pytest.mark.parametrize("strict", [False, True])
def test_a_view_held_at_two_paths_stays_one_parameter(tmp_path: Path, strict: bool) -> None:
    model = TiedView()
    with torch.no_grad():
        model.a.copy_(torch.arange(6.0))
    model.save_pretrained(tmp_path)
    loaded = TiedView.from_pretrained(tmp_path, strict=strict)
    assert loaded.b is loaded.b2 and len(list(loaded.parameters())) == 2  # as torch's load_state_dict keeps them
    assert torch.equal(loaded.b2, model.b) and loaded.b2.untyped_storage().data_ptr() == loaded.a.data_ptr()


def test_a_data_tied_head_held_at_two_paths_stays_one_parameter_from_a_bin(tmp_path: Path) -> None:
    class Tied(nn.Module, PyTorchModelHubMixin):
        def __init__(self) -> None:
            super().__init__()
            self.emb = nn.Embedding(5, 3)
            self.head = nn.Linear(3, 5, bias=False)
            self.head.weight.data = self.emb.weight.data
            self.head2 = nn.Linear(3, 5, bias=False)
            self.head2.weight = self.head.weight

    model = Tied()
    model.save_pretrained(tmp_path)
    (tmp_path / "model.safetensors").unlink()
    torch.save(model.state_dict(), tmp_path / "pytorch_model.bin")
    loaded = Tied.from_pretrained(tmp_path)
    assert loaded.head.weight is loaded.head2.weight
    assert torch.equal(loaded.head2.weight, model.emb.weight)


@pytest.mark.parametrize("strict", [False, True])
def test_views_load_onto_the_meta_device(tmp_path: Path, strict: bool) -> None:
    Ours().save_pretrained(tmp_path)
    loaded = Ours.from_pretrained(tmp_path, map_location="meta", strict=strict)  # was aten::equal on Meta
    assert loaded.a.is_meta and loaded.b.is_meta and loaded.b.shape == (2,)


class ViewOfView(nn.Module):
    """A view of a view: ``c`` is part of ``b``, a row of ``a``."""

    def __init__(self) -> None:
        super().__init__()
        a = nn.Parameter(torch.zeros(2, 6))
        self.a = a
        self.b = nn.Parameter(a.data[1])  # through __init__'s own name for a
        self.c = nn.Parameter(self.b.data[2:4])  # through the registered b


class ViewOfRegistered(nn.Module):
    """Views of ``a`` through __init__'s own name and through the registered Parameter."""

    def __init__(self) -> None:
        super().__init__()
        a = nn.Parameter(torch.zeros(12))
        self.a = a
        self.b = nn.Parameter(a.data[2:])
        self.c = nn.Parameter(self.a.data[4:6])


def _with(body: type[nn.Module], mixin: type) -> Any:  # (a class made here: mypy cannot see its mixin)
    return type(f"{body.__name__}{mixin.__module__.split('.')[0]}", (body, mixin), {})


@pytest.mark.parametrize("body", [ViewOfView, ViewOfRegistered])
@pytest.mark.parametrize("mixin", [PyTorchModelHubMixin, huggingface_hub.PyTorchModelHubMixin])
@pytest.mark.parametrize("strict", [False, True])
def test_views_of_registered_parameters_and_of_views_load_as_views(
    tmp_path: Path, body: type[nn.Module], mixin: type, strict: bool
) -> None:
    model = _with(body, mixin)()
    with torch.no_grad():
        model.a.copy_(torch.arange(12.0).view(model.a.shape) + 1)
    model.save_pretrained(tmp_path)
    loaded = _with(body, PyTorchModelHubMixin).from_pretrained(tmp_path, strict=strict)
    for name in ("a", "b", "c"):  # c loaded as zeros from huggingface_hub's file
        assert torch.equal(getattr(loaded, name), getattr(model, name)), name
        assert getattr(loaded, name).untyped_storage().data_ptr() == loaded.a.data_ptr(), name


def test_views_converted_by_dtype_get_memory_of_their_own(tmp_path: Path) -> None:
    class Expanded(nn.Module, PyTorchModelHubMixin):
        def __init__(self) -> None:
            super().__init__()
            a = nn.Parameter(torch.zeros(6))
            self.a = a
            self.b = nn.Parameter(a.data[1:3])
            self.e = nn.Parameter(a.data[:1].expand(3))

    Expanded().save_pretrained(tmp_path)
    loaded = Expanded.from_pretrained(tmp_path, dtype=torch.float16)
    reference = Expanded().to(torch.float16)  # torch's Module.to: memory of its own
    assert reference.b.untyped_storage().data_ptr() != reference.a.untyped_storage().data_ptr()
    assert loaded.b.untyped_storage().data_ptr() != loaded.a.untyped_storage().data_ptr()
    assert loaded.e.stride() != (0,)


class Views(nn.Module, PyTorchModelHubMixin):
    """A view, an overlapping (expanded) view, and a tie by data."""

    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Parameter(torch.arange(6.0))
        self.b = nn.Parameter(self.a.data[:2])
        self.e = nn.Parameter(self.a.data[:1].expand(3))
        self.emb = nn.Embedding(4, 2)
        self.head = nn.Linear(2, 4, bias=False)
        self.head.weight.data = self.emb.weight.data


def _stored_with_other_values(directory: Path, dtype: torch.dtype = torch.float32) -> dict[str, torch.Tensor]:
    Views().save_pretrained(directory)
    state = {k: v.detach().clone().contiguous() for k, v in Views().state_dict().items()}
    state["b"], state["head.weight"] = (state["b"] + 100).to(dtype), (state["head.weight"] + 100).to(dtype)
    state["e"] = torch.tensor([5.0, 6.0, 7.0])
    save_file(state, str(directory / "model.safetensors"), metadata={"format": "pt"})
    return state


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16])
def test_views_stored_with_other_values_in_any_dtype_are_named(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, dtype: torch.dtype
) -> None:
    state = _stored_with_other_values(tmp_path, dtype)
    with caplog.at_level(logging.WARNING, logger="hubmixin_torch"):
        loaded = Views.from_pretrained(tmp_path)
    assert "'a' is loaded, 'b' not" in caplog.text and "'emb.weight' is loaded, 'head.weight' not" in caplog.text
    assert torch.equal(loaded.b, state["a"][:2]) and loaded.b.data_ptr() == loaded.a.data_ptr()
    # an overlapping view gets memory of its own, holding the file's values (not a view: its elements overlap)
    assert torch.equal(loaded.e, state["e"]) and loaded.e.untyped_storage().data_ptr() != loaded.a.data_ptr()


def test_views_converted_by_dtype_load_as_stored_without_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    state = _stored_with_other_values(tmp_path)
    with caplog.at_level(logging.WARNING, logger="hubmixin_torch"):
        loaded = Views.from_pretrained(tmp_path, dtype=torch.float16, strict=True)  # (refused since 3ebdd03)
    assert "other values" not in caplog.text
    assert torch.equal(loaded.b, state["b"].half()) and torch.equal(loaded.head.weight, state["head.weight"].half())


def test_a_model_loading_through_its_own_hooks_shows_what_torch_shows(tmp_path: Path) -> None:
    class Hooked(nn.Module, PyTorchModelHubMixin):
        def __init__(self) -> None:
            super().__init__()
            self.a = nn.Parameter(torch.zeros(6))
            self.b = nn.Parameter(self.a.data[:2])
            self._register_load_state_dict_pre_hook(lambda *args, **kwargs: None)  # type: ignore[no-untyped-call]

    Hooked().save_pretrained(tmp_path)
    state = {"a": torch.arange(6.0), "b": torch.tensor([100.0, 101.0])}
    save_file(state, str(tmp_path / "model.safetensors"), metadata={"format": "pt"})
    loaded = Hooked.from_pretrained(tmp_path)
    reference = Hooked()
    reference.load_state_dict(state)
    assert torch.equal(loaded.a, reference.a) and torch.equal(loaded.b, reference.b)  # (the view's values win)


class FlatPersistent(nn.Module):
    """Parameters viewing a persistent flat buffer (huggingface_hub's file holds only ``flat``)."""

    def __init__(self) -> None:
        super().__init__()
        w = torch.zeros(15)
        self.register_buffer("flat", w)
        self.w = nn.Parameter(w[:12].view(3, 4))
        self.b = nn.Parameter(w[12:])


class BuiltForReal(nn.Module):
    """Built normally (``__init__`` reads a value), ``b`` viewing ``a``."""

    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Parameter(torch.randn(6))
        self.b = nn.Parameter(self.a.data[:2])
        self.scale = float(self.a.detach().abs().max().item())


@pytest.mark.parametrize("body", [FlatPersistent, BuiltForReal])
def test_views_recorded_by_huggingface_hub_are_converted_by_dtype(tmp_path: Path, body: type[nn.Module]) -> None:
    model = _with(body, huggingface_hub.PyTorchModelHubMixin)()
    model.save_pretrained(tmp_path)
    cls = _with(body, PyTorchModelHubMixin)
    loaded = cls.from_pretrained(tmp_path, dtype=torch.bfloat16)
    reference = body()
    reference.load_state_dict(model.state_dict())
    reference = reference.to(torch.bfloat16)  # as torch's Module.to leaves them
    for name, tensor in reference.state_dict().items():  # (b stayed float32, on __init__'s memory)
        assert loaded.state_dict()[name].dtype == torch.bfloat16, name
        assert torch.equal(loaded.state_dict()[name], tensor), name
    on_meta = cls.from_pretrained(tmp_path, map_location="meta")
    assert all(t.is_meta for t in on_meta.state_dict().values())


def test_an_unfold_window_is_no_covering_tensor(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    class Window(nn.Module, PyTorchModelHubMixin):
        def __init__(self) -> None:
            super().__init__()
            self.a = nn.Parameter(torch.zeros(6))
            self.win = nn.Parameter(self.a.data.unfold(0, 3, 1))

    Window().save_pretrained(tmp_path)
    state = {"a": torch.arange(6.0), "win": torch.arange(12.0).view(4, 3) + 100}
    save_file(state, str(tmp_path / "model.safetensors"), metadata={"format": "pt"})
    with caplog.at_level(logging.WARNING, logger="hubmixin_torch"):
        loaded = Window.from_pretrained(tmp_path, strict=True)  # (refused: win taken to cover a)
    assert torch.equal(loaded.a, state["a"]) and torch.equal(loaded.win, state["win"]) and not caplog.text


def test_a_covering_tensor_with_gaps_covers_nothing(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    class Gaps(nn.Module, PyTorchModelHubMixin):
        def __init__(self) -> None:
            super().__init__()
            w = torch.zeros(10)
            self.a = nn.Parameter(w[::2])
            self.b = nn.Parameter(w[:4])

    model = Gaps()
    with torch.no_grad():
        model.a.copy_(torch.arange(5.0) + 1)
    model.save_pretrained(tmp_path)
    with caplog.at_level(logging.WARNING, logger="hubmixin_torch"):
        for _ in range(4):  # (compared with memory never filled, it failed at random)
            loaded = Gaps.from_pretrained(tmp_path, strict=True)
            assert torch.equal(loaded.a, model.a) and torch.equal(loaded.b, model.b)
    assert not caplog.text
