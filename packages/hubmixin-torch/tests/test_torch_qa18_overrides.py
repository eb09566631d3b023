"""huggingface_hub's PyTorch ``_from_pretrained`` override (``map_location``, ``strict``, ``**model_kwargs``), building
``cls(**model_kwargs)`` and loading the weights itself: ``max_workers`` never reaches ``__init__``, and ``endpoint=``
is refused before anything is read; an override forwarding to ``super()`` still gets both."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Self

import pytest
import safetensors.torch
import torch
from huggingface_hub import hf_hub_download
from torch import nn

from hubmixin_core.errors import HubMixinTypeError
from hubmixin_core.testing import LocalHub
from hubmixin_core.testing.xet import xet_available
from hubmixin_torch import PyTorchModelHubMixin


class HubStyle(nn.Module, PyTorchModelHubMixin):
    def __init__(self, dim: int = 3) -> None:
        super().__init__()
        self.linear = nn.Linear(dim, dim)

    @classmethod
    def _from_pretrained(  # type: ignore[override]  # huggingface_hub's PyTorchModelHubMixin signature
        cls,
        *,
        model_id: str,
        revision: str | None,
        cache_dir: str | Path | None,
        force_download: bool,
        proxies: dict[str, str] | None,
        resume_download: bool | None,
        local_files_only: bool,
        token: str | bool | None,
        map_location: str = "cpu",
        strict: bool = False,
        **model_kwargs: Any,
    ) -> Self:
        model = cls(**model_kwargs)
        if Path(model_id).is_dir():
            model_file = str(Path(model_id, "model.safetensors"))
        else:
            model_file = hf_hub_download(
                model_id,
                "model.safetensors",
                revision=revision,
                cache_dir=cache_dir,
                force_download=force_download,
                local_files_only=local_files_only,
                token=token,
            )
        safetensors.torch.load_model(model, model_file, strict=strict, device=map_location)
        return model


class Forwards(nn.Module, PyTorchModelHubMixin):
    def __init__(self, dim: int = 3) -> None:
        super().__init__()
        self.linear = nn.Linear(dim, dim)

    @classmethod
    def _from_pretrained(cls, **kwargs: Any) -> Self:
        return super()._from_pretrained(**kwargs)


def test_max_workers_does_not_reach_init(tmp_path: Path) -> None:
    net = HubStyle(dim=4)
    net.save_pretrained(tmp_path)
    for cls in (HubStyle, Forwards):  # (Forwards: max_workers reaches the base, which takes it)
        loaded = cls.from_pretrained(tmp_path, max_workers=2)
        assert torch.equal(loaded.linear.weight, net.linear.weight)


def test_endpoint_is_refused_before_anything_is_read(tmp_path: Path) -> None:
    HubStyle().save_pretrained(tmp_path / "net")
    message = (
        r"HubStyle\._from_pretrained does not accept it.*or pass \*\*model_kwargs on to super\(\)\._from_pretrained"
    )
    with pytest.raises(HubMixinTypeError, match=message):
        HubStyle.from_pretrained(tmp_path / "net", endpoint="https://hub.example.org")
    with pytest.raises(HubMixinTypeError, match="does not accept it"):
        HubStyle.from_pretrained("user/net", endpoint="http://127.0.0.1:9", cache_dir=tmp_path / "cache")
    assert not (tmp_path / "cache").exists()


@pytest.mark.skipif(not xet_available(), reason="the client's Xet is on: LocalHub needs hubmixin-core[hub]")
def test_forwarding_override_loads_from_the_endpoint(tmp_path: Path) -> None:
    with LocalHub() as default, LocalHub() as other, default.configure_client():
        HubStyle(dim=2).push_to_hub("localuser/net")
        net = HubStyle(dim=3)
        net.push_to_hub("localuser/net", endpoint=other.endpoint, token=other.token)
        loaded = Forwards.from_pretrained("localuser/net", endpoint=other.endpoint, token=other.token, max_workers=2)
    assert torch.equal(loaded.linear.weight, net.linear.weight)
