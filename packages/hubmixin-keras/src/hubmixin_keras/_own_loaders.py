"""Layers that derive state from their variables when Keras loads them, given the chance after a load.

Keras' ``load_weights`` hands each layer its values through ``load_own_variables``; a layer may override it to
compute more than its variables (an adapted ``Normalization`` makes its ``mean`` and ``variance`` there, by
``finalize_state``). ``from_pretrained`` gives variables their values directly, then calls such a layer's
``load_own_variables`` with what it holds, as Keras' ``save_own_variables`` writes it.
"""

from __future__ import annotations

from typing import Any

import keras
from keras.src.layers.convolutional.base_conv import BaseConv

from hubmixin_keras._walk import named_layers

__all__ = ["run_own_loaders"]

_ASSIGN_ONLY = frozenset(
    cls.load_own_variables
    for cls in (keras.Layer, keras.layers.Dense, keras.layers.EinsumDense, keras.layers.Embedding, BaseConv)
)
"""Keras' ``load_own_variables`` that only assign the variables (quantized and LoRA layouts): nothing to rerun."""


def run_own_loaders(model: keras.Layer) -> None:
    """Call ``load_own_variables`` of each built layer of ``model`` that overrides it, with its own values."""
    for path, layer in named_layers(model):
        if not layer.built or type(layer).load_own_variables in _ASSIGN_ONLY:
            continue
        store: dict[str, Any] = {}
        try:
            layer.save_own_variables(store)
            layer.load_own_variables(store)
        except Exception as error:
            error.add_note(f"hubmixin: raised by the load_own_variables of layer {path or type(model).__qualname__!r}")
            raise
