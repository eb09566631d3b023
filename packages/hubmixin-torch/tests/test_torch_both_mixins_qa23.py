"""A torch model with hubmixin's mixin and huggingface_hub's in either order (QA round 23, firstuse #6): positional
arguments are saved by their own parameter's name, and the model loaded is the one saved."""

from __future__ import annotations

import enum
import json
from pathlib import Path

import huggingface_hub
import pytest
import torch
from torch import nn

from hubmixin_torch import PyTorchModelHubMixin


class Scaled(nn.Module):
    def __init__(self, h: int = 4, scale: float = 1.0) -> None:
        super().__init__()
        self.lin = nn.Linear(h, h)
        self.scale = scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.lin(x) * self.scale  # type: ignore[no-any-return]


class LibModel(Scaled, huggingface_hub.PyTorchModelHubMixin):  # a library built on huggingface_hub's mixin
    pass


class HubFirst(PyTorchModelHubMixin, LibModel):  # type: ignore[misc]
    pass


class LibFirst(LibModel, PyTorchModelHubMixin):  # type: ignore[misc]
    pass


class Direct(Scaled, PyTorchModelHubMixin, huggingface_hub.PyTorchModelHubMixin):  # type: ignore[misc]
    pass


@pytest.mark.parametrize("cls", [HubFirst, LibFirst, Direct])
def test_positional_arguments_round_trip(cls: type[LibModel | Direct], tmp_path: Path) -> None:
    model = cls(3, 10.0)
    model.save_pretrained(tmp_path)
    assert json.loads((tmp_path / "config.json").read_text()) == {"h": 3, "scale": 10.0}
    loaded = cls.from_pretrained(tmp_path)
    assert loaded.scale == 10.0
    x = torch.ones(1, 3)
    assert torch.equal(loaded(x), model(x))


class Act(enum.Enum):
    RELU = "relu"
    GELU = "gelu"


class Lib(nn.Module, huggingface_hub.PyTorchModelHubMixin):
    pass


class EnumLibFirst(Lib, PyTorchModelHubMixin):  # type: ignore[misc]  # (huggingface_hub's methods: first in the MRO)
    def __init__(self, act: Act = Act.RELU, h: int = 2) -> None:
        super().__init__()
        self.act = act
        self.fc = nn.Linear(2, h)


def test_huggingface_hubs_mixin_first_loads_its_own_save(tmp_path: Path) -> None:
    """Its own _is_jsonable decides what is saved, as its from_pretrained reads it (reg23h #1: an enum saved by
    hubmixin's rules reached __init__ as a string)."""
    with pytest.warns(UserWarning):  # (the enum is not saved: huggingface_hub's rules, as its loader reads)
        model = EnumLibFirst(Act.GELU, 3)
    model.save_pretrained(tmp_path)
    loaded = EnumLibFirst.from_pretrained(tmp_path)
    assert isinstance(loaded.act, Act) and loaded.fc.out_features == 3
