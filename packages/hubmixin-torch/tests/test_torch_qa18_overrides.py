"""huggingface_hub's PyTorch ``_from_pretrained`` override (``map_location``, ``strict``, ``**model_kwargs``), building
``cls(**model_kwargs)`` and loading the weights itself: ``max_workers`` never reaches ``__init__``, and ``endpoint=``
is refused before anything is read; an override forwarding to ``super()`` still gets both."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any, Self

import pytest
import safetensors.torch
import torch
from huggingface_hub import hf_hub_download
from torch import nn

from hubmixin_core import ConfigEncodingWarning, ConfigError
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


def _logged(function: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return function(*args, **kwargs)

    return wrapper


class NoGrad(Forwards):
    @classmethod
    @torch.no_grad()
    def _from_pretrained(cls, **kwargs: Any) -> Self:
        return super()._from_pretrained(**kwargs)


class Logged(Forwards):
    @classmethod
    @_logged
    def _from_pretrained(cls, **kwargs: Any) -> Self:
        return super()._from_pretrained(**kwargs)


@pytest.mark.parametrize("cls", [NoGrad, Logged])
def test_a_decorated_forwarding_override_gets_the_endpoint(cls: type[Forwards], tmp_path: Path) -> None:
    net = HubStyle(dim=3)
    net.save_pretrained(tmp_path)
    loaded = cls.from_pretrained(tmp_path, endpoint="http://127.0.0.1:9", max_workers=2)
    assert torch.equal(loaded.linear.weight, net.linear.weight)


_GENERATED = """
class Generated(torch.nn.Module, PyTorchModelHubMixin):
    def __init__(self, dim: int = 3) -> None:
        super().__init__()
        self.linear = torch.nn.Linear(dim, dim)

    @classmethod
    def _from_pretrained(cls, *, model_id, revision, cache_dir, force_download, local_files_only, token, **kwargs):
        return super()._from_pretrained(model_id=model_id, revision=revision, cache_dir=cache_dir,
            force_download=force_download, local_files_only=local_files_only, token=token, **kwargs)
"""


def test_a_forwarding_override_without_source_gets_the_endpoint(tmp_path: Path) -> None:
    namespace: dict[str, Any] = {"torch": torch, "PyTorchModelHubMixin": PyTorchModelHubMixin, "__name__": "generated"}
    exec(compile(_GENERATED, "<generated>", "exec"), namespace)  # noqa: S102  (no source for inspect to read)
    generated = namespace["Generated"]
    net = generated(dim=2)
    net.save_pretrained(tmp_path)
    loaded = generated.from_pretrained(tmp_path, endpoint="http://127.0.0.1:9", max_workers=2)
    assert torch.equal(loaded.linear.weight, net.linear.weight)


class Opaque:
    """A value JSON cannot hold."""


class NamedLikeOptions(nn.Module, PyTorchModelHubMixin):
    def __init__(self, dim: int = 2, map_location: object = None, dtype: object = None) -> None:
        super().__init__()
        self.linear = nn.Linear(dim, dim)
        self.where, self.kind = map_location, dtype


@pytest.mark.parametrize("name", ["map_location", "dtype"])
def test_an_unsaved_argument_named_like_a_load_option_is_asked_for_in_model_kwargs(name: str, tmp_path: Path) -> None:
    value = Opaque()
    with pytest.warns(ConfigEncodingWarning):
        NamedLikeOptions(**{name: value}).save_pretrained(tmp_path)  # type: ignore[arg-type]
    with pytest.raises(ConfigError) as caught:
        NamedLikeOptions.from_pretrained(tmp_path)
    assert f"NamedLikeOptions.from_pretrained(..., model_kwargs={{{name!r}: ...}})" in str(caught.value)
    assert f"{name}=..." not in str(caught.value)  # (that is the loader's option: config.json would be asked again)
    loaded = NamedLikeOptions.from_pretrained(tmp_path, model_kwargs={name: value})
    assert value in (loaded.where, loaded.kind)


_MIRROR: str | None = None
"""A fixed endpoint an override passes to its own downloads (None: the default Hub)."""


class FixedSettings(HubStyle):
    """huggingface_hub's contract; its own download passes fixed keywords (no read from its **model_kwargs)."""

    @classmethod
    def _from_pretrained(  # type: ignore[override]
        cls,
        *,
        model_id: str,
        revision: str | None,
        cache_dir: str | Path | None,
        force_download: bool,
        local_files_only: bool,
        token: str | bool | None,
        **model_kwargs: Any,
    ) -> Self:
        path = Path(model_id)
        if not path.is_dir():
            path = Path(hf_hub_download(model_id, "model.safetensors", endpoint=_MIRROR, token=token)).parent
        model = cls(**model_kwargs)
        safetensors.torch.load_model(model, str(path / "model.safetensors"))
        return model


def test_an_override_passing_fixed_keywords_is_not_taken_to_read_them(tmp_path: Path) -> None:
    FixedSettings().save_pretrained(tmp_path)
    loaded = FixedSettings.from_pretrained(tmp_path, max_workers=2)  # max_workers=... in its source is no read
    assert isinstance(loaded, FixedSettings)
    with pytest.raises(HubMixinTypeError, match="endpoint"):
        FixedSettings.from_pretrained(tmp_path, endpoint="http://127.0.0.1:9")
