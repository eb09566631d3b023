"""Regressions of QA round 15's core fixes: keyword checks that must not refuse what a ``functools.wraps``
decorator takes (a renamed or added keyword), and load extras an ``__init__`` reads from its ``**kwargs``.
Checked with PyTorch's mixin."""

from __future__ import annotations

import functools
import sys
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

import huggingface_hub
import pytest
from huggingface_hub.errors import LocalEntryNotFoundError

from hubmixin_core import DownloadOptions, ModelHubMixin
from hubmixin_core.errors import ConfigEncodingWarning, HubMixinTypeError

pytest.importorskip("torch")
pytest.importorskip("hubmixin_torch")

import torch
from safetensors.torch import load_model

from hubmixin_torch import PyTorchModelHubMixin

# F1: keywords a decorator renames or adds


def renamed(old: str, new: str) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """transformers' ``@deprecate_kwarg(old, new_name=new)``."""

    def decorate(init: Callable[..., None]) -> Callable[..., None]:
        @functools.wraps(init)
        def wrapper(self: Any, *args: Any, **kwargs: Any) -> None:
            if old in kwargs:
                kwargs[new] = kwargs.pop(old)
            init(self, *args, **kwargs)

        return wrapper

    return decorate


def with_verbose(init: Callable[..., None]) -> Callable[..., None]:
    @functools.wraps(init)
    def wrapper(self: Any, *args: Any, verbose: bool = False, **kwargs: Any) -> None:
        init(self, *args, **kwargs)
        self.verbose = verbose

    return wrapper


class Backbone(torch.nn.Module):
    @renamed("width", "dim")
    def __init__(self, dim: int = 4) -> None:
        super().__init__()
        self.lin = torch.nn.Linear(dim, dim)


class RenamedInBase(Backbone, PyTorchModelHubMixin):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)


class VerboseOwn(Backbone, PyTorchModelHubMixin):
    @with_verbose
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)


class PlainBackbone(torch.nn.Module):
    def __init__(self, dim: int = 4) -> None:
        super().__init__()
        self.lin = torch.nn.Linear(dim, dim)


class Plain(PlainBackbone, PyTorchModelHubMixin):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)


def test_a_keyword_a_base_decorator_renames_is_taken(tmp_path: Path) -> None:
    RenamedInBase(dim=3).save_pretrained(tmp_path)
    loaded: Any = RenamedInBase.from_pretrained(tmp_path, width=3)  # type: ignore[call-arg]
    assert loaded.lin.weight.shape == (3, 3)


def test_a_keyword_a_decorator_adds_is_taken(tmp_path: Path) -> None:
    VerboseOwn(dim=3).save_pretrained(tmp_path)
    loaded: Any = VerboseOwn.from_pretrained(tmp_path, verbose=True)  # type: ignore[call-arg]
    assert loaded.verbose is True


class VerboseNamed(torch.nn.Module, PyTorchModelHubMixin):
    """The decorator directly on an ``__init__`` that names its parameters (no ``**kwargs``)."""

    @with_verbose
    def __init__(self, dim: int = 4) -> None:
        super().__init__()
        self.lin = torch.nn.Linear(dim, dim)


def test_a_keyword_a_decorator_on_an_init_naming_its_parameters_adds_is_taken(tmp_path: Path) -> None:
    VerboseNamed(dim=3).save_pretrained(tmp_path)
    loaded: Any = VerboseNamed.from_pretrained(tmp_path, verbose=True)  # type: ignore[call-arg]
    assert loaded.verbose is True and loaded.lin.weight.shape == (3, 3)
    given: Any = VerboseNamed.from_pretrained(tmp_path, model_kwargs={"verbose": True})
    assert given.verbose is True


def test_a_typo_through_an_undecorated_forwarding_init_is_still_refused(tmp_path: Path) -> None:
    Plain(dim=3).save_pretrained(tmp_path)
    with pytest.raises(HubMixinTypeError, match=r"unexpected keyword argument 'dimm'"):
        Plain.from_pretrained(tmp_path, dimm=3)  # type: ignore[call-arg]


def with_quantize(loader: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(loader)
    def wrapper(cls: Any, *args: Any, quantize: bool = False, **kwargs: Any) -> Any:
        model = loader(cls, *args, **kwargs)
        model.quantized = quantize
        return model

    return wrapper


class QuantizingLoader(torch.nn.Module, PyTorchModelHubMixin):
    def __init__(self, dim: int = 4) -> None:
        super().__init__()
        self.lin = torch.nn.Linear(dim, dim)

    @classmethod
    @with_quantize
    def _from_pretrained(cls, **kwargs: Any) -> Any:
        return super()._from_pretrained(**kwargs)


def test_a_keyword_a_decorated_forwarding_loader_takes_is_taken(tmp_path: Path) -> None:
    QuantizingLoader(dim=3).save_pretrained(tmp_path)
    loaded: Any = QuantizingLoader.from_pretrained(tmp_path, quantize=True)  # type: ignore[call-arg]
    assert loaded.quantized is True


# F2: a load extra an hf-style override hands to an __init__ reading it from **kwargs


def _building(init: Callable[..., None]) -> Any:
    class Net(torch.nn.Module, PyTorchModelHubMixin):
        __init__ = init

        @classmethod
        def _from_pretrained(  # type: ignore[no-untyped-def, override]
            cls, *, model_id, revision, cache_dir, force_download, local_files_only, token,
            map_location="cpu", strict=False, **model_kwargs,
        ):  # fmt: skip
            model = cls(**model_kwargs)
            load_model(model, str(Path(model_id) / "model.safetensors"), strict=strict)
            return model

    return Net


def _reading(self: Any, dim: int = 4, **kwargs: Any) -> None:
    torch.nn.Module.__init__(self)
    self.lin = torch.nn.Linear(dim, dim, dtype=kwargs.get("dtype"))


def _reading_other(self: Any, dim: int = 4, **kwargs: Any) -> None:
    torch.nn.Module.__init__(self)
    self.lin = torch.nn.Linear(dim, dim, device=kwargs.pop("device", None))


def _keeping(self: Any, dim: int = 4, **kwargs: Any) -> None:
    torch.nn.Module.__init__(self)
    self.lin = torch.nn.Linear(dim, dim)
    self.options = kwargs


def test_a_load_extra_an_init_reads_from_its_kwargs_reaches_it(tmp_path: Path) -> None:
    net = _building(_reading)
    net(dim=3).save_pretrained(tmp_path)
    assert net.from_pretrained(tmp_path, dtype=torch.float16).lin.weight.dtype == torch.float16


def test_a_load_extra_an_init_keeps_with_its_kwargs_reaches_it(tmp_path: Path) -> None:
    net = _building(_keeping)
    net(dim=3).save_pretrained(tmp_path)
    assert net.from_pretrained(tmp_path, dtype=torch.float16).options == {"dtype": torch.float16}


def test_a_load_extra_an_init_reads_no_key_of_is_still_refused(tmp_path: Path) -> None:
    net = _building(_reading_other)
    net(dim=3).save_pretrained(tmp_path)
    with pytest.raises(HubMixinTypeError, match=r"dtype=torch\.float16 given, .* neither names it nor reads it"):
        net.from_pretrained(tmp_path, dtype=torch.float16)


# F4: coder advice spelled as the user's code names the class; the function advice only for functions


class _Own(ModelHubMixin):
    def _save_pretrained(self, save_directory: Path) -> None:
        (save_directory / "weights.bin").write_bytes(b"")

    @classmethod
    def _from_pretrained(cls, *, model_id: str, download: DownloadOptions, model_kwargs: dict[str, Any]) -> Any:
        return cls(**model_kwargs)


class Holder(_Own):
    def __init__(self, part: Any = None) -> None:
        self.part = part


def _advice(part: Any) -> str:
    with pytest.warns(ConfigEncodingWarning) as caught:
        Holder(part=part)
    return str(caught[0].message)


def test_a_class_of_the_running_script_is_spelled_by_its_name() -> None:
    tokenizer = type("Tokenizer", (), {"__module__": "__main__"})
    assert "coders={Tokenizer: (encode, decode)}" in _advice(tokenizer())


def test_a_class_a_package_exports_from_a_private_module_is_spelled_by_its_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    block = type("Block", (), {"__module__": "qa15lib._layers"})
    monkeypatch.setitem(sys.modules, "qa15lib", types.SimpleNamespace(Block=block))
    assert "coders={Block: (encode, decode)}" in _advice(block())
    hidden = type("Hidden", (), {"__module__": "qa15lib._layers"})  # not exported: its module names it
    assert "coders={qa15lib._layers.Hidden: (encode, decode)}" in _advice(hidden())


def test_an_object_named_like_a_function_gets_no_function_advice() -> None:
    loss = type("FocalLossFunction", (), {"__init__": lambda self: setattr(self, "gamma", 3.0)})
    assert "For a function" not in _advice(loss())
    assert "For a function, take its name instead (`part: str`)" in _advice(abs)


# F7: the offline hint fetches what the load asked for


class Small(_Own):
    def __init__(self, a: int = 1) -> None:
        self.a = a


def test_the_offline_hint_names_the_revision_and_cache_asked_for(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    cache = tmp_path / "my cache"
    with pytest.raises(LocalEntryNotFoundError) as raised:
        Small.from_pretrained("someone/model", revision="v2", cache_dir=cache)
    assert f"`hf download someone/model --revision v2 --cache-dir '{cache}'`" in str(raised.value)
    with pytest.raises(LocalEntryNotFoundError) as raised:
        Small.from_pretrained("someone/model")
    assert "`hf download someone/model`" in str(raised.value)
