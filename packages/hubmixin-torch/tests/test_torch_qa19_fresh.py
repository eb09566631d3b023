"""A load gives ``__init__`` the caller's own objects, as a plain ``cls(**kwargs)`` does (huggingface_hub's)."""

from __future__ import annotations

from pathlib import Path

from torch import nn

from hubmixin_torch import PyTorchModelHubMixin


class Registering(nn.Module, PyTorchModelHubMixin):
    def __init__(self, width: int = 3, registry: dict[str, list[nn.Module]] | None = None) -> None:
        super().__init__()
        self.fc = nn.Linear(width, width)
        if registry is not None:
            registry.setdefault("models", []).append(self)


def test_a_load_built_once_gives_init_the_callers_own_objects(tmp_path: Path) -> None:
    """A guard: the objects given reach __init__ as they are."""
    Registering().save_pretrained(tmp_path)
    registry: dict[str, list[nn.Module]] = {}
    loaded = Registering.from_pretrained(tmp_path, model_kwargs={"registry": registry})
    assert registry["models"] == [loaded]
