"""An override of ``_from_pretrained`` written for huggingface_hub, forwarding to ``super()``, loads unchanged."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Self

import pytest
import torch
from torch import nn
from torch_models import NetLayers, assert_same_tensors, trained_net

from hubmixin_core import DownloadOptions, LoaderOptionWarning
from hubmixin_core.errors import HubMixinTypeError, HubMixinValueError, WeightsKeyError
from hubmixin_core.testing import LocalHub
from hubmixin_core.testing.xet import xet_available
from hubmixin_torch import PyTorchModelHubMixin


class HubSignatureNet(NetLayers, PyTorchModelHubMixin):
    """huggingface_hub's full signature (as older releases had it), forwarding every argument to ``super()``."""

    extra = 0

    @classmethod
    def _from_pretrained(  # type: ignore[override]  # huggingface_hub's signature: type checkers flag it
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
        model.extra = 1
        return model


class KwargsNet(NetLayers, PyTorchModelHubMixin):
    """``**kwargs`` only, forwarded to ``super()``."""

    extra = 0

    @classmethod
    def _from_pretrained(cls, **kwargs: Any) -> Self:
        model = super()._from_pretrained(**kwargs)
        model.extra = 1
        return model


class WithExtra(NetLayers, PyTorchModelHubMixin):
    """``NetLayers`` plus a parameter the others lack: its checkpoint has an unexpected key for them."""

    def __init__(self, dim: int = 8, vocab: int = 11) -> None:
        super().__init__(dim=dim, vocab=vocab)
        self.surplus = nn.Parameter(torch.ones(2))


OVERRIDES = [HubSignatureNet, KwargsNet]


def _floats(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v for k, v in model.state_dict().items() if v.is_floating_point()}


def _check_loads(cls: type[HubSignatureNet | KwargsNet], source: str | Path, saved: nn.Module) -> None:
    loaded = cls.from_pretrained(source)
    assert loaded.extra == 1
    assert_same_tensors(saved, loaded)
    assert loaded.head.weight is loaded.embed.weight
    assert not loaded.training

    half = cls.from_pretrained(source, dtype=torch.float16)
    assert half.extra == 1
    floats = _floats(half)
    assert floats and all(t.dtype == torch.float16 for t in floats.values())
    for name, tensor in floats.items():
        assert torch.equal(tensor, saved.state_dict()[name].half()), name
    assert half.get_buffer("norm.num_batches_tracked").dtype == torch.int64

    meta = cls.from_pretrained(source, map_location="meta")
    assert all(p.is_meta for p in meta.parameters())


@pytest.mark.parametrize("cls", OVERRIDES)
def test_override_loads_from_a_directory(cls: type[HubSignatureNet | KwargsNet], tmp_path: Path) -> None:
    net = trained_net(cls)
    net.save_pretrained(tmp_path)
    _check_loads(cls, tmp_path, net)
    other = cls.from_pretrained(tmp_path, model_kwargs={"vocab": 11})
    assert_same_tensors(net, other)


@pytest.mark.parametrize("cls", OVERRIDES)
def test_override_loads_from_the_hub(cls: type[HubSignatureNet | KwargsNet], local_hub: LocalHub) -> None:
    repo_id = f"{local_hub.username}/{cls.__name__.lower()}"
    first = trained_net(cls)
    commit = first.push_to_hub(repo_id)
    latest = trained_net(cls)
    with torch.no_grad():
        latest.embed.weight.add_(1)
    latest.push_to_hub(repo_id)
    _check_loads(cls, repo_id, latest)
    assert_same_tensors(first, cls.from_pretrained(repo_id, revision=commit.oid))  # revision reaches the base
    assert_same_tensors(latest, cls.from_pretrained(repo_id, local_files_only=True))


@pytest.mark.skipif(not xet_available(), reason="the client's Xet is on: LocalHub needs hubmixin-core[hub]")
def test_kwargs_override_receives_the_endpoint(tmp_path: Path) -> None:
    with LocalHub() as hub:
        repo_id = f"{hub.username}/net"
        net = trained_net(KwargsNet)
        net.push_to_hub(repo_id, endpoint=hub.endpoint, token=hub.token)
        loaded = KwargsNet.from_pretrained(repo_id, endpoint=hub.endpoint, token=hub.token, cache_dir=tmp_path)
    assert_same_tensors(net, loaded)


@pytest.mark.parametrize("cls", OVERRIDES)
def test_strict_reaches_the_base(cls: type[HubSignatureNet | KwargsNet], tmp_path: Path) -> None:
    WithExtra().save_pretrained(tmp_path)
    assert cls.from_pretrained(tmp_path).extra == 1  # not strict: the surplus tensor is ignored
    with pytest.raises(WeightsKeyError, match="surplus"):
        cls.from_pretrained(tmp_path, strict=True)


def test_the_base_takes_both_signatures_directly(tmp_path: Path) -> None:
    net = trained_net(KwargsNet)
    net.save_pretrained(tmp_path)
    base = PyTorchModelHubMixin._from_pretrained.__func__  # type: ignore[attr-defined]
    by_keywords = base(
        KwargsNet, model_id=str(tmp_path), revision=None, cache_dir=None, force_download=False,
        local_files_only=False, token=None, dim=8, dtype=torch.float16,
    )  # fmt: skip
    assert by_keywords.embed.weight.dtype == torch.float16
    by_options = base(KwargsNet, model_id=str(tmp_path), download=DownloadOptions(), model_kwargs={"dim": 8})
    assert_same_tensors(net, by_options)
    with pytest.raises(HubMixinTypeError, match="download"):
        base(KwargsNet, model_id=str(tmp_path), download=DownloadOptions(), model_kwargs={}, revision="v1")
    with pytest.raises(HubMixinTypeError, match="dim"):
        base(KwargsNet, model_id=str(tmp_path), download=DownloadOptions(), model_kwargs={"dim": 8}, dim=8)
    with pytest.raises(HubMixinValueError, match="proxies"):
        base(KwargsNet, model_id=str(tmp_path), proxies={"https": "http://proxy"})


class Named(nn.Module, PyTorchModelHubMixin):
    """``__init__`` arguments named like download options, loaded through an override that forwards them."""

    def __init__(self, endpoint: str = "none", max_workers: int = 0, token: str = "", revision: int = 0) -> None:
        super().__init__()
        self.endpoint, self.max_workers, self.token, self.revision = endpoint, max_workers, token, revision
        self.layer = nn.Linear(2, 2)

    @classmethod
    def _from_pretrained(cls, **kwargs: Any) -> Self:
        return super()._from_pretrained(**kwargs)


def test_model_arguments_named_like_download_options_reach_init(tmp_path: Path) -> None:
    Named(endpoint="http://example.invalid", max_workers=3, token="<pad>", revision=2).save_pretrained(tmp_path)
    loaded = Named.from_pretrained(tmp_path)  # not taken as the Hub endpoint, download workers, token, revision
    assert (loaded.endpoint, loaded.max_workers, loaded.token, loaded.revision) == (
        "http://example.invalid",
        3,
        "<pad>",
        2,
    )
    with pytest.raises(HubMixinTypeError, match="token"):  # the model's token and the download's: one keyword
        Named.from_pretrained(tmp_path, token="hf_secret")


class NamedLikeExtras(nn.Module, PyTorchModelHubMixin):
    """``__init__`` arguments named like the base's load options, loaded through an override that forwards them;
    the override loads another model with a load ``dtype`` of its own meanwhile."""

    inner: KwargsNet  # set by _from_pretrained

    def __init__(self, dtype: str = "float32", strict: str = "no", map_location: str = "here") -> None:
        super().__init__()
        self.settings = (dtype, strict, map_location)
        self.layer = nn.Linear(2, 2)

    @classmethod
    def _from_pretrained(cls, **kwargs: Any) -> Self:
        model = super()._from_pretrained(**kwargs)
        model.inner = KwargsNet.from_pretrained(Path(kwargs["model_id"]) / "inner", dtype=torch.float16)
        return model


def test_model_arguments_named_like_load_options_reach_init(tmp_path: Path) -> None:
    saved = NamedLikeExtras(dtype="bfloat16", strict="yes", map_location="there")
    saved.save_pretrained(tmp_path)
    trained_net(KwargsNet).save_pretrained(tmp_path / "inner")
    loaded = NamedLikeExtras.from_pretrained(tmp_path)  # not taken as the load's dtype, strictness or device
    assert loaded.settings == ("bfloat16", "yes", "there")
    assert loaded.layer.weight.dtype == torch.float32 and torch.equal(loaded.layer.weight, saved.layer.weight)
    assert loaded.inner.embed.weight.dtype == torch.float16  # the inner load keeps its own dtype option
    with (
        pytest.raises(HubMixinTypeError, match="dtype"),  # the model's dtype and the load's: one keyword
        pytest.warns(LoaderOptionWarning, match="dtype= is the loader's option"),
    ):
        NamedLikeExtras.from_pretrained(tmp_path, dtype=torch.float16)


class SaveKwargs(NetLayers, PyTorchModelHubMixin):
    def _save_pretrained(self, save_directory: Path, **kwargs: Any) -> None:
        super()._save_pretrained(save_directory, **kwargs)  # the save options, forwarded (integrating.md)
        (save_directory / "extra.txt").write_text("written by the library")


class SaveNothing(NetLayers, PyTorchModelHubMixin):
    def _save_pretrained(self, save_directory: Path) -> None:  # huggingface_hub's signature
        super()._save_pretrained(save_directory)


def test_save_options_reach_an_override_taking_kwargs_and_are_refused_by_one_without(tmp_path: Path) -> None:
    SaveKwargs().save_pretrained(tmp_path / "sharded", max_shard_size=1000)
    assert (tmp_path / "sharded" / "model.safetensors.index.json").is_file()
    assert (tmp_path / "sharded" / "extra.txt").is_file()
    with pytest.raises(HubMixinTypeError, match="max_shard_size"):
        SaveNothing().save_pretrained(tmp_path / "refused", max_shard_size=1000)


def test_proxy_credentials_are_not_repeated_in_the_error(tmp_path: Path) -> None:
    trained_net(KwargsNet).save_pretrained(tmp_path)
    base = PyTorchModelHubMixin._from_pretrained.__func__  # type: ignore[attr-defined]
    with pytest.raises(HubMixinValueError) as excinfo:
        base(KwargsNet, model_id=str(tmp_path), proxies={"https": "http://user:s3cret@proxy:3128"})
    assert "s3cret" not in str(excinfo.value) and "https" in str(excinfo.value)
