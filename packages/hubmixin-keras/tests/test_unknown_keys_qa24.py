"""Keras' own keywords given through an ``__init__``'s ``**kwargs`` (``autocast``, ``activity_regularizer``) are
saved, not given back: the warning says so and what to do, as docs/keras.md does, not "saved by another class?"
(QA round 24, keras10 #2). Keys the class takes nowhere keep that guess."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pytest

from hubmixin_core.errors import ConfigError
from hubmixin_keras import KerasModelHubMixin


class MLP(keras.Model, KerasModelHubMixin):  # type: ignore[misc]
    def __init__(self, hidden: int = 8, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.fc = keras.layers.Dense(hidden)

    def call(self, x: Any) -> Any:
        return self.fc(x)


class StrictMLP(MLP, strict_config=True):
    pass


def _saved(cls: type[MLP], directory: Path) -> Path:
    model = cls(hidden=4, autocast=False, activity_regularizer="l2")
    model(np.ones((1, 3), "float32"))
    model.save_pretrained(directory)
    assert json.loads((directory / "config.json").read_text()) == {
        "activity_regularizer": "l2",
        "autocast": False,
        "hidden": 4,
    }
    return directory


def test_keras_keywords_through_kwargs_are_named_with_what_to_do(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    directory = _saved(MLP, tmp_path / "mlp")
    with caplog.at_level(logging.WARNING, logger="hubmixin_core"):
        loaded = MLP.from_pretrained(directory)
    assert loaded.autocast and loaded.activity_regularizer is None
    assert "MLP.__init__ takes no ['activity_regularizer', 'autocast'] by name" in caplog.text
    given_through = "keywords of Layer.__init__ given through its **kwargs, which from_pretrained does not give back"
    assert given_through in caplog.text
    assert "name them as parameters of MLP.__init__" in caplog.text and "again in model_kwargs" in caplog.text
    assert "saved by another class" not in caplog.text and "they are ignored" in caplog.text


def test_keras_keywords_given_again_in_model_kwargs_are_taken(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    directory = _saved(MLP, tmp_path / "mlp")
    with caplog.at_level(logging.WARNING, logger="hubmixin_core"):
        loaded = MLP.from_pretrained(directory, model_kwargs={"autocast": False, "activity_regularizer": "l2"})
    assert not loaded.autocast and loaded.activity_regularizer is not None
    assert "takes no" not in caplog.text


def test_a_key_taken_nowhere_keeps_its_guess_beside_them(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    directory = _saved(MLP, tmp_path / "mlp")
    config = json.loads((directory / "config.json").read_text())
    (directory / "config.json").write_text(json.dumps({**config, "sample_rate": 16000}))
    with caplog.at_level(logging.WARNING, logger="hubmixin_core"):
        MLP.from_pretrained(directory)
    assert "MLP.__init__ takes no ['sample_rate'] found in" in caplog.text
    kept = "(saved by another class?); MLP.__init__ takes no ['activity_regularizer', 'autocast'] by name"
    assert kept in caplog.text


def test_strict_config_raises_the_same_report(tmp_path: Path) -> None:
    directory = _saved(StrictMLP, tmp_path / "strict")
    expected = r"StrictMLP.__init__ takes no \['activity_regularizer', 'autocast'\] by name"
    with pytest.raises(ConfigError, match=expected) as info:
        StrictMLP.from_pretrained(directory)
    assert "saved by another class" not in str(info.value)
