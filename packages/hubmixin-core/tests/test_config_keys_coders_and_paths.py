"""Unknown keys of dataclass configs, coders for JSON's own types, and the
messages of missing paths and names."""

from __future__ import annotations

import dataclasses
import json
import logging
import re
from pathlib import Path
from typing import Any, Self

import numpy as np
import pytest
from huggingface_hub.errors import LocalEntryNotFoundError
from safetensors.numpy import save_file

from hubmixin_core import ConfigError, DownloadOptions, ModelHubMixin, locate_file
from hubmixin_core.errors import WeightsKeyError, WeightsNotFoundError
from hubmixin_core.weights import open_checkpoint


class Base(ModelHubMixin):
    def _save_pretrained(self, save_directory: Path) -> None:
        (save_directory / "w.bin").write_bytes(b"w")

    @classmethod
    def _from_pretrained(cls, *, model_id: str, download: DownloadOptions, model_kwargs: dict[str, Any]) -> Self:
        return cls(**model_kwargs)


@dataclasses.dataclass
class VisionConfig:
    hidden: int = 4


@dataclasses.dataclass
class TowerConfig:
    vision: VisionConfig = dataclasses.field(default_factory=VisionConfig)
    layers: int = 2


class TopLevel(Base):
    def __init__(self, config: VisionConfig) -> None:
        self.config = config


class StrictTopLevel(TopLevel, strict_config=True):
    pass


class Nested(Base, strict_config=True):
    def __init__(self, vision: VisionConfig, scale: float = 1.0) -> None:
        self.vision = vision


class Deep(Base, strict_config=True):
    def __init__(self, config: TowerConfig) -> None:
        self.config = config


class Listed(Base, strict_config=True):
    def __init__(self, towers: list[VisionConfig] | None = None) -> None:
        self.towers = towers


def _saved(tmp_path: Path, content: dict[str, Any]) -> Path:
    (tmp_path / "w.bin").write_bytes(b"w")
    (tmp_path / "config.json").write_text(json.dumps(content))
    return tmp_path


# keys a dataclass config has no field for


def test_a_dataclass_configs_unknown_key_is_warned_naming_it_and_the_dataclass(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="hubmixin_core"):
        model = TopLevel.from_pretrained(_saved(tmp_path, {"hidden": 8, "sample_rate": 16000}))
    assert model.config == VisionConfig(hidden=8)
    assert "TopLevel.__init__ takes no ['sample_rate']" in caplog.text
    assert "VisionConfig" in caplog.text


def test_a_dataclass_configs_unknown_key_is_an_error_under_strict_config(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"StrictTopLevel.__init__ takes no \['sample_rate'\].*VisionConfig"):
        StrictTopLevel.from_pretrained(_saved(tmp_path, {"hidden": 8, "sample_rate": 16000}))


@pytest.mark.parametrize(
    ("cls", "content", "path"),
    [
        (Nested, {"vision": {"hidden": 8, "sample_rate": 16000}}, "vision.sample_rate"),
        (Deep, {"vision": {"hidden": 8, "sample_rate": 1}, "layers": 3}, "vision.sample_rate"),
        (Listed, {"towers": [{"hidden": 1}, {"hidden": 2, "sample_rate": 1}]}, "towers[1].sample_rate"),
    ],
)
def test_a_nested_dataclasss_unknown_key_is_named_by_its_path(
    tmp_path: Path, cls: type[Base], content: dict[str, Any], path: str
) -> None:
    with pytest.raises(ConfigError, match=rf"VisionConfig has no field for \['{re.escape(path)}'\]"):
        cls.from_pretrained(_saved(tmp_path, content))


def test_a_dataclass_config_saved_by_its_class_loads_without_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    Deep(TowerConfig(VisionConfig(8), 3)).save_pretrained(tmp_path)
    Nested(VisionConfig(5), scale=2.0).save_pretrained(tmp_path / "nested")
    with caplog.at_level(logging.WARNING, logger="hubmixin_core"):
        assert Deep.from_pretrained(tmp_path).config == TowerConfig(VisionConfig(8), 3)
        assert Nested.from_pretrained(tmp_path / "nested").vision == VisionConfig(5)
    assert not caplog.records


def test_keys_an_init_taking_kwargs_receives_are_not_warned_about(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    class WithKwargs(Base, strict_config=True):
        def __init__(self, config: VisionConfig, **kwargs: Any) -> None:
            self.config, self.kwargs = config, kwargs

    with caplog.at_level(logging.WARNING, logger="hubmixin_core"):
        model = WithKwargs.from_pretrained(_saved(tmp_path, {"hidden": 8, "extra": 1}))
    assert (model.config, model.kwargs["extra"]) == (VisionConfig(8), 1)
    assert not caplog.records


def test_a_nested_value_given_at_load_is_not_checked(tmp_path: Path) -> None:
    path = _saved(tmp_path, {"vision": {"hidden": 8, "sample_rate": 16000}})
    assert Nested.from_pretrained(path, model_kwargs={"vision": VisionConfig(1)}).vision == VisionConfig(1)


# coders declared for JSON's own types


def _hw(shape: tuple[int, ...]) -> str:
    return "x".join(map(str, shape))


def _shape(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("x"))


class Shaped(Base, coders={tuple: (_hw, _shape), float: (lambda f: round(f, 2), float)}):
    def __init__(self, size: tuple[int, int] = (1, 1), ratio: float = 0.5, plain: tuple[int, ...] = ()) -> None:
        self.size, self.ratio, self.plain = size, ratio, plain


class Paired(Base, coders={dict: (lambda d: sorted(d.items()), dict)}):
    def __init__(self, labels: dict[str, int] | None = None, n: int = 1) -> None:
        self.labels, self.n = labels, n


def test_a_tuple_coder_writes_and_reads_its_form(tmp_path: Path) -> None:
    Shaped(size=(224, 224), ratio=0.123456, plain=(1, 2)).save_pretrained(tmp_path)
    saved = json.loads((tmp_path / "config.json").read_text())
    assert saved == {"size": "224x224", "ratio": 0.12, "plain": "1x2"}
    loaded = Shaped.from_pretrained(tmp_path)
    assert (loaded.size, loaded.ratio, loaded.plain) == ((224, 224), 0.12, (1, 2))


def test_a_dict_coder_applies_to_dict_arguments_not_to_the_config(tmp_path: Path) -> None:
    Paired(n=3).save_pretrained(tmp_path / "none")
    assert json.loads((tmp_path / "none" / "config.json").read_text()) == {"labels": None, "n": 3}
    Paired(labels={"b": 1, "a": 2}).save_pretrained(tmp_path / "some")
    assert json.loads((tmp_path / "some" / "config.json").read_text()) == {"labels": [["a", 2], ["b", 1]], "n": 1}
    assert Paired.from_pretrained(tmp_path / "some").labels == {"a": 2, "b": 1}


def test_a_dict_coder_leaves_a_config_dict_argument_whole(tmp_path: Path) -> None:
    class PairedConfig(Base, coders={dict: (lambda d: sorted(d.items()), dict)}):
        def __init__(self, config: dict[str, Any] | None = None) -> None:
            self.config = config

    PairedConfig(config={"hidden": 8, "labels": {"b": 1}}).save_pretrained(tmp_path)
    assert json.loads((tmp_path / "config.json").read_text()) == {"hidden": 8, "labels": {"b": 1}}
    assert PairedConfig.from_pretrained(tmp_path).config == {"hidden": 8, "labels": {"b": 1}}


def test_a_str_coder_is_applied_once(tmp_path: Path) -> None:
    class Shouting(Base, coders={str: (str.upper, str.lower)}):
        def __init__(self, name: str = "a", names: list[str] | None = None) -> None:
            self.name, self.names = name, names

    Shouting(name="bert", names=["x"]).save_pretrained(tmp_path)
    assert json.loads((tmp_path / "config.json").read_text()) == {"name": "BERT", "names": ["X"]}
    loaded = Shouting.from_pretrained(tmp_path)
    assert (loaded.name, loaded.names) == ("bert", ["x"])


# offline, a mistyped local path


@pytest.mark.parametrize("path", ["checkpoints/run_1", "run_1"])
def test_offline_a_missing_local_path_is_said_not_to_exist(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, path: str
) -> None:
    monkeypatch.chdir(tmp_path)
    TopLevel(VisionConfig()).save_pretrained("checkpoints/run1")
    cache = tmp_path / "cache"
    with pytest.raises(LocalEntryNotFoundError, match=rf"'{path}' is neither a local directory \(.*{path} does not"):
        TopLevel.from_pretrained(path, local_files_only=True, cache_dir=cache)


# paths and names


@pytest.mark.parametrize("path", ["my-model/", "my model"])
def test_a_missing_path_that_is_no_repo_id_is_said_not_to_exist(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, path: str
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(WeightsNotFoundError, match=rf"{path}: does not exist"):
        TopLevel.from_pretrained(path)


def test_locate_file_and_open_checkpoint_expand_the_home_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    save_file({"w": np.ones(2, dtype=np.float32)}, str(tmp_path / "model.safetensors"))
    (tmp_path / "config.json").write_text("{}")
    assert locate_file("~", "config.json", DownloadOptions()) == tmp_path / "config.json"
    assert list(open_checkpoint("~").infos) == ["w"]
    with pytest.raises(WeightsNotFoundError, match="does not exist"):
        locate_file("~/absent", "config.json", DownloadOptions())


def test_reading_a_missing_tensor_names_the_file_and_the_key(tmp_path: Path) -> None:
    save_file({"w": np.ones(2, dtype=np.float32)}, str(tmp_path / "model.safetensors"))
    checkpoint = open_checkpoint(tmp_path)
    with pytest.raises(WeightsKeyError, match=r"model\.safetensors: no such tensors; missing keys \['missing'\]"):
        checkpoint.read(["missing"])
    with pytest.raises(WeightsKeyError, match="'missing'"):
        checkpoint.read_slice("missing", (slice(0, 1),))


def test_names_given_as_a_generator_are_read(tmp_path: Path) -> None:
    save_file({"w": np.arange(2, dtype=np.float32)}, str(tmp_path / "model.safetensors"))
    checkpoint = open_checkpoint(tmp_path)
    np.testing.assert_array_equal(checkpoint.read(n for n in ["w"])["w"], np.arange(2, dtype=np.float32))
    assert checkpoint.read_raw(n for n in ["w"])["w"].nbytes == 8


def test_copies_of_a_tensor_are_compared_in_place(tmp_path: Path) -> None:
    values = np.arange(6, dtype=np.float32).reshape(2, 3)
    other = values.copy()
    other[1, 2] = -1
    tensors: dict[str, np.ndarray[Any, Any]] = {"a": values, "b": values.copy(), "c": other}
    tensors.update(d=values.astype(np.float16), e=values[:0], f=values[:0].copy())
    save_file(tensors, str(tmp_path / "model.safetensors"))
    checkpoint = open_checkpoint(tmp_path)
    assert checkpoint.same_bytes("a", "b") and checkpoint.same_bytes("e", "f")
    assert not checkpoint.same_bytes("a", "c") and not checkpoint.same_bytes("a", "d")
    with pytest.raises(WeightsKeyError, match="'g'"):
        checkpoint.same_bytes("a", "g")


def test_a_checkpoint_without_some_tensors_neither_reads_nor_lists_them(tmp_path: Path) -> None:
    save_file(
        {"a": np.ones(2, dtype=np.float32), "b": np.zeros(2, dtype=np.float32)}, str(tmp_path / "model.safetensors")
    )
    checkpoint = open_checkpoint(tmp_path).without(["b"])
    assert list(checkpoint.infos) == ["a"] and checkpoint.read(["a"])["a"].tolist() == [1.0, 1.0]
    with pytest.raises(WeightsKeyError, match="'b'"):
        checkpoint.read(["b"])
