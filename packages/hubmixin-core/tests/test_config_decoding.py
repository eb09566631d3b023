"""Decoding config.json values whose annotation leaves a choice: unions with coder, dataclass and JSON members,
coders declared for dataclasses; and values numpy gives (numpy scalars) or a coder returns."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Union

import numpy as np
import pytest
from core_models import NumpyModelMixin

from hubmixin_core import ConfigEncodingError, ConfigEncodingWarning


class Act:
    """A coder type whose decoder only takes its own encoding (a dict)."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Act) and other.name == self.name

    __hash__ = None  # type: ignore[assignment]


ACT_CODER = (lambda a: {"act": a.name}, lambda d: Act(d["act"]))


class UnionModel(NumpyModelMixin, coders={Act: ACT_CODER}):
    def __init__(
        self,
        act: Union[Act, str] = "gelu",  # noqa: UP007 - the older spelling, as libraries write it
        path: Path | int = 4,
        mode: Literal["auto"] | Act = "auto",
    ) -> None:
        self.act, self.path, self.mode = act, path, mode
        self.weights = {"w": np.zeros(2, np.float32)}


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"act": "relu"},
        {"act": Act("silu")},
        {"path": 3},
        {"path": Path("a/b")},
        {"mode": Act("x")},
    ],
)
def test_a_union_gives_back_the_member_the_value_was(tmp_path: Path, kwargs: dict[str, Any]) -> None:
    model = UnionModel(**kwargs)
    model.save_pretrained(tmp_path)
    loaded = UnionModel.from_pretrained(tmp_path)
    for name in ("act", "path", "mode"):
        assert getattr(loaded, name) == getattr(model, name)
        assert type(getattr(loaded, name)) is type(getattr(model, name))


@dataclass
class Sizes:
    hidden: int = 64
    layers: int = 2


class DictOrDataclass(NumpyModelMixin):
    def __init__(self, sizes: Sizes | dict[str, Any] | None = None) -> None:
        self.sizes = sizes
        self.weights = {"w": np.zeros(2, np.float32)}


@pytest.mark.parametrize(
    "sizes", [{"hidden_size": 512, "num_layers": 24}, {"hidden": 512, "dropout": 0.1}, Sizes(8, 3), None]
)
def test_a_dict_with_keys_the_dataclass_lacks_stays_a_dict(tmp_path: Path, sizes: Any) -> None:
    DictOrDataclass(sizes).save_pretrained(tmp_path)
    assert DictOrDataclass.from_pretrained(tmp_path).sizes == sizes


@dataclass
class Anchor:
    x: int
    y: int


class WithAnchor(
    NumpyModelMixin, coders={Anchor: (lambda a: f"{a.x},{a.y}", lambda s: Anchor(*map(int, s.split(","))))}
):
    def __init__(self, anchor: Anchor = Anchor(0, 0)) -> None:  # noqa: B008 - a frozen-like value
        self.anchor = anchor
        self.weights = {"w": np.zeros(2, np.float32)}


def test_a_dataclass_with_a_coder_reads_its_coder_s_form_and_huggingface_hub_s(tmp_path: Path) -> None:
    WithAnchor(Anchor(1, 2)).save_pretrained(tmp_path)
    assert json.loads((tmp_path / "config.json").read_text())["anchor"] == "1,2"
    assert WithAnchor.from_pretrained(tmp_path).anchor == Anchor(1, 2)
    (tmp_path / "config.json").write_text(json.dumps({"anchor": {"x": 3, "y": 4}}))  # huggingface_hub's: its fields
    assert WithAnchor.from_pretrained(tmp_path).anchor == Anchor(3, 4)


class Classifier(NumpyModelMixin):
    def __init__(self, num_classes: int = 2, scale: float = 1.0, bias: bool = False, width: Any = 1) -> None:
        self.num_classes, self.scale, self.bias, self.width = num_classes, scale, bias, width
        self.weights = {"w": np.zeros(num_classes, np.float32)}


def test_numpy_scalars_are_saved_as_json_numbers(tmp_path: Path) -> None:
    labels = np.array([0, 4, 2])
    model = Classifier(labels.max() + 1, np.float32(0.5), np.bool_(True), np.int32(7))  # type: ignore[arg-type]
    model.save_pretrained(tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    assert config == {"num_classes": 5, "scale": 0.5, "bias": True, "width": 7}
    loaded = Classifier.from_pretrained(tmp_path)
    assert (loaded.num_classes, loaded.scale, loaded.bias, loaded.width) == (5, 0.5, True, 7)


class Vocab:
    def __init__(self, words: list[str]) -> None:
        self.words = words


class WithVocab(NumpyModelMixin, strict_config=True, coders={Vocab: (lambda v: {"w": set(v.words)}, Vocab)}):
    def __init__(self, vocab: Vocab) -> None:
        self.weights = {"w": np.zeros(2, np.float32)}


def test_a_coder_returning_what_json_cannot_hold_is_named_with_the_argument() -> None:
    with pytest.raises(
        ConfigEncodingError, match=r"'vocab'.*coder declared for Vocab returned a builtins\.set at \['w'\]"
    ):
        WithVocab(Vocab(["a"]))
    with pytest.warns(ConfigEncodingWarning, match=r"argument 'vocab'.*coder declared for Vocab"):

        class Lenient(WithVocab, strict_config=False):
            pass

        Lenient(Vocab(["a"]))
