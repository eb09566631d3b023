"""On the TensorFlow backend, a ``tf.Variable`` a layer holds itself (no Keras variable) is named at save, as the
PyTorch backend's raw torch tensors are (QA round 23, kerasbk #1); a model of Keras variables only is not."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pytest

from hubmixin_keras import KerasModelHubMixin

pytestmark = pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="the TensorFlow backend's own")


class Shifted(keras.Model, KerasModelHubMixin):  # type: ignore[misc]
    def __init__(self, units: int = 3, **kwargs: Any) -> None:
        import tensorflow as tf

        super().__init__(**kwargs)
        self.dense = keras.layers.Dense(units)
        self.norm = keras.layers.BatchNormalization()
        self.shift = tf.Variable(np.zeros(units, "float32"))
        self.extra = [tf.Variable(1.0)]

    def call(self, x: Any) -> Any:
        return self.norm(self.dense(x)) + self.shift * self.extra[0]


def test_tf_variables_a_layer_holds_are_named_at_save(tmp_path: Path) -> None:
    model = Shifted()
    model(np.ones((2, 4), "float32"))
    with pytest.warns(UserWarning, match=r"tf\.Variables 'shift', 'extra\.0' are set on layers") as caught:
        model.save_pretrained(tmp_path / "shifted")
    assert len([w for w in caught if "tf.Variables" in str(w.message)]) == 1


def test_keras_variables_alone_give_no_warning(tmp_path: Path) -> None:
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3), keras.layers.BatchNormalization()])

    class Plain(keras.Model, KerasModelHubMixin):  # type: ignore[misc]
        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.body = model

        def call(self, x: Any) -> Any:
            return self.body(x)

    plain = Plain()
    plain(np.ones((2, 4), "float32"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        plain.save_pretrained(tmp_path / "plain")


class DomainLookup(keras.layers.StringLookup):  # type: ignore[misc]  # (a user's subclass of a Keras lookup)
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(vocabulary=["a", "b"], idf_weights=[0.5, 1.5], output_mode="tf_idf", **kwargs)


class Tagger(keras.Model, KerasModelHubMixin):  # type: ignore[misc]
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.lookup = DomainLookup()
        self.dense = keras.layers.Dense(2)

    def call(self, x: Any) -> Any:
        return self.dense(self.lookup(x))


def test_a_user_subclass_of_a_keras_lookup_gives_no_warning(tmp_path: Path) -> None:
    # (reg23j #1 of round 23: its tf-idf weights are the lookup's own TensorFlow state)
    model = Tagger()
    model(np.array([["a", "b"]]))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.save_pretrained(tmp_path / "tagger")
