"""huggingface_hub's PyTorch ``_from_pretrained`` override taking an option of its own from its ``**model_kwargs``
(``model_kwargs.pop("compile", False)``) and passing the rest on to ``super()._from_pretrained``: ``endpoint=``
reaches the base, which loads from that Hub, as it did before the endpoint was refused to overrides."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Self

import pytest
import torch
from torch import nn

from hubmixin_core.testing import LocalHub
from hubmixin_core.testing.xet import xet_available
from hubmixin_torch import PyTorchModelHubMixin


class Net(nn.Module, PyTorchModelHubMixin):
    def __init__(self, dim: int = 3) -> None:
        super().__init__()
        self.linear = nn.Linear(dim, dim)
        self.compiled = False


class PopsItsOwn(Net):
    @classmethod
    def _from_pretrained(  # type: ignore[override]  # huggingface_hub's PyTorchModelHubMixin signature
        cls,
        *,
        model_id: str,
        revision: str | None,
        cache_dir: str | Path | None,
        force_download: bool,
        proxies: dict[str, str] | None = None,
        resume_download: bool | None = None,
        local_files_only: bool,
        token: str | bool | None,
        map_location: str = "cpu",
        strict: bool = False,
        **model_kwargs: Any,
    ) -> Self:
        compile_it = model_kwargs.pop("compile", False)  # an option of the library's own
        model = super()._from_pretrained(  # type: ignore[call-arg]
            model_id=model_id,
            revision=revision,
            cache_dir=cache_dir,
            force_download=force_download,
            proxies=proxies,
            resume_download=resume_download,
            local_files_only=local_files_only,
            token=token,
            map_location=map_location,
            strict=strict,
            **model_kwargs,
        )
        model.compiled = compile_it
        return model


class SetsStrict(Net):
    @classmethod
    def _from_pretrained(cls, **model_kwargs: Any) -> Self:
        return super()._from_pretrained(**{**model_kwargs, "strict": True})


@pytest.mark.skipif(not xet_available(), reason="the client's Xet is on: LocalHub needs hubmixin-core[hub]")
@pytest.mark.parametrize("cls", [PopsItsOwn, SetsStrict])
def test_an_override_taking_an_option_of_its_own_loads_from_the_endpoint(cls: type[Net], tmp_path: Path) -> None:
    with LocalHub() as default, LocalHub() as other, default.configure_client():
        Net(dim=2).push_to_hub("localuser/net")
        net = Net(dim=3)
        net.push_to_hub("localuser/net", endpoint=other.endpoint, token=other.token)
        own: dict[str, Any] = {"compile": True} if cls is PopsItsOwn else {}
        loaded = cls.from_pretrained(
            "localuser/net", endpoint=other.endpoint, token=other.token, max_workers=2, cache_dir=tmp_path, **own
        )
    assert isinstance(loaded, cls) and torch.equal(loaded.linear.weight, net.linear.weight)
    assert loaded.compiled is (cls is PopsItsOwn)


def test_an_override_taking_an_option_of_its_own_loads_a_directory_given_an_endpoint(tmp_path: Path) -> None:
    net = Net(dim=3)
    net.save_pretrained(tmp_path)
    loaded = PopsItsOwn.from_pretrained(tmp_path, endpoint="https://hub.example.org", max_workers=2)
    assert torch.equal(loaded.linear.weight, net.linear.weight) and loaded.compiled is False
