"""A key a Keras model's ``__init__`` reads from its own ``**kwargs`` (``self.extra = kwargs.pop("extra", 0)`` before
``super().__init__(**kwargs)``) is written to config.json and given back by ``from_pretrained`` (and Keras' own
``from_config``), as core, Flax and huggingface_hub give it; before, it came back at its default with a log line
guessing "saved by another class?" (QA round 24, core811 #1). Keys no ``__init__`` reads keep their report."""

from __future__ import annotations

import json
import logging
import warnings
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pytest

from hubmixin_core.errors import HubMixinTypeError, MissingArgumentError
from hubmixin_keras import KerasModelHubMixin


class Scaled(keras.Model, KerasModelHubMixin):  # type: ignore[misc]
    def __init__(self, units: int = 3, **kwargs: Any) -> None:
        self.extra = kwargs.pop("extra", 0)  # a model option taken from **kwargs
        super().__init__(**kwargs)
        self.fc = keras.layers.Dense(units)

    def call(self, x: Any) -> Any:
        return self.fc(x) * self.extra if isinstance(self.extra, int) else self.fc(x)


class Deeper(Scaled):
    def __init__(self, depth: int = 1, **kwargs: Any) -> None:
        super().__init__(**kwargs)  # (its base reads ``extra``)
        self.depth = depth


def _saved(model: Scaled, directory: Path) -> Path:
    model(np.ones((1, 2), "float32"))
    model.save_pretrained(directory)
    return directory


def test_a_key_init_reads_from_kwargs_is_given_back(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    model = Scaled(4, extra=9)
    directory = _saved(model, tmp_path / "m")
    assert json.loads((directory / "config.json").read_text()) == {"extra": 9, "units": 4}
    with caplog.at_level(logging.WARNING, logger="hubmixin_core"):
        loaded = Scaled.from_pretrained(directory)
    assert loaded.extra == 9
    x = np.ones((2, 2), "float32")
    np.testing.assert_allclose(keras.ops.convert_to_numpy(loaded(x)), keras.ops.convert_to_numpy(model(x)))
    assert "takes no" not in caplog.text


def test_the_callers_value_wins_and_is_accepted(tmp_path: Path) -> None:
    directory = _saved(Scaled(4, extra=9), tmp_path / "m")
    assert Scaled.from_pretrained(directory, extra=5).extra == 5  # type: ignore[call-arg]
    assert Scaled.from_pretrained(directory, model_kwargs={"extra": 6}).extra == 6
    with pytest.raises(HubMixinTypeError, match="'extrra'; did you mean 'extra'"):
        Scaled.from_pretrained(directory, extrra=5)  # type: ignore[call-arg]


def test_a_key_a_base_reads_through_kwargs_is_given_back(tmp_path: Path) -> None:
    directory = _saved(Deeper(depth=2, units=5, extra=7), tmp_path / "d")
    loaded = Deeper.from_pretrained(directory)
    assert (loaded.extra, loaded.depth, loaded.fc.units) == (7, 2, 5)


def test_keras_own_from_config_gives_it_back() -> None:
    model = Scaled(4, extra=9)
    config = keras.saving.serialize_keras_object(model)
    assert keras.saving.deserialize_keras_object(config, custom_objects={"Scaled": Scaled}).extra == 9


def test_layer_keywords_beside_it_keep_their_report(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    directory = _saved(Scaled(4, extra=9, autocast=False), tmp_path / "m")
    with caplog.at_level(logging.WARNING, logger="hubmixin_core"):
        loaded = Scaled.from_pretrained(directory)
    assert loaded.extra == 9 and loaded.autocast
    assert "Scaled.__init__ takes no ['autocast'] by name" in caplog.text and "'extra'" not in caplog.text


def test_an_unsaved_value_of_it_is_asked_for(tmp_path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # (the ConfigEncodingWarning naming it)
        directory = _saved(Scaled(4, extra=np.float32), tmp_path / "m")
    assert json.loads((directory / "config.json").read_text())["_hub_mixin_unsaved"] == {"extra": "type"}
    with pytest.raises(MissingArgumentError, match="extra"):
        Scaled.from_pretrained(directory)
    assert Scaled.from_pretrained(directory, extra=2).extra == 2  # type: ignore[call-arg]
