"""Subclass patterns of public model libraries (lerobot, setfit, BigVGAN, dust3r) that huggingface_hub's mixin
saves and loads: hubmixin's must too."""

from __future__ import annotations

import dataclasses
import json
import logging
import warnings
from pathlib import Path
from typing import Any, Self

import numpy as np
import pytest
from core_models import NumpyModelMixin
from huggingface_hub import ModelHubMixin as HfModelHubMixin

from hubmixin_core import ConfigEncodingWarning, DownloadOptions
from hubmixin_core.errors import ConfigTypeError, MissingArgumentError
from hubmixin_core.testing import LocalHub

# lerobot's policy configs: ``replace_final_stride_with_dilation: int = False`` (Python's bool is an int)


@dataclasses.dataclass
class ACTConfig:
    dim_model: int = 4
    replace_final_stride_with_dilation: int = False
    pretrained_backbone_weights: str = "ResNet18_Weights"  # (turned off with None, unannotated for it)
    flag: bool = 0  # type: ignore[assignment]


class ACTPolicy(NumpyModelMixin, library_name="lerobot"):
    def __init__(self, config: ACTConfig | None = None) -> None:
        self.config = config or ACTConfig()
        self.weights = {"w": np.zeros(self.config.dim_model, dtype=np.float32)}


class HfACTPolicy(HfModelHubMixin):
    """The same policy on huggingface_hub's mixin, as lerobot's checkpoints on the Hub were written."""

    def __init__(self, config: ACTConfig | None = None) -> None:
        self.config = config or ACTConfig()

    def _save_pretrained(self, save_directory: Path) -> None:
        ACTPolicy(self.config).save_pretrained(save_directory)  # the weights; config.json is rewritten below


def test_a_bool_in_an_int_field_is_saved_and_loaded_without_a_warning(tmp_path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ACTPolicy(ACTConfig(replace_final_stride_with_dilation=True)).save_pretrained(tmp_path)
    loaded = ACTPolicy.from_pretrained(tmp_path).config
    assert loaded == ACTConfig(replace_final_stride_with_dilation=True)


def test_a_config_huggingface_hubs_mixin_wrote_with_field_defaults_of_another_type_loads(tmp_path: Path) -> None:
    HfACTPolicy(ACTConfig(dim_model=3)).save_pretrained(tmp_path)
    written = json.loads((tmp_path / "config.json").read_text())
    assert written == {
        "dim_model": 3,
        "replace_final_stride_with_dilation": False,
        "pretrained_backbone_weights": "ResNet18_Weights",
        "flag": 0,
    }
    loaded = ACTPolicy.from_pretrained(tmp_path).config
    assert loaded == ACTConfig(dim_model=3)
    assert loaded.flag == 0 and type(loaded.flag) is int  # the field's own default, as it is


def test_a_lerobot_checkpoint_huggingface_hubs_mixin_pushed_loads_from_the_hub(local_hub: LocalHub) -> None:
    repo_id = f"{local_hub.username}/act_policy"
    HfACTPolicy(ACTConfig(dim_model=2)).push_to_hub(repo_id)
    assert ACTPolicy.from_pretrained(repo_id).config == ACTConfig(dim_model=2)


def test_a_dataclass_configs_field_the_loader_would_refuse_is_named_at_build(tmp_path: Path) -> None:
    with pytest.warns(ConfigEncodingWarning, match=r"argument config\.pretrained_backbone_weights is None"):
        model = ACTPolicy(ACTConfig(pretrained_backbone_weights=None))  # type: ignore[arg-type]
    with pytest.warns(ConfigEncodingWarning, match=r"argument config\.flag is 1, which its annotation bool"):
        ACTPolicy(ACTConfig(flag=1))  # type: ignore[arg-type]
    model.save_pretrained(tmp_path)
    with pytest.raises(ConfigTypeError, match=r"pretrained_backbone_weights' must be str"):
        ACTPolicy.from_pretrained(tmp_path)


def test_a_string_for_an_int_field_is_still_refused(tmp_path: Path) -> None:
    ACTPolicy().save_pretrained(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({"dim_model": "4"}))
    with pytest.raises(ConfigTypeError, match=r"'dim_model' must be int, found str"):
        ACTPolicy.from_pretrained(tmp_path)


# setfit: the loader rebuilds the modules config.json cannot hold from files of its own


class Module:
    def __init__(self, size: int) -> None:
        self.size = size


class SetFitModel(NumpyModelMixin):
    def __init__(self, body: Module, labels: list[str] | None = None) -> None:
        self.body, self.labels = body, labels
        self.weights = {"w": np.zeros(body.size, dtype=np.float32)}

    def _save_pretrained(self, save_directory: Path) -> None:
        super()._save_pretrained(save_directory)
        (save_directory / "body.json").write_text(json.dumps({"size": self.body.size}))

    @classmethod
    def _from_pretrained(cls, *, model_id: str, download: DownloadOptions, model_kwargs: dict[str, Any]) -> Self:
        body = Module(**json.loads((Path(model_id) / "body.json").read_text()))
        return cls(body=body, labels=model_kwargs.get("labels"))


class PassesArgumentsOn(SetFitModel):
    @classmethod
    def _from_pretrained(cls, *, model_id: str, download: DownloadOptions, model_kwargs: dict[str, Any]) -> Self:
        return cls(**model_kwargs)


class PassesConfigOn(SetFitModel):
    @classmethod
    def _from_pretrained(
        cls, *, model_id: str, download: DownloadOptions, model_kwargs: dict[str, Any], config: Any = None
    ) -> Self:
        values = config or {}
        return cls(**values)


class PassesOneArgumentOn(SetFitModel):
    """Gives ``body`` from what it was given: the unsaved argument is not its own."""

    @classmethod
    def _from_pretrained(cls, *, model_id: str, download: DownloadOptions, model_kwargs: dict[str, Any]) -> Self:
        return cls(body=model_kwargs["body"], labels=model_kwargs.get("labels"))


class UnpacksWhatItWasGiven(SetFitModel):
    @classmethod
    def _from_pretrained(cls, *, model_id: str, download: DownloadOptions, model_kwargs: dict[str, Any]) -> Self:
        body, labels = model_kwargs.get("body"), model_kwargs.get("labels")
        return cls(body=body, labels=labels)  # type: ignore[arg-type]


class FillsACopy(SetFitModel):
    @classmethod
    def _from_pretrained(cls, *, model_id: str, download: DownloadOptions, model_kwargs: dict[str, Any]) -> Self:
        given: dict[str, Any] = {}
        given.update(model_kwargs)
        return cls(body=given.get("body"), labels=given.get("labels"))  # type: ignore[arg-type]


class PassesACopyOn(SetFitModel):
    @classmethod
    def _from_pretrained(cls, *, model_id: str, download: DownloadOptions, model_kwargs: dict[str, Any]) -> Self:
        return cls(**{key: value for key, value in model_kwargs.items() if key != "unused"})


def test_a_loader_rebuilding_an_unsaved_argument_itself_loads(tmp_path: Path) -> None:
    with pytest.warns(ConfigEncodingWarning, match=r"body"):
        SetFitModel(Module(3), labels=["neg", "pos"]).save_pretrained(tmp_path)
    assert json.loads((tmp_path / "config.json").read_text())["_hub_mixin_unsaved"] == {"body": "Module"}
    loaded = SetFitModel.from_pretrained(tmp_path)
    assert (loaded.body.size, loaded.labels) == (3, ["neg", "pos"])
    passing_on = (
        PassesArgumentsOn,
        PassesConfigOn,
        PassesOneArgumentOn,
        PassesACopyOn,
        UnpacksWhatItWasGiven,
        FillsACopy,
    )
    for passes_on in passing_on:  # what each passes on lacks it
        with pytest.raises(MissingArgumentError, match=r"'body' \(a Module\)"):
            passes_on.from_pretrained(tmp_path)


# BigVGAN: its own config.json, written and read by the class itself


class BigVGAN(NumpyModelMixin, strict_config=True):
    def __init__(self, h: dict[str, Any]) -> None:
        self.h = h
        self.weights = {"w": np.zeros(h["num_mels"], dtype=np.float32)}

    def _save_pretrained(self, save_directory: Path) -> None:
        super()._save_pretrained(save_directory)
        (save_directory / "config.json").write_text(json.dumps(self.h))

    @classmethod
    def _from_pretrained(cls, *, model_id: str, download: DownloadOptions, model_kwargs: dict[str, Any]) -> Self:
        return cls(json.loads((Path(model_id) / "config.json").read_text()))


def test_a_class_reading_its_own_config_json_loads_it_without_unknown_keys(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    BigVGAN({"num_mels": 4, "resblock": "1"}).save_pretrained(tmp_path)
    with caplog.at_level(logging.WARNING, logger="hubmixin_core"):
        assert BigVGAN.from_pretrained(tmp_path).h == {"num_mels": 4, "resblock": "1"}  # under strict_config too
    assert "takes no" not in caplog.text


# dust3r, Hiera: arguments given through **kwargs


class Croco(NumpyModelMixin):
    def __init__(self, **croco_kwargs: Any) -> None:
        self.img_size = croco_kwargs.get("img_size")
        self.weights = {"w": np.zeros(2, dtype=np.float32)}


def test_a_tuple_given_through_kwargs_is_named_as_coming_back_a_list(tmp_path: Path) -> None:
    with pytest.warns(ConfigEncodingWarning, match=r"argument img_size \(tuple\), taken by \*\*kwargs.* as list"):
        model = Croco(img_size=(512, 384))
    model.save_pretrained(tmp_path)
    assert Croco.from_pretrained(tmp_path).img_size == [512, 384]
