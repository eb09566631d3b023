"""Layer state that is no Keras variable, which a checkpoint cannot hold: named by ``save_pretrained``'s warning.

Keras keeps an adapted lookup's vocabulary (``StringLookup``, ``IntegerLookup``, ``TextVectorization``) in a
TensorFlow table, saved as an asset by its own ``model.save``; a ``Discretization``'s adapted ``bin_boundaries``
in the layer's config; any layer with ``save_assets`` (a keras-hub tokenizer) in files beside the model; a layer
of one's own whose ``save_own_variables`` stores more than its variables (a table it keeps as an array), in Keras'
weights file. None of it is a variable, and config.json holds the model's ``__init__`` arguments only.
"""

from __future__ import annotations

from typing import Any

import keras
from keras.src.layers.preprocessing.index_lookup import IndexLookup

from hubmixin_keras._walk import named_layers

__all__ = ["unsaved_state"]


def unsaved_state(model: keras.Layer) -> list[str]:
    """The walked layers of ``model`` holding such state, each as ``'path' (what)``; the layers below one named
    (a ``TextVectorization``'s lookup) are not named again."""
    found: list[str] = []
    named: list[str] = []
    for path, layer in named_layers(model):
        if any(path.startswith(f"{above}.") or not above for above in named):
            continue
        what = _state_of(layer)
        if what is not None:
            found.append(f"{path or '(the model)'!r} ({type(layer).__name__}: {what})")
            named.append(path)
    return found


def _state_of(layer: keras.Layer) -> str | None:
    """What state of ``layer`` is no variable and not given by its construction, if any."""
    if isinstance(layer, keras.layers.TextVectorization):
        lookup = getattr(layer, "_lookup_layer", None)
        return "its vocabulary" if isinstance(lookup, IndexLookup) and _adapted_lookup(lookup) else None
    if isinstance(layer, IndexLookup):
        return "its vocabulary" if _adapted_lookup(layer) else None
    if isinstance(layer, keras.layers.Discretization):  # adapt() fills bin_boundaries; with them given, no num_bins
        adapted = layer.num_bins is not None and layer.bin_boundaries is not None
        return "its bin_boundaries" if adapted else None
    if callable(getattr(layer, "save_assets", None)):
        return "its assets"
    if layer.built and _stores_more_than_variables(layer):
        return "what its own save_own_variables stores"
    return None


def _stores_more_than_variables(layer: keras.Layer) -> bool:
    """Whether ``layer``'s class, not Keras' own (whose overrides store the variables, in the quantized or
    merged-LoRA layout Keras reads back), overrides ``save_own_variables`` to store more entries than the layer
    has variables of its own (those Keras' own ``save_own_variables`` stores: not its sub-layers' nor its seed
    state). (Counted, not compared: a store of its variables in another dtype or layout is no extra state, and
    reading a sharded variable's values would leave a host copy cached on it.)"""
    owner = next(cls for cls in type(layer).__mro__ if "save_own_variables" in vars(cls))
    if owner.__module__.split(".")[0] == "keras":
        return False
    store: dict[str, Any] = {}
    try:
        layer.save_own_variables(store)
    except Exception:  # (Keras' own saving would fail too: not this warning's concern)
        return False
    own = getattr(layer, "_trainable_variables", []) + getattr(layer, "_non_trainable_variables", [])
    return len(store) > len(own)


def _adapted_lookup(layer: IndexLookup) -> bool:
    """Whether a lookup holds a vocabulary it was not constructed with (by ``adapt`` or ``set_vocabulary``)."""
    if layer.input_vocabulary is not None:  # given to __init__: built again from the model's arguments
        return False
    try:
        return bool(layer.get_vocabulary(include_special_tokens=False))
    except Exception:  # a table Keras cannot read back here: its vocabulary may be lost all the same
        return True
