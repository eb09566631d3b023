"""Regressions of QA round 15 (core mixin): methods set on the instance (a wrapper, a ``Mock``) are the ones
called and checked, the token guard scans only what a push uploads and leaves an overriding ``push_to_hub`` to
decide, and the keyword and config checks of loading."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar, Self
from unittest.mock import Mock

import huggingface_hub
import pytest
from huggingface_hub.errors import LocalEntryNotFoundError

from hubmixin_core import DownloadOptions, ModelHubMixin
from hubmixin_core.errors import (
    ConfigEncodingWarning,
    ConfigTypeError,
    HubMixinTypeError,
    HubMixinValueError,
    WeightsNotFoundError,
)
from hubmixin_core.testing import LocalHub


class _Own(ModelHubMixin):
    """A plain core model with hubmixin's loader signature, writing one weights-like file."""

    def _save_pretrained(self, save_directory: Path) -> None:
        (save_directory / "model.safetensors").write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{}      ")

    @classmethod
    def _from_pretrained(cls, *, model_id: str, download: DownloadOptions, model_kwargs: dict[str, Any]) -> Self:
        return cls(**model_kwargs)


class Small(_Own):
    def __init__(self, a: int = 1) -> None:
        self.a = a


class Tokened(_Own):
    def __init__(self, hub_token: str | None = None) -> None:
        self.hub_token = hub_token


# 1. methods set on the instance


def test_an_instance_push_to_hub_gets_the_extra_keywords(tmp_path: Path) -> None:
    model = Small()
    model.push_to_hub = Mock(return_value="pushed")  # type: ignore[method-assign]
    save: Any = model.save_pretrained  # (an extra keyword, for the override only)
    result = save(tmp_path / "m", push_to_hub=True, repo_id="u/x", note="hi")
    assert result == "pushed"
    model.push_to_hub.assert_called_once_with(repo_id="u/x", config={"a": 1}, model_card_kwargs={}, note="hi")


def test_an_instance_save_pretrained_is_what_push_to_hub_saves_through(local_hub: LocalHub) -> None:
    model = Small()
    original = model.save_pretrained

    def with_tokenizer(save_directory: Path, **kwargs: Any) -> Any:
        result = original(save_directory, **kwargs)
        (Path(save_directory) / "tokenizer.json").write_text("{}")
        return result

    model.save_pretrained = with_tokenizer  # type: ignore[method-assign, assignment]
    model.push_to_hub("localuser/wrapped")
    assert "tokenizer.json" in huggingface_hub.list_repo_files("localuser/wrapped")


# 2. the token guard


@pytest.mark.parametrize("patterns", [{"allow_patterns": ["*.safetensors"]}, {"ignore_patterns": ["config.json"]}])
def test_a_push_leaving_out_the_file_holding_the_token_is_made(local_hub: LocalHub, patterns: dict[str, Any]) -> None:
    Tokened(hub_token=local_hub.token).push_to_hub("localuser/filtered", **patterns)
    files = huggingface_hub.list_repo_files("localuser/filtered")
    assert "model.safetensors" in files and "config.json" not in files


def test_a_push_uploading_the_file_holding_the_token_is_still_refused(local_hub: LocalHub) -> None:
    with pytest.raises(HubMixinValueError, match=r"config\.json \(keys \['hub_token'\]\) would publish"):
        Tokened(hub_token=local_hub.token).push_to_hub("localuser/refused", ignore_patterns=["README.md"])


class PushedElsewhere(Tokened):
    calls: ClassVar[list[str]] = []

    def push_to_hub(self, repo_id: str, **kwargs: Any) -> str:  # type: ignore[override]
        self.calls.append(repo_id)
        return "elsewhere"


class PushedThroughSuper(Tokened):
    def push_to_hub(self, repo_id: str, **kwargs: Any) -> Any:
        return super().push_to_hub(repo_id, **kwargs)


def test_an_overriding_push_to_hub_decides_what_it_uploads(local_hub: LocalHub, tmp_path: Path) -> None:
    model = PushedElsewhere(hub_token=local_hub.token)
    assert model.save_pretrained(tmp_path / "m", push_to_hub=True, repo_id="u/x") == "elsewhere"
    assert PushedElsewhere.calls == ["u/x"] and (tmp_path / "m" / "config.json").exists()


def test_an_override_reaching_the_base_push_to_hub_is_refused_there(local_hub: LocalHub, tmp_path: Path) -> None:
    model = PushedThroughSuper(hub_token=local_hub.token)
    with pytest.raises(HubMixinValueError, match="would publish the token"):
        model.save_pretrained(tmp_path / "m", push_to_hub=True, repo_id="localuser/through")
    assert not any(r.id == "localuser/through" for r in huggingface_hub.list_models(author="localuser"))


# 3. a JSON bool for a number


class Widths(_Own):
    def __init__(self, hidden: int = 4, scale: float = 1.0, dilate: int = False) -> None:
        self.hidden, self.scale, self.dilate = hidden, scale, dilate


@pytest.mark.parametrize("key", ["hidden", "scale"])
def test_a_bool_for_a_number_is_a_config_type_error(tmp_path: Path, key: str) -> None:
    Widths().save_pretrained(tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    (tmp_path / "config.json").write_text(json.dumps({**config, key: True}))
    with pytest.raises(ConfigTypeError, match=rf"config\.json: key '{key}' must be (int|float), found bool True"):
        Widths.from_pretrained(tmp_path)


def test_a_bool_is_taken_for_an_int_whose_default_is_one(tmp_path: Path) -> None:
    Widths(dilate=True).save_pretrained(tmp_path)  # (lerobot's ``replace_final_stride_with_dilation: int = False``)
    assert Widths.from_pretrained(tmp_path).dilate is True


# 4. loading: offline mode, a local directory named like the repository


def test_offline_mode_is_named_for_an_uncached_repository(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(LocalEntryNotFoundError, match=r"offline mode is on \(HF_HUB_OFFLINE is set\)") as raised:
        Small.from_pretrained("someone/model", cache_dir=tmp_path / "cache")
    assert "hf download someone/model" in str(raised.value) and "check your connection" not in str(raised.value)


def test_hub_options_for_a_local_directory_are_said_to_be_ignored(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    Small(a=2).save_pretrained("me/model")
    with pytest.warns(UserWarning, match=r"'me/model' is a local directory.*revision='v1' only applies to a Hub"):
        assert Small.from_pretrained("me/model", revision="v1").a == 2
    with pytest.warns(UserWarning, match=r"force_download=True only applies"):
        Small.from_pretrained("me/model", force_download=True)


# 5. messages


def test_a_former_keyword_gets_its_replacement(tmp_path: Path) -> None:
    Small().save_pretrained(tmp_path)
    with pytest.raises(HubMixinTypeError, match=r"'use_auth_token'; did you mean 'token'\?"):
        Small.from_pretrained(tmp_path, use_auth_token="x")  # type: ignore[call-arg]


def test_a_file_given_for_its_folder_is_named(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    Small().save_pretrained("net")
    with pytest.raises(WeightsNotFoundError, match=r"is a file, not a directory.*give its folder, 'net'"):
        Small.from_pretrained("net/model.safetensors")


class WithFunction(_Own):
    def __init__(self, act: Any = len) -> None:
        self.act = act


def test_a_function_argument_is_advised_to_be_named() -> None:
    with pytest.warns(ConfigEncodingWarning, match=r"For a function, take its name instead \(`act: str`\)"):
        WithFunction(act=abs)


# 6. an __init__ passing its **kwargs on to a base's that takes none


class Base:
    def __init__(self, dim: int = 3) -> None:
        self.dim = dim


class Forwards(Base, _Own):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)


class Pops(Base, _Own):
    def __init__(self, **kwargs: Any) -> None:
        self.extra = kwargs.pop("extra", 0)  # a keyword of its own
        super().__init__(**kwargs)


def test_a_typo_through_an_init_passing_kwargs_on_is_refused(tmp_path: Path) -> None:
    Forwards(dim=2).save_pretrained(tmp_path)
    with pytest.raises(HubMixinTypeError, match=r"'dimm'; did you mean 'dim'\?"):
        Forwards.from_pretrained(tmp_path, dimm=3)  # type: ignore[call-arg]
    assert Forwards.from_pretrained(tmp_path, model_kwargs={"dim": 5}).dim == 5


def test_a_keyword_an_init_on_the_way_reads_itself_is_taken(tmp_path: Path) -> None:
    Pops(dim=2).save_pretrained(tmp_path)
    assert Pops.from_pretrained(tmp_path, model_kwargs={"extra": 7}).extra == 7


@pytest.mark.parametrize("method", ["push_to_hub", "save_pretrained"])
def test_a_method_called_on_the_class_says_to_build_the_model(method: str) -> None:
    with pytest.raises(HubMixinTypeError, match=rf"{method} is a method of a model, not of its class"):
        getattr(Small, method)("me/model")
