"""Each construction a load makes gets its own copy of the arguments: an ``__init__`` that consumes them
(``cfg.pop("width")``) and reads a parameter's values (so the meta construction falls back to a normal one)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from hubmixin_torch import PyTorchModelHubMixin


class Consuming(nn.Module, PyTorchModelHubMixin):
    def __init__(self, cfg: dict[str, int], sizes: list[int]) -> None:
        super().__init__()
        width = cfg.pop("width")
        self.fc = nn.ModuleList(nn.Linear(width, width) for _ in range(sizes.pop()))
        self.norm = float(sum(p.detach().abs().sum() for p in self.fc.parameters()))  # (no meta construction)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.fc:
            x = layer(x)
        return x


@dataclass
class Config:
    widths: list[int] = field(default_factory=lambda: [3, 3])


class ConsumingConfig(nn.Module, PyTorchModelHubMixin):
    def __init__(self, config: Config) -> None:
        super().__init__()
        self.fc = nn.ModuleList()
        while config.widths:
            width = config.widths.pop()
            self.fc.append(nn.Linear(width, width))
        self.norm = float(sum(p.detach().abs().sum() for p in self.fc.parameters()))


def test_an_init_consuming_its_arguments_loads_after_a_fallback(tmp_path: Path) -> None:
    model = Consuming({"width": 3}, [2])
    model.save_pretrained(tmp_path)
    loaded = Consuming.from_pretrained(tmp_path, strict=True)
    assert len(loaded.fc) == 2
    for key, value in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value)


def test_a_dataclass_config_consumed_by_init_loads_whole(tmp_path: Path) -> None:
    ConsumingConfig(Config()).save_pretrained(tmp_path, config=Config())  # (the model's own is consumed)
    assert len(ConsumingConfig.from_pretrained(tmp_path, strict=True).fc) == 2  # (not 0: the consumed list)


class Registering(nn.Module, PyTorchModelHubMixin):
    def __init__(self, width: int = 3, registry: dict[str, list[nn.Module]] | None = None) -> None:
        super().__init__()
        self.fc = nn.Linear(width, width)
        if registry is not None:
            registry.setdefault("models", []).append(self)


def test_a_load_built_once_gives_init_the_callers_own_objects(tmp_path: Path) -> None:
    """As a plain ``cls(**kwargs)`` does (huggingface_hub's): copies only for constructions after the first."""
    Registering().save_pretrained(tmp_path)
    registry: dict[str, list[nn.Module]] = {}
    loaded = Registering.from_pretrained(tmp_path, model_kwargs={"registry": registry})
    assert registry["models"] == [loaded]


class RegisteringFallback(Registering):
    def __init__(self, width: int = 3, registry: dict[str, list[nn.Module]] | None = None) -> None:
        super().__init__(width, registry)
        self.norm = float(sum(p.detach().abs().sum() for p in self.parameters()))  # (no meta construction)


def test_a_construction_after_a_failed_one_gets_the_callers_objects_as_they_were(tmp_path: Path) -> None:
    """What the failed attempt added to them (its module) is undone, in place: the caller's registry holds the
    model returned, once."""
    RegisteringFallback().save_pretrained(tmp_path)
    registry: dict[str, list[nn.Module]] = {}
    loaded = RegisteringFallback.from_pretrained(tmp_path, model_kwargs={"registry": registry})
    assert registry["models"] == [loaded] and registry["models"][0] is loaded
