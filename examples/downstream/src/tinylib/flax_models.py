"""A Flax NNX model integrated through ``FlaxModelHubMixin``: the twin of :class:`tinylib.TinyClassifier`.

Its layers carry the torch model's names (``body``, ``head``), so either one loads the other's checkpoint.

Example:
    >>> from flax import nnx
    >>> from tinylib.flax_models import TinyFlaxClassifier
    >>> TinyFlaxClassifier(features=4, classes=2, rngs=nnx.Rngs(0))._hub_mixin_config
    {'features': 4, 'classes': 2, 'hidden': 16}
"""

from __future__ import annotations

import jax
from flax import nnx

from hubmixin_flax import FlaxModelHubMixin


class TinyFlaxClassifier(
    nnx.Module,
    FlaxModelHubMixin,
    library_name="tinylib",
    tags=["classification"],
    repo_url="https://example.org/tinylib",
):
    """A two-layer perceptron."""

    def __init__(self, features: int, classes: int, hidden: int = 16, *, rngs: nnx.Rngs) -> None:
        self.body = nnx.Linear(features, hidden, rngs=rngs)
        self.head = nnx.Linear(hidden, classes, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        """Class logits for a batch of feature vectors."""
        logits: jax.Array = self.head(nnx.relu(self.body(x)))
        return logits
