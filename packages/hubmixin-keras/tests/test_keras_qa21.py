"""QA round 21: ``from_pretrained`` called on the mixin itself."""

from __future__ import annotations

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


class Seq(keras.Model, KerasModelHubMixin):  # type: ignore[misc]
    def __init__(self, hidden: int = 8, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.body = keras.layers.Dense(hidden)
        self.head = keras.layers.Dense(2)

    def call(self, x: Any) -> Any:
        return self.head(self.body(x))


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
