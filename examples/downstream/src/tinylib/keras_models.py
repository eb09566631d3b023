"""A Keras 3 model integrated through ``KerasModelHubMixin``: the twin of :class:`tinylib.TinyClassifier`.

Its layers carry the torch model's names (``body``, ``head``), so either one loads the other's checkpoint, on
any Keras backend. Keras ships no type information, hence the ``type: ignore`` on the class line under
``mypy --strict``.
"""

from __future__ import annotations

from typing import Any

import keras

from hubmixin_keras import KerasModelHubMixin


class TinyKerasClassifier(
    keras.Model,  # type: ignore[misc]
    KerasModelHubMixin,
    library_name="tinylib",
    tags=["classification"],
    repo_url="https://example.org/tinylib",
):
    """A two-layer perceptron."""

    def __init__(self, features: int, classes: int, hidden: int = 16, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.features = features
        self.body = keras.layers.Dense(hidden, activation="relu")
        self.head = keras.layers.Dense(classes)

    def call(self, x: Any) -> Any:
        """Class logits for a batch of feature vectors."""
        return self.head(self.body(x))
