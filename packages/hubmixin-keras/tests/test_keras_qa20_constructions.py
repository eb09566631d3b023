"""A model constructed again with every variable initialised (one making a variable from a value) gets its
arguments as the caller gave them: an ``__init__`` that consumes them (``cfg.pop("width")``) loads."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import keras
import numpy as np

from hubmixin_keras import KerasModelHubMixin

X = np.random.default_rng(0).normal(size=(2, 3)).astype(np.float32)


def _numpy(value: Any) -> np.ndarray[Any, Any]:
    return np.asarray(keras.ops.convert_to_numpy(value))


class Consuming(keras.Model, KerasModelHubMixin):  # type: ignore[misc]
    """Pops its width, and makes a variable from a value (which Keras refuses to defer)."""

    def __init__(self, cfg: dict[str, Any], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.fc = keras.layers.Dense(cfg.pop("width"))
        self.scale = keras.Variable(np.full((1,), 2.0, np.float32), trainable=False)

    def call(self, x: Any) -> Any:
        return self.fc(x) * self.scale


class Keeping(Consuming):
    """Leaves the caller's dict as it is, and notes which dict each construction got (Keras copies a dict set as
    an attribute)."""

    given: ClassVar[list[int]] = []

    def __init__(self, cfg: dict[str, Any], **kwargs: Any) -> None:
        Keeping.given.append(id(cfg))
        super().__init__(dict(cfg), **kwargs)


def test_a_consuming_init_constructed_again_loads(tmp_path: Path) -> None:
    model = Consuming({"width": 4})
    model(X)
    model.save_pretrained(tmp_path)
    loaded = Consuming.from_pretrained(tmp_path)
    np.testing.assert_array_equal(_numpy(loaded(X)), _numpy(model(X)))


def test_arguments_left_unchanged_reach_the_second_construction_as_they_are(tmp_path: Path) -> None:
    """A guard: the model built again holds the caller's own object."""
    model = Keeping({"width": 4})
    model(X)
    model.save_pretrained(tmp_path)
    given = {"width": 4}
    Keeping.given.clear()
    Keeping.from_pretrained(tmp_path, model_kwargs={"cfg": given})
    assert Keeping.given == [id(given), id(given)]  # the deferred attempt, then the construction kept
