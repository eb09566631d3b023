"""Tied (shared) parameters: stored once, restored as one Parameter."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors import safe_open
from torch import nn
from torch_models import Net, TiedByMethod, assert_same_tensors

from hubmixin_core.errors import WeightsError, WeightsKeyError
from hubmixin_torch import PyTorchModelHubMixin


def test_a_tied_weight_is_stored_once(saved: Path) -> None:
    with safe_open(str(saved / "model.safetensors"), framework="pt") as f:
        names: list[str] = f.keys()
        assert "embed.weight" in names
        assert "head.weight" not in names
        assert (f.metadata() or {})["head.weight"] == "embed.weight"  # as safetensors.torch.save_model records


def test_a_sharded_save_records_the_ties_in_its_index_too(tmp_path: Path) -> None:
    model = Net()
    model.save_pretrained(tmp_path, max_shard_size=1)  # one tensor per shard
    index = json.loads((tmp_path / "model.safetensors.index.json").read_text())
    assert index["metadata"]["head.weight"] == "embed.weight"  # as huggingface_hub's save_torch_state_dict
    assert "head.weight" not in index["weight_map"] and "format" not in index["metadata"]
    loaded = Net.from_pretrained(tmp_path, strict=True)
    assert loaded.head.weight is loaded.embed.weight


def test_ties_are_restored_as_one_parameter(saved: Path) -> None:
    loaded = Net.from_pretrained(saved, strict=True)
    assert loaded.head.weight is loaded.embed.weight
    assert len(list(loaded.parameters())) == len({id(p) for p in loaded.parameters()})
    with torch.no_grad():
        loaded.embed.weight.add_(1)
    assert torch.equal(loaded.head.weight, loaded.embed.weight)


def test_ties_made_by_tie_weights_are_restored(tmp_path: Path) -> None:
    model = TiedByMethod()
    model.tie_weights()
    model.save_pretrained(tmp_path)
    loaded = TiedByMethod.from_pretrained(tmp_path, strict=True)
    assert loaded.decoder.weight is loaded.encoder.weight
    assert_same_tensors(model, loaded)


def test_a_checkpoint_holding_every_tied_name_loads_strictly(tmp_path: Path) -> None:
    model = Net()
    with torch.no_grad():  # as written by a tool that stores both names
        model.embed.weight.mul_(2)
    from safetensors.torch import save_file

    model.save_pretrained(tmp_path)
    tensors = {k: v.clone() for k, v in model.state_dict().items()}
    save_file(tensors, tmp_path / "model.safetensors", metadata={"format": "pt"})
    loaded = Net.from_pretrained(tmp_path, strict=True)
    assert loaded.head.weight is loaded.embed.weight
    assert_same_tensors(model, loaded)


def test_shared_parameter_registered_twice_in_init(tmp_path: Path) -> None:
    class Shared(nn.Module, PyTorchModelHubMixin):
        def __init__(self) -> None:
            super().__init__()
            shared = nn.Parameter(torch.randn(3))
            self.first = shared
            self.second = shared

    model = Shared()
    model.save_pretrained(tmp_path)
    loaded = Shared.from_pretrained(tmp_path, strict=True)
    assert loaded.first is loaded.second
    assert torch.equal(loaded.first, model.first)


class WithViews(nn.Module, PyTorchModelHubMixin):
    """A buffer viewing part of a parameter, and one viewing columns of a matrix (no name covers its storage)."""

    head: torch.Tensor
    columns: torch.Tensor

    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Parameter(torch.arange(4.0))
        self.register_buffer("head", self.a.data[:2])
        self.register_buffer("columns", torch.arange(12.0).reshape(3, 4)[:, :2])


def test_overlapping_views_are_stored_each_with_its_values(tmp_path: Path) -> None:
    model = WithViews()
    with torch.no_grad():
        model.a.mul_(10)  # the trained values: head sees them too
        model.columns.add_(100)
    model.save_pretrained(tmp_path)
    with safe_open(str(tmp_path / "model.safetensors"), framework="pt") as f:
        assert sorted(f.keys()) == ["a", "columns", "head"]  # not ties: each is stored
    for strict in (True, False):
        loaded = WithViews.from_pretrained(tmp_path, strict=strict)
        assert loaded.a.tolist() == [0.0, 10.0, 20.0, 30.0]
        assert loaded.head.tolist() == [0.0, 10.0]  # not the values __init__ gave it
        assert torch.equal(loaded.columns, model.columns)


def test_a_tie_the_checkpoint_does_not_hold_is_named(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    model = TiedByMethod()  # tie_weights() not called: saved untied, two different tensors
    assert not torch.equal(model.encoder.weight, model.decoder.weight)
    model.save_pretrained(tmp_path)
    with pytest.raises(WeightsError, match=r"'encoder.weight', 'decoder.weight' are one tensor in the model \(tied\)"):
        TiedByMethod.from_pretrained(tmp_path, strict=True)  # tie_weights() ties them: one of the two is lost
    with caplog.at_level(logging.WARNING, logger="hubmixin_torch"):
        loaded = TiedByMethod.from_pretrained(tmp_path)
    assert "'decoder.weight' not" in caplog.text
    assert torch.equal(loaded.encoder.weight, model.encoder.weight) and loaded.decoder.weight is loaded.encoder.weight


class TiedPair(nn.Module, PyTorchModelHubMixin):
    def __init__(self) -> None:
        super().__init__()
        self.emb, self.head = nn.Embedding(10, 4), nn.Linear(4, 10, bias=False)
        self.head.weight = self.emb.weight


class UntiedRenamedPair(nn.Module, PyTorchModelHubMixin):
    def __init__(self) -> None:
        super().__init__()
        self.embedding, self.out = nn.Embedding(10, 4), nn.Linear(4, 10, bias=False)


def test_key_mapping_renames_the_tied_names_the_file_records(tmp_path: Path) -> None:
    saved = TiedPair()
    saved.save_pretrained(tmp_path)  # holds emb.weight, records head.weight as its tie
    mapping = {r"^emb\.": "embedding.", r"^head\.": "out."}
    for strict in (True, False):
        loaded = UntiedRenamedPair.from_pretrained(tmp_path, strict=strict, key_mapping=mapping)
        assert torch.equal(loaded.embedding.weight, saved.emb.weight)
        assert torch.equal(loaded.out.weight, saved.emb.weight)  # was missing (strict) or left random
        assert loaded.out.weight.data_ptr() != loaded.embedding.weight.data_ptr()  # the model holds them apart


class Switchable(nn.Module, PyTorchModelHubMixin):
    """Ties its head to its embedding unless asked not to (``tie=False``: the head fine-tuned on its own)."""

    def __init__(self, tie: bool = True, by_data: bool = False) -> None:
        super().__init__()
        self.emb, self.head = nn.Embedding(10, 4), nn.Linear(4, 10, bias=False)
        if tie and by_data:
            self.head.weight.data = self.emb.weight.data
        elif tie:
            self.head.weight = self.emb.weight

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.head(self.emb(ids))
        return out


def _head_step_changes_emb(model: Switchable) -> bool:
    """Whether one SGD step on the head alone, the embedding frozen, changes the embedding."""
    before = model.emb.weight.detach().clone()
    model.emb.weight.requires_grad_(False)
    optimizer = torch.optim.SGD([model.head.weight], lr=1.0)
    model(torch.tensor([1, 2, 3])).logsumexp(-1).sum().backward()
    optimizer.step()
    return not torch.equal(before, model.emb.weight)


@pytest.mark.parametrize("by_data", [False, True])
@pytest.mark.parametrize("strict", [False, True])
def test_a_tied_checkpoint_loaded_untied_gives_each_its_own_memory(by_data: bool, strict: bool, tmp_path: Path) -> None:
    saved = Switchable(by_data=by_data)
    saved.save_pretrained(tmp_path)  # emb.weight, head.weight recorded as its tie
    loaded = Switchable.from_pretrained(tmp_path, strict=strict, model_kwargs={"tie": False})
    assert torch.equal(loaded.head.weight, saved.emb.weight)  # a copy of the kept tensor
    assert loaded.head.weight.untyped_storage().data_ptr() != loaded.emb.weight.untyped_storage().data_ptr()
    assert not _head_step_changes_emb(loaded)
    half = Switchable.from_pretrained(tmp_path, model_kwargs={"tie": False}, dtype=torch.float16)
    assert half.head.weight.dtype == torch.float16 and half.head.weight.data_ptr() != half.emb.weight.data_ptr()
    tied = Switchable.from_pretrained(tmp_path, strict=strict, model_kwargs={"by_data": by_data})
    assert tied.head.weight.data_ptr() == tied.emb.weight.data_ptr()  # a model that ties keeps its tie


def test_a_legacy_bin_of_a_tied_model_loads_untied_apart(tmp_path: Path) -> None:
    saved = Switchable(by_data=True)
    saved.save_pretrained(tmp_path)
    (tmp_path / "model.safetensors").unlink()
    torch.save(saved.state_dict(), tmp_path / "pytorch_model.bin")  # both names, on one storage
    loaded = Switchable.from_pretrained(tmp_path, model_kwargs={"tie": False})
    assert torch.equal(loaded.head.weight, saved.emb.weight)
    assert loaded.head.weight.data_ptr() != loaded.emb.weight.data_ptr()
    assert not _head_step_changes_emb(loaded)
    tied = Switchable.from_pretrained(tmp_path, strict=True, model_kwargs={"by_data": True})
    assert tied.head.weight.data_ptr() == tied.emb.weight.data_ptr()


class SwitchableLoadingItself(Switchable):
    def load_state_dict(self, state_dict: Any, strict: bool = True, assign: bool = False) -> Any:
        return super().load_state_dict(state_dict, strict=strict, assign=assign)


def test_a_model_loading_itself_loads_a_tied_checkpoint_untied_apart(tmp_path: Path) -> None:
    Switchable().save_pretrained(tmp_path)
    loaded = SwitchableLoadingItself.from_pretrained(tmp_path, strict=True, model_kwargs={"tie": False})
    assert torch.equal(loaded.head.weight, loaded.emb.weight)
    assert loaded.head.weight.data_ptr() != loaded.emb.weight.data_ptr()


def test_a_strict_load_of_tied_names_held_apart_is_a_runtime_error(tmp_path: Path) -> None:
    Switchable(tie=False).save_pretrained(tmp_path)  # emb.weight and head.weight differ
    with pytest.raises(RuntimeError) as info:  # as huggingface_hub's mixin raises for this file
        Switchable.from_pretrained(tmp_path, strict=True, model_kwargs={"tie": True})
    assert isinstance(info.value, WeightsKeyError)
    assert (info.value.missing, info.value.unexpected) == ([], ["head.weight"])
    assert "'emb.weight', 'head.weight' are one tensor in the model (tied)" in str(info.value)
