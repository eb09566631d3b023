"""Regressions of QA round 17 (torch): Parameters that view a flat tensor ``__init__`` keeps (a non-persistent
buffer, a plain attribute) stay its views after loading, so the loaded model computes what the saved one did."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TypeVar

import pytest
import torch
from safetensors.torch import load_file, save_file
from torch import nn

from hubmixin_torch import PyTorchModelHubMixin, _construct
from hubmixin_torch._construct import construct_without_weights

_FALLBACK = "constructing normally"
"""What the log says where a model could not be built without weights."""


class Flat(nn.Module, PyTorchModelHubMixin):
    """Two Parameters viewing one flat tensor (a flat-weights layout), which ``forward`` reads."""

    a: nn.Parameter
    b: nn.Parameter
    scale: nn.Parameter
    flat: torch.Tensor
    _flat: torch.Tensor

    def __init__(self, keep: str = "buffer") -> None:
        super().__init__()
        w = torch.zeros(20)
        a = nn.Parameter(w[:10])
        a._no_weight_decay = True  # type: ignore[attr-defined]
        self.a = a
        self.b = nn.Parameter(w[10:])
        self.scale = nn.Parameter(torch.ones(()))  # (let go of b, w still a local only, past the limit below)
        a.requires_grad_(False)  # through __init__'s own name, after registering
        if keep == "buffer":
            self.register_buffer("flat", w, persistent=False)
        elif keep == "attribute":
            self._flat = w

    def forward(self) -> torch.Tensor:
        flat = self.flat if hasattr(self, "flat") else self._flat
        return (flat * torch.arange(20.0)).sum() * self.scale


class Whole(nn.Module, PyTorchModelHubMixin):
    """A Parameter on all of a tensor kept as a non-persistent buffer (not a slice)."""

    p: nn.Parameter
    shadow: torch.Tensor

    def __init__(self, n: int = 4) -> None:
        super().__init__()
        w = torch.zeros(n)
        self.register_buffer("shadow", w, persistent=False)
        self.p = nn.Parameter(w)

    def forward(self) -> torch.Tensor:
        return self.shadow.sum()


M = TypeVar("M", Flat, Whole)


def _saved(model: M, path: Path) -> M:
    with torch.no_grad():
        for param in model.parameters():
            param.uniform_(1.0, 2.0)
    model.save_pretrained(path)
    return model


@pytest.mark.parametrize("keep", ["buffer", "attribute"])
@pytest.mark.parametrize("let_go", [False, True], ids=["held", "let-go-at-each-registration"])
def test_parameters_viewing_a_flat_tensor_init_keeps_stay_its_views(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch, keep: str, let_go: bool
) -> None:
    model = _saved(Flat(keep), tmp_path)
    if let_go:  # the Parameters only the construction holds are let go of as it goes, the flat tensor still a local
        monkeypatch.setattr(_construct, "_HELD_BYTES", 0)
    with caplog.at_level(logging.INFO, logger="hubmixin_torch"):
        loaded = Flat.from_pretrained(tmp_path, strict=True)  # (keep: from the config)
    assert torch.equal(loaded(), model())  # was forward on __init__'s zeros: the flat tensor kept them
    reference = Flat(keep)
    reference.load_state_dict(model.state_dict())
    assert torch.equal(loaded(), reference())  # as torch's load_state_dict, copying in place
    flat = loaded.flat if keep == "buffer" else loaded._flat
    assert torch.equal(flat, torch.cat([model.a, model.b]).detach())
    with torch.no_grad():
        loaded.b.add_(1.0)  # still views: a change to a parameter shows in the flat tensor
    assert torch.equal(flat[10:], loaded.b.detach())
    assert getattr(loaded.a, "_no_weight_decay", False) is True
    assert not loaded.a.requires_grad and loaded.b.requires_grad
    assert not any(_FALLBACK in r.getMessage() for r in caplog.records)  # built without weights, __init__ run once


def test_a_parameter_on_all_of_a_kept_tensor_loads_into_it(tmp_path: Path) -> None:
    model = _saved(Whole(), tmp_path)
    loaded = Whole.from_pretrained(tmp_path, strict=True)
    assert torch.equal(loaded(), model())  # was 0.0: the buffer kept __init__'s zeros
    assert loaded.p.untyped_storage().data_ptr() == loaded.shadow.untyped_storage().data_ptr()


def test_a_flat_tensor_is_converted_with_the_loaded_values(tmp_path: Path) -> None:
    model = _saved(Flat(), tmp_path)
    loaded = Flat.from_pretrained(tmp_path, dtype=torch.float64)
    assert loaded.flat.dtype == loaded.a.dtype == torch.float64
    assert torch.equal(loaded.flat, model.flat.double())  # was __init__'s zeros


def test_parameters_viewing_a_local_tensor_stay_on_the_meta_device() -> None:
    class Local(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            w = torch.zeros(20)  # dropped when __init__ returns: nothing to keep the views on
            self.a = nn.Parameter(w[:10])
            self.b = nn.Parameter(w[10:])

    module = construct_without_weights(Local)
    assert module.a.is_meta and module.b.is_meta  # loaded by assignment, not copied into memory of their own


_DEFAULT_SCALE = torch.ones(4)


class FromDefault(nn.Module, PyTorchModelHubMixin):
    """A Parameter on a module-level tensor ``__init__`` keeps no reference to."""

    def __init__(self, n: int = 4) -> None:
        super().__init__()
        self.scale = nn.Parameter(_DEFAULT_SCALE)


def test_a_parameter_on_a_tensor_init_does_not_keep_is_loaded_by_assignment(tmp_path: Path) -> None:
    saved = FromDefault()
    with torch.no_grad():
        saved.scale.copy_(torch.arange(4.0))  # (into the shared default, as torch writes)
    saved.save_pretrained(tmp_path)
    _DEFAULT_SCALE.fill_(1.0)
    first = FromDefault.from_pretrained(tmp_path)
    assert first.scale.tolist() == [0.0, 1.0, 2.0, 3.0]
    assert _DEFAULT_SCALE.tolist() == [1.0] * 4  # the module-level tensor is left as it was
    assert first.scale.untyped_storage().data_ptr() != _DEFAULT_SCALE.untyped_storage().data_ptr()


class FlatWithHead(nn.Module, PyTorchModelHubMixin):
    def __init__(self, n: int = 4) -> None:
        super().__init__()
        self.lin = nn.Linear(8, 8)  # draws from the random state in a normal construction
        w = torch.empty(2 * n)
        nn.init.normal_(w)
        self.a, self.b = nn.Parameter(w[:n]), nn.Parameter(w[n:])
        self.register_buffer("flat", w, persistent=False)


def test_a_missing_parameter_on_a_flat_buffer_gets_a_normal_constructions_values(tmp_path: Path) -> None:
    FlatWithHead().save_pretrained(tmp_path)
    file = str(tmp_path / "model.safetensors")
    state = load_file(file)
    del state["b"]
    save_file(state, file, metadata={"format": "pt"})
    torch.manual_seed(0)
    ours = FlatWithHead.from_pretrained(tmp_path, strict=False)
    torch.manual_seed(0)
    reference = FlatWithHead()
    reference.load_state_dict(load_file(file), strict=False)
    flat, reference_flat = ours.get_buffer("flat"), reference.get_buffer("flat")
    assert torch.equal(ours.b, reference.b) and torch.equal(flat, reference_flat)
    assert ours.b.data_ptr() == flat.data_ptr() + 4 * flat.element_size()  # still a view of it


class FlatInGroups(nn.Module, PyTorchModelHubMixin):
    """The flat tensor held a level deeper: in a list in a dict attribute."""

    def __init__(self, n: int = 4) -> None:
        super().__init__()
        w = torch.zeros(2 * n)
        self.groups = {"flat": [w]}
        self.a, self.b = nn.Parameter(w[:n]), nn.Parameter(w[n:])


def test_a_flat_tensor_held_deeper_still_shows_the_loaded_values(tmp_path: Path) -> None:
    saved = FlatInGroups()
    with torch.no_grad():
        saved.a.copy_(torch.arange(4.0))
        saved.b.fill_(7.0)
    saved.save_pretrained(tmp_path)
    loaded = FlatInGroups.from_pretrained(tmp_path)
    assert loaded.groups["flat"][0].tolist() == [0.0, 1.0, 2.0, 3.0, 7.0, 7.0, 7.0, 7.0]


def test_a_loaded_flat_parameter_can_be_swapped_by_torch(tmp_path: Path) -> None:
    """torch.utils.swap_tensors refuses a tensor something holds weakly (Module.to with swapping on)."""
    FlatWithHead().save_pretrained(tmp_path)
    loaded = FlatWithHead.from_pretrained(tmp_path)
    swapping = torch.__future__.get_swap_module_params_on_conversion()
    torch.__future__.set_swap_module_params_on_conversion(True)
    try:
        loaded.to(torch.float64)
    finally:
        torch.__future__.set_swap_module_params_on_conversion(swapping)
    assert loaded.a.dtype == torch.float64


class WithTensorDefault(nn.Module, PyTorchModelHubMixin):
    def __init__(self, n: int = 4, init: torch.Tensor = torch.ones(4)) -> None:  # noqa: B008
        super().__init__()
        self.scale = nn.Parameter(init.clone())


def test_an_init_with_a_tensor_default_loads(tmp_path: Path) -> None:
    """Signatures were compared with ==, which compares a tensor default elementwise (no truth value)."""
    saved = WithTensorDefault()
    with torch.no_grad():
        saved.scale.mul_(3.0)
    saved.save_pretrained(tmp_path)
    assert WithTensorDefault.from_pretrained(tmp_path).scale.tolist() == [3.0] * 4
