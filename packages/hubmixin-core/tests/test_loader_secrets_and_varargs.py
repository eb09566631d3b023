"""What a load captures and checks when ``_from_pretrained`` has huggingface_hub's keyword signature, and arguments
config.json cannot say (``*args``; an explicit ``None`` default)."""

from __future__ import annotations

import json
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from core_models import NumpyModelMixin

from hubmixin_core import ConfigEncodingWarning, ConfigError, DownloadOptions
from hubmixin_core.errors import HubMixinTypeError, MissingArgumentError
from hubmixin_core.testing import Fault, LocalHub

SECRET = "hf_not_a_real_token_for_tests"


class KeepsOptions(NumpyModelMixin):
    """huggingface_hub's contract: the download keywords ``_from_pretrained`` does not name reach ``**kwargs``."""

    def __init__(self, hidden: int = 4, **options: Any) -> None:
        self.hidden, self.options = hidden, options
        self.weights = {"w": np.zeros(hidden, dtype=np.float32)}

    @classmethod
    def _from_pretrained(cls, *, model_id: str, **model_kwargs: Any) -> Any:
        return cls(**model_kwargs)


def test_options_reaching_kwargs_are_not_captured_and_a_token_never_written(
    local_hub: LocalHub, tmp_path: Path
) -> None:
    repo = f"{local_hub.username}/private-net"
    KeepsOptions(hidden=8, bias=False).push_to_hub(repo, private=True)
    model = KeepsOptions.from_pretrained(repo, token=local_hub.token, revision="main")
    assert model.options["token"] == local_hub.token and model.options["revision"] == "main"  # as huggingface_hub
    assert model._hub_mixin_config == {"hidden": 8, "bias": False}
    model.save_pretrained(tmp_path)
    text = (tmp_path / "config.json").read_text()
    assert local_hub.token not in text and json.loads(text) == {"hidden": 8, "bias": False}
    model.push_to_hub(f"{local_hub.username}/public-copy", private=False)
    public = KeepsOptions.from_pretrained(f"{local_hub.username}/public-copy")
    assert public._hub_mixin_config == {"hidden": 8, "bias": False} and public.options["token"] is None


class UsesToken(NumpyModelMixin):
    """Gives the load's token to its own argument on purpose (to fetch more files, say)."""

    def __init__(self, size: int = 1, hub_token: str | None = None) -> None:
        self.size, self.hub_token = size, hub_token
        self.weights = {"w": np.zeros(size, dtype=np.float32)}

    @classmethod
    def _from_pretrained(cls, *, model_id: str, download: Any, model_kwargs: dict[str, Any]) -> Any:
        return cls(**{**model_kwargs, "hub_token": download.token})


def test_a_token_given_to_an_argument_on_purpose_reaches_it_and_is_not_saved(tmp_path: Path) -> None:
    UsesToken(size=2).save_pretrained(tmp_path / "first")
    model = UsesToken.from_pretrained(tmp_path / "first", token=SECRET)
    assert (model.size, model.hub_token) == (2, SECRET)
    model.save_pretrained(tmp_path / "again")
    text = (tmp_path / "again" / "config.json").read_text()
    assert SECRET not in text and json.loads(text) == {"size": 2, "hub_token": None}
    assert UsesToken.from_pretrained(tmp_path / "again", token=SECRET).hub_token == SECRET
    assert UsesToken(hub_token="mine")._hub_mixin_config == {"size": 1, "hub_token": "mine"}  # not a load's


class HubStyle(NumpyModelMixin):
    """An override written for huggingface_hub that passes its ``**model_kwargs`` on to ``__init__``."""

    def __init__(self, hidden: int = 4) -> None:
        self.hidden = hidden
        self.weights = {"w": np.zeros(hidden, dtype=np.float32)}

    @classmethod
    def _from_pretrained(  # type: ignore[override]
        cls,
        *,
        model_id: str,
        revision: str | None,
        cache_dir: Any,
        force_download: bool,
        local_files_only: bool,
        token: Any,
        **model_kwargs: Any,
    ) -> Any:
        return cls(**model_kwargs)


@pytest.mark.parametrize(
    ("keywords", "guess"),
    [({"revison": "main"}, "revision"), ({"hiden": 3}, "hidden"), ({"model_kwargs": {"hiden": 3}}, "hidden")],
)
def test_huggingface_hub_style_override_gets_the_keyword_check_before_any_request(
    local_hub: LocalHub, keywords: dict[str, Any], guess: str
) -> None:
    repo = f"{local_hub.username}/net"
    HubStyle(hidden=2).push_to_hub(repo)
    counter = local_hub.inject_fault(Fault(route="*", delay=0.001, times=None))  # counts the requests
    try:
        with pytest.raises(HubMixinTypeError, match=rf"unexpected keyword argument '\w+'; did you mean '{guess}'\?"):
            HubStyle.from_pretrained(repo, **keywords)
        assert counter.hits == 0
    finally:
        local_hub.remove_fault(counter)
    assert HubStyle.from_pretrained(repo, model_kwargs={"hidden": 3}).hidden == 3


class WithDevice(HubStyle):
    """A library base adding an option of its own to huggingface_hub's signature."""

    @classmethod
    def _from_pretrained(cls, *, model_id: str, device: str = "cpu", **model_kwargs: Any) -> Any:
        model = super()._from_pretrained(model_id=model_id, **model_kwargs)
        model.device = device
        return model


class WithDeviceChild(WithDevice):
    """Forwards everything to its base's loader, which may take options of its own."""

    @classmethod
    def _from_pretrained(cls, *, model_id: str, **kwargs: Any) -> Any:
        return super()._from_pretrained(model_id=model_id, **kwargs)


def test_keywords_forwarded_to_another_loader_reach_its_options(tmp_path: Path) -> None:
    WithDeviceChild(hidden=2).save_pretrained(tmp_path)
    loaded: Any = WithDeviceChild.from_pretrained(tmp_path, device="meta")  # type: ignore[call-arg]  # (its own)
    assert loaded.device == "meta"


class LayersFromFile(NumpyModelMixin):
    """A ``*args`` model whose own loader gives the positional values (from a file it saved)."""

    def __init__(self, *widths: int) -> None:
        self.widths = widths
        self.weights = {"w": np.zeros(len(widths), dtype=np.float32)}

    def _save_pretrained(self, save_directory: Path) -> None:
        super()._save_pretrained(save_directory)
        (save_directory / "widths.json").write_text(json.dumps(self.widths))

    @classmethod
    def _from_pretrained(cls, *, model_id: str, download: DownloadOptions, model_kwargs: dict[str, Any]) -> Any:
        return cls(*json.loads((Path(model_id) / "widths.json").read_text()), **model_kwargs)


def test_a_loader_giving_the_values_args_takes_loads(tmp_path: Path) -> None:
    with pytest.warns(ConfigEncodingWarning, match=r"\*widths"):
        LayersFromFile(3, 5).save_pretrained(tmp_path)
    assert LayersFromFile.from_pretrained(tmp_path).widths == (3, 5)


class PassesCallerArgs(NumpyModelMixin):
    """transformers' pattern: positional values the caller gave the loader, passed on (none from a file)."""

    def __init__(self, *widths: int) -> None:
        self.widths = widths
        self.weights = {"w": np.zeros(len(widths), dtype=np.float32)}

    @classmethod
    def _from_pretrained(cls, *, model_id: str, download: DownloadOptions, model_kwargs: dict[str, Any]) -> Any:
        model_args = model_kwargs.pop("model_args", ())
        return cls(*model_args, **model_kwargs)


def test_a_loader_passing_on_the_callers_positional_values_still_needs_the_unsaved_ones(tmp_path: Path) -> None:
    with pytest.warns(ConfigEncodingWarning, match=r"\*widths"):
        PassesCallerArgs(3, 5).save_pretrained(tmp_path)
    with pytest.raises(MissingArgumentError, match=r"\*widths"):
        PassesCallerArgs.from_pretrained(tmp_path)


class Stack(NumpyModelMixin):
    def __init__(self, *widths: int, act: str = "relu") -> None:
        self.widths, self.act = widths, act
        self.weights = {"w": np.zeros(len(widths), dtype=np.float32)}


class NamedStack(NumpyModelMixin):
    """``Stack`` changed as the error advises."""

    def __init__(self, widths: list[int], act: str = "relu") -> None:
        self.widths, self.act = widths, act
        self.weights = {"w": np.zeros(len(widths), dtype=np.float32)}


class StrictStack(Stack, strict_config=True):
    pass


def test_values_args_took_are_recorded_and_asked_for_with_advice_that_works(tmp_path: Path) -> None:
    with pytest.warns(ConfigEncodingWarning, match=r"through \*widths .*`widths: list\[\.\.\.\]`.*MissingArgument"):
        Stack(64, 32, act="gelu").save_pretrained(tmp_path)
    saved = json.loads((tmp_path / "config.json").read_text())
    assert saved == {"act": "gelu", "_hub_mixin_unsaved": {"*widths": "tuple"}}
    with pytest.raises(MissingArgumentError, match=r"\*widths.*`widths: list\[\.\.\.\]`.*model_kwargs=\{'widths'"):
        Stack.from_pretrained(tmp_path)
    loaded = NamedStack.from_pretrained(tmp_path, model_kwargs={"widths": [64, 32]})
    assert (loaded.widths, loaded.act) == ([64, 32], "gelu")
    with pytest.raises(ConfigError, match=r"\*widths"):
        StrictStack(1, 2)


def _unwrapped_call(init: Any) -> Any:
    """A decorator without ``functools.wraps``: the ``__init__`` it returns has the signature ``(*a, **k)``."""

    def call(*a: Any, **k: Any) -> Any:
        return init(*a, **k)

    return call


class Decorated(NumpyModelMixin):
    @_unwrapped_call
    def __init__(self, width: int = 1, act: str = "relu") -> None:
        self.width, self.act = width, act
        self.weights = {"w": np.zeros(width, dtype=np.float32)}


def test_values_a_signature_less_init_took_by_position_are_recorded_as_not_saved(tmp_path: Path) -> None:
    with pytest.warns(ConfigEncodingWarning, match=r"through \*a "):
        Decorated(3, act="gelu").save_pretrained(tmp_path)
    saved = json.loads((tmp_path / "config.json").read_text())
    assert saved == {"act": "gelu", "_hub_mixin_unsaved": {"*a": "tuple"}}
    with pytest.raises(MissingArgumentError, match=r"\*a"):
        Decorated.from_pretrained(tmp_path)  # not rebuilt silently with width=1
    Decorated(width=3, act="gelu").save_pretrained(tmp_path / "by-keyword")
    loaded = Decorated.from_pretrained(tmp_path / "by-keyword")
    assert (loaded.width, loaded.act) == (3, "gelu")


class ImplicitOptional(NumpyModelMixin):
    """Written as much ML code writes it: ``None`` defaults on annotations that do not say ``| None``."""

    def __init__(self, hidden: int = None, act: str = None, flag: bool = 0) -> None:  # type: ignore[assignment]  # noqa: RUF013
        self.hidden, self.act, self.flag = hidden, act, flag
        self.weights = {"w": np.zeros(1, dtype=np.float32)}


def test_a_default_given_explicitly_warns_only_where_the_load_would_refuse_it(tmp_path: Path) -> None:
    model: Any = ImplicitOptional  # (the values are of other types than the annotations say)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model(hidden=None, act=None, flag=0).save_pretrained(tmp_path)
    loaded = model.from_pretrained(tmp_path)
    assert (loaded.hidden, loaded.act, loaded.flag) == (None, None, 0)
    with pytest.warns(ConfigEncodingWarning, match=r"argument flag is 1, which its annotation bool does not take"):
        model(flag=1)


class BuildsInAPool(KeepsOptions):
    """Builds the model on another thread (while weights download, say): the load's context is not there."""

    @classmethod
    def _from_pretrained(cls, *, model_id: str, **model_kwargs: Any) -> Any:
        with ThreadPoolExecutor(1) as pool:
            return pool.submit(cls, **model_kwargs).result()


def test_a_token_never_written_whichever_thread_builds_the_model(tmp_path: Path) -> None:
    token = SECRET + "-pool"
    BuildsInAPool(hidden=3).save_pretrained(tmp_path / "first")
    model = BuildsInAPool.from_pretrained(tmp_path / "first", token=token)
    assert model.options["token"] == token
    model.save_pretrained(tmp_path / "again")
    assert token not in (tmp_path / "again" / "config.json").read_text()
    assert model._hub_mixin_config == {"hidden": 3}
