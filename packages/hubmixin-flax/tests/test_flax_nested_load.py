"""A model loading a pretrained part of itself in ``__init__`` (a backbone's ``from_pretrained``)."""

from __future__ import annotations

from pathlib import Path

import jax.numpy as jnp
import numpy as np
from flax import nnx

from hubmixin_flax import FlaxModelHubMixin


class Backbone(nnx.Module, FlaxModelHubMixin):
    def __init__(self, dim: int = 8, *, rngs: nnx.Rngs) -> None:
        self.linear = nnx.Linear(dim, dim, rngs=rngs)


class Classifier(nnx.Module, FlaxModelHubMixin):
    def __init__(self, backbone: str, classes: int = 3, *, rngs: nnx.Rngs) -> None:
        self.backbone = Backbone.from_pretrained(backbone)
        self.head = nnx.Linear(8, classes, rngs=rngs)

    def __call__(self, x: jnp.ndarray) -> jnp.ndarray:
        out: jnp.ndarray = self.head(nnx.relu(self.backbone.linear(x)))
        return out


def test_a_load_in_init_loads_with_the_outer_checkpoints_weights(tmp_path: Path) -> None:
    Backbone(rngs=nnx.Rngs(0)).save_pretrained(tmp_path / "backbone")
    model = Classifier(str(tmp_path / "backbone"), rngs=nnx.Rngs(1))
    bias = model.backbone.linear.bias
    assert bias is not None
    bias[...] = bias[...] + 1.0  # fine-tuned after loading
    model.save_pretrained(tmp_path / "classifier")
    loaded = Classifier.from_pretrained(tmp_path / "classifier")  # once: ValueError from inside the abstract build
    x = jnp.linspace(-1.0, 1.0, 16).reshape(2, 8)
    np.testing.assert_array_equal(np.asarray(loaded(x)), np.asarray(model(x)))
