"""QA round 21, core: a class's own loader missing a required argument gets MissingArgumentError; the pasted-URL
hint names the right id (or says a dataset/Space URL is no model); a class given where an instance was meant is
named as such at save and at load; a library's own config.json with metadata keys loads as documented."""

from __future__ import annotations

import dataclasses
import json
import logging
from pathlib import Path
from typing import Any, Self

import numpy as np
import pytest
from core_models import MLP, NumpyModelMixin
from huggingface_hub import constants

from hubmixin_core import ConfigEncodingWarning, DownloadOptions, ModelHubMixin
from hubmixin_core.errors import MissingArgumentError, WeightsNotFoundError


class Sized(NumpyModelMixin):
    def __init__(self, size: int) -> None:
        self.size = size
        self.weights = {"w": np.zeros((size, size), np.float32)}


class Headed(Sized):  # a newer release of the library: a required argument its older saves lack
    def __init__(self, size: int, heads: int) -> None:
        super().__init__(size)
        self.heads = heads


def test_a_missing_config_json_names_the_missing_argument_for_a_class_s_own_loader(tmp_path: Path) -> None:
    Sized(3).save_pretrained(tmp_path)
    (tmp_path / "config.json").unlink()
    with pytest.raises(MissingArgumentError, match=r"without \['size'\]: there is no config.json in .*size': \.\.\.}"):
        Sized.from_pretrained(tmp_path)
    assert Sized.from_pretrained(tmp_path, model_kwargs={"size": 3}).size == 3


def test_a_config_json_without_a_required_argument_names_it_for_a_class_s_own_loader(tmp_path: Path) -> None:
    Sized(3).save_pretrained(tmp_path)
    with pytest.raises(MissingArgumentError, match=r"without \['heads'\]: .*config.json does not hold them") as info:
        Headed.from_pretrained(tmp_path)
    assert isinstance(info.value.__cause__, TypeError)
    assert Headed.from_pretrained(tmp_path, model_kwargs={"heads": 2}).heads == 2


class Part:
    def __init__(self, width: int) -> None:
        self.width = width


class BuildsAPart(NumpyModelMixin):
    def __init__(self, size: int = 2) -> None:
        self.part = Part()  # type: ignore[call-arg]  # (the body's own mistake)
        self.weights = {}


class CallsItsBaseWrongly(Sized):
    def __init__(self, size: int = 2) -> None:
        super().__init__()  # type: ignore[call-arg]  # (the body's own mistake)


@pytest.mark.parametrize("cls", [BuildsAPart, CallsItsBaseWrongly])
def test_a_type_error_inside_init_is_left_as_it_is(tmp_path: Path, cls: type[NumpyModelMixin]) -> None:
    MLP().save_pretrained(tmp_path)  # (a config.json without `size`: it has a default)
    (tmp_path / "config.json").unlink()
    with pytest.raises(TypeError, match=r"__init__\(\) missing 1 required positional argument") as info:
        cls.from_pretrained(tmp_path)
    assert not isinstance(info.value, MissingArgumentError)


_URLS = [
    ("https://huggingface.co/user/model.git", "pass its id: 'user/model')"),
    ("https://hf.co/user/model", "pass its id: 'user/model')"),
    ("https://www.hf.co/models/user/model/tree/main", "pass its id: 'user/model')"),
    ("https://huggingface.co/datasets/user/data", "the URL of a Hub dataset, not of a model repository"),
    ("https://huggingface.co/datasets/squad", "the URL of a Hub dataset, not of a model repository"),
    ("https://huggingface.co/spaces/user/app", "the URL of a Hub Space, not of a model repository"),
    ("hf://datasets/user/data", "the URL of a Hub dataset, not of a model repository"),
]


@pytest.mark.parametrize(("url", "hint"), _URLS)
def test_a_pasted_hub_url_is_answered_with_its_id_or_as_no_model(url: str, hint: str) -> None:
    with pytest.raises(WeightsNotFoundError) as info:
        MLP.from_pretrained(url, local_files_only=True)
    assert hint in str(info.value)
    assert "'datasets/" not in str(info.value) and "'spaces/" not in str(info.value)


def test_a_url_of_the_configured_endpoint_is_answered_with_its_id(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(constants, "ENDPOINT", "http://127.0.0.1:8765/hub")
    with pytest.raises(WeightsNotFoundError, match=r"pass its id: 'user/model'\)"):
        MLP.from_pretrained("http://127.0.0.1:8765/hub/user/model/blob/main/config.json", local_files_only=True)
    with pytest.raises(WeightsNotFoundError) as info:  # (another server's URL: no hint)
        MLP.from_pretrained("http://127.0.0.1:8766/user/model", local_files_only=True)
    assert "pass its id" not in str(info.value)


@dataclasses.dataclass
class Cfg:
    dim: int = 3


class Configured(NumpyModelMixin):
    def __init__(self, config: Cfg) -> None:
        self.config = config
        self.weights = {}


def test_a_config_class_given_for_its_instance_is_named_at_save_and_at_load(tmp_path: Path) -> None:
    with pytest.warns(ConfigEncodingWarning) as record:
        Configured(config=Cfg).save_pretrained(tmp_path)  # type: ignore[arg-type]  # (the mistake)
    warned = " ".join(str(w.message) for w in record)
    assert "'config' is the class Cfg itself, not an instance: pass Cfg(...)" in warned
    assert "coders={type" not in warned
    with pytest.raises(MissingArgumentError) as info:
        Configured.from_pretrained(tmp_path)
    assert "not an instance of Cfg" in str(info.value) and "Cfg(...)" in str(info.value)
    assert "coders={type" not in str(info.value)


class TakesAClass(NumpyModelMixin):
    def __init__(self, act: Any = None) -> None:
        self.weights = {}


def test_a_class_where_nothing_says_an_instance_was_meant_keeps_the_coder_advice(tmp_path: Path) -> None:
    with pytest.warns(ConfigEncodingWarning, match=r"'act' of type builtins.type .*Pass a JSON-compatible") as record:
        TakesAClass(act=Part).save_pretrained(tmp_path)  # (a class passed on purpose, as act=nn.GELU is)
    assert "not an instance" not in " ".join(str(w.message) for w in record)
    with pytest.raises(MissingArgumentError, match=r"'act' \(a class\): .*if an instance was meant"):
        TakesAClass.from_pretrained(tmp_path)


class OwnConfig(ModelHubMixin, strict_config=True):
    """A library writing its own config.json with metadata keys, taking them through ``**kwargs`` (integrating.md,
    Configuration)."""

    def __init__(self, dim: int = 2, **kwargs: Any) -> None:
        self.dim = dim

    def _save_pretrained(self, save_directory: Path) -> None:
        config = {"model_type": "lib", "lib_version": "1.0", "dim": self.dim}
        (save_directory / "config.json").write_text(json.dumps(config))

    @classmethod
    def _from_pretrained(cls, *, model_id: str, download: DownloadOptions, model_kwargs: dict[str, Any]) -> Self:
        return cls(**model_kwargs)


def test_a_library_s_own_config_json_with_metadata_loads_as_documented(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    OwnConfig(dim=5).save_pretrained(tmp_path)
    with caplog.at_level(logging.WARNING, logger="hubmixin_core"):
        assert OwnConfig.from_pretrained(tmp_path).dim == 5
    assert not caplog.records
    assert json.loads((tmp_path / "config.json").read_text())["model_type"] == "lib"
