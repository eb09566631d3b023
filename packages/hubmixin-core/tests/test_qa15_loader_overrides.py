"""Regressions of QA round 15: a ``_from_pretrained`` written for huggingface_hub, forwarding its ``**kwargs`` to
``super()._from_pretrained`` (its keywords are checked against ``__init__`` before any download), or building
``cls(**model_kwargs)`` itself (a load extra it cannot apply is refused, not dropped). Checked with PyTorch's
mixin, the framework base they forward to."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from hubmixin_core.errors import HubMixinTypeError
from hubmixin_core.testing import LocalHub

pytest.importorskip("torch")
pytest.importorskip("hubmixin_torch")

import torch
from safetensors.torch import load_model

from hubmixin_torch import PyTorchModelHubMixin


class Forwarding(torch.nn.Module, PyTorchModelHubMixin):
    """huggingface_hub's keyword contract, forwarding everything to the base."""

    def __init__(self, dim: int = 4) -> None:
        super().__init__()
        self.lin = torch.nn.Linear(dim, dim)

    @classmethod
    def _from_pretrained(  # type: ignore[no-untyped-def, override]
        cls, *, model_id, revision, cache_dir, force_download, proxies, resume_download, local_files_only, token,
        **model_kwargs,
    ):  # fmt: skip
        model = super()._from_pretrained(  # type: ignore[call-arg]
            model_id=model_id, revision=revision, cache_dir=cache_dir, force_download=force_download, proxies=proxies,
            resume_download=resume_download, local_files_only=local_files_only, token=token, **model_kwargs,
        )  # fmt: skip
        model.extra = 1  # type: ignore[assignment]
        return model


class KwargsOnly(torch.nn.Module, PyTorchModelHubMixin):
    """docs/integrating.md's forwarding override."""

    def __init__(self, dim: int = 4) -> None:
        super().__init__()
        self.lin = torch.nn.Linear(dim, dim)

    @classmethod
    def _from_pretrained(cls, **kwargs: Any) -> Any:
        return super()._from_pretrained(**kwargs)


class Building(torch.nn.Module, PyTorchModelHubMixin):
    """huggingface_hub's integration guide: the override builds ``cls(**model_kwargs)`` and loads the weights."""

    def __init__(self, hidden: int = 4, **kwargs: Any) -> None:
        super().__init__()
        self.a = torch.nn.Linear(hidden, hidden)

    @classmethod
    def _from_pretrained(  # type: ignore[no-untyped-def, override]
        cls, *, model_id, revision, cache_dir, force_download, proxies, resume_download, local_files_only, token,
        map_location="cpu", strict=False, **model_kwargs,
    ):  # fmt: skip
        model = cls(**model_kwargs)
        load_model(model, str(Path(model_id) / "model.safetensors"), strict=strict)
        return model


@pytest.mark.parametrize("cls", [Forwarding, KwargsOnly])
@pytest.mark.parametrize(("typo", "meant"), [("revison", "revision"), ("dimm", "dim")])
def test_a_typo_through_a_forwarding_override_is_refused_before_any_download(
    local_hub: LocalHub, tmp_path: Path, cls: Any, typo: str, meant: str
) -> None:
    repo = f"localuser/forwarding-{cls.__name__.lower()}"
    cls(dim=3).push_to_hub(repo)
    cache = tmp_path / "cache"
    with pytest.raises(HubMixinTypeError, match=rf"unexpected keyword argument '{typo}'; did you mean '{meant}'\?"):
        cls.from_pretrained(repo, cache_dir=cache, **{typo: "main" if typo == "revison" else 3})
    assert not cache.exists() or not any(p.is_file() for p in cache.rglob("*.safetensors"))


def test_legit_keywords_still_reach_the_base_through_a_forwarding_override(tmp_path: Path) -> None:
    Forwarding(dim=3).save_pretrained(tmp_path)
    options: dict[str, Any] = {"dtype": torch.float16, "strict": True, "map_location": "cpu"}
    model = Forwarding.from_pretrained(tmp_path, model_kwargs={"dim": 3}, **options)
    assert model.lin.weight.dtype == torch.float16 and model.extra == 1


def test_a_load_extra_an_override_building_the_model_cannot_apply_is_refused(tmp_path: Path) -> None:
    Building(hidden=6).save_pretrained(tmp_path)
    with pytest.raises(HubMixinTypeError, match=r"dtype=torch\.float16 given, but Building\._from_pretrained"):
        Building.from_pretrained(tmp_path, dtype=torch.float16)
    with pytest.raises(HubMixinTypeError, match=r"key_mapping="):
        Building.from_pretrained(tmp_path, key_mapping={"^x": "y"})
    assert Building.from_pretrained(tmp_path, strict=True).a.weight.shape == (6, 6)  # a named extra: its own
