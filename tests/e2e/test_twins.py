"""End to end: tinylib's torch, Flax and Keras classifiers share one repo on the local Hub.

A model pushed from one framework is loaded by the others with ``from_pretrained(repo_id)``: same config, and
the same logits (within float32 rounding) for the same inputs.
"""

from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "jax")  # Keras fixes its backend at import; any backend works here

import jax.numpy as jnp
import keras
import numpy as np
import torch
from flax import nnx
from numpy.typing import NDArray
from tinylib import TinyClassifier
from tinylib.flax_models import TinyFlaxClassifier
from tinylib.keras_models import TinyKerasClassifier

from hubmixin_core.testing import LocalHub

X = np.random.default_rng(0).standard_normal((5, 4)).astype(np.float32)


def _torch_logits(model: TinyClassifier) -> NDArray[np.float32]:
    with torch.no_grad():
        logits: NDArray[np.float32] = model(torch.from_numpy(X)).numpy()
    return logits


def test_torch_push_loads_in_flax_and_keras(local_hub: LocalHub) -> None:
    torch.manual_seed(0)
    model = TinyClassifier(features=4, classes=3, hidden=8)
    repo = f"{local_hub.username}/tiny-torch"
    model.push_to_hub(repo)
    expected = _torch_logits(model)
    flax_model = TinyFlaxClassifier.from_pretrained(repo)
    assert flax_model.head.out_features == 3
    np.testing.assert_allclose(np.asarray(flax_model(jnp.asarray(X))), expected, rtol=1e-5, atol=1e-6)
    keras_model = TinyKerasClassifier.from_pretrained(repo)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(keras_model(X)), expected, rtol=1e-5, atol=1e-6)


def test_flax_and_keras_pushes_load_in_torch(local_hub: LocalHub) -> None:
    flax_model = TinyFlaxClassifier(features=4, classes=2, hidden=6, rngs=nnx.Rngs(1))
    flax_model.push_to_hub(f"{local_hub.username}/tiny-flax")
    loaded = TinyClassifier.from_pretrained(f"{local_hub.username}/tiny-flax")
    assert (loaded.body.in_features, loaded.body.out_features) == (4, 6)
    np.testing.assert_allclose(_torch_logits(loaded), np.asarray(flax_model(jnp.asarray(X))), rtol=1e-5, atol=1e-6)

    keras_model = TinyKerasClassifier(features=4, classes=2, hidden=6)
    expected = keras.ops.convert_to_numpy(keras_model(X))  # called once: its layers are built
    keras_model.push_to_hub(f"{local_hub.username}/tiny-keras")
    loaded = TinyClassifier.from_pretrained(f"{local_hub.username}/tiny-keras")
    np.testing.assert_allclose(_torch_logits(loaded), expected, rtol=1e-5, atol=1e-6)
