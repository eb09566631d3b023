"""QA round 21: ``runtime_args`` and Keras' own saving; ``keras.Layer``'s keywords through ``**kwargs``;
``from_pretrained`` called on the mixin itself."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pytest

from hubmixin_core.errors import HubMixinTypeError
from hubmixin_keras import KerasModelHubMixin

X = np.random.default_rng(0).normal(size=(2, 4)).astype(np.float32)


def _numpy(value: Any) -> np.ndarray[Any, Any]:
    return np.asarray(keras.ops.convert_to_numpy(value))


class Tokenizer:
    """A run-time object JSON cannot hold."""


class Required(keras.Model, KerasModelHubMixin, runtime_args=["tokenizer"]):  # type: ignore[misc]
    def __init__(self, tokenizer: Tokenizer, units: int = 3, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.tokenizer = tokenizer
        self.fc = keras.layers.Dense(units)

    def call(self, x: Any) -> Any:
        return self.fc(x)


class Defaulted(keras.Model, KerasModelHubMixin, runtime_args=["tokenizer"]):  # type: ignore[misc]
    def __init__(self, tokenizer: Tokenizer | None = None, units: int = 3, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.tokenizer = tokenizer
        self.fc = keras.layers.Dense(units)

    def call(self, x: Any) -> Any:
        return self.fc(x)


@pytest.mark.parametrize("cls", [Required, Defaulted])
def test_a_runtime_argument_given_makes_get_config_raise_naming_it(cls: type[Any], tmp_path: Path) -> None:
    """Keras' saving cannot give it again at load: the save refuses, rather than write a file that fails to load
    (required) or rebuilds the model with the default."""
    model = cls(tokenizer=Tokenizer(), units=5)
    model(X)
    with pytest.raises(NotImplementedError, match=r"runtime_args \['tokenizer'\].*define get_config and from_config"):
        model.get_config()
    with pytest.raises(NotImplementedError, match="tokenizer"):
        model.save(tmp_path / "m.keras")


@pytest.mark.parametrize("given", [False, True])
def test_a_runtime_argument_left_at_its_default_keeps_keras_saving(given: bool) -> None:
    """A guard: the config rebuilds the same model."""
    model = Defaulted(tokenizer=None, units=5) if given else Defaulted(units=5)
    model(X)
    clone = keras.models.clone_model(model)
    assert clone.tokenizer is None
    assert clone.fc.units == 5


class Seq(keras.Model, KerasModelHubMixin):  # type: ignore[misc]
    def __init__(self, hidden: int = 8, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.body = keras.layers.Dense(hidden)
        self.head = keras.layers.Dense(2)

    def call(self, x: Any) -> Any:
        return self.head(self.body(x))


def _check_layer_keywords(model: Any) -> None:
    assert model.autocast is False
    assert isinstance(model.activity_regularizer, keras.regularizers.L2)
    assert model.body.units == 3


def test_layer_keywords_through_kwargs_come_back(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """``autocast`` and ``activity_regularizer`` are saved to config.json; from_pretrained and from_config give
    them back to ``**kwargs``, without saying another class saved them."""
    model = Seq(hidden=3, autocast=False, activity_regularizer="l2")
    model(X)
    model.save_pretrained(tmp_path)
    saved = json.loads((tmp_path / "config.json").read_text())
    assert saved == {"activity_regularizer": "l2", "autocast": False, "hidden": 3}
    with caplog.at_level(logging.WARNING):
        loaded = Seq.from_pretrained(tmp_path, strict=True)
        again = Seq.from_config(model.get_config())
    assert not [r for r in caplog.records if "takes no" in r.getMessage()]
    for built in (loaded, again):
        _check_layer_keywords(built)
        np.testing.assert_array_equal(_numpy(built(X)).shape, (2, 2))
    np.testing.assert_array_equal(_numpy(loaded(X)), _numpy(model(X)))
    assert len(loaded.losses) == 1  # the activity regularizer's


def test_layer_keywords_through_kwargs_in_a_keras_file(tmp_path: Path) -> None:
    keras.saving.register_keras_serializable("hubmixin_qa21")(Seq)
    model = Seq(hidden=3, autocast=False, activity_regularizer="l2")
    model(X)
    model.save(tmp_path / "m.keras")
    _check_layer_keywords(keras.saving.load_model(tmp_path / "m.keras"))
    _check_layer_keywords(keras.models.clone_model(model))


def test_from_pretrained_on_the_mixin_says_to_use_the_model_class(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Refused first, before its config is read (no warning about config.json's keys)."""
    model = Seq(hidden=3)
    model(X)
    model.save_pretrained(tmp_path)
    with caplog.at_level(logging.WARNING), pytest.raises(HubMixinTypeError, match="on your model class"):
        KerasModelHubMixin.from_pretrained(tmp_path)
    assert not caplog.records
