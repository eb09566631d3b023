"""Construction without weights: a Keras model built from a checkpoint's shapes, its variables left uninitialised.

The model is constructed and its layers built inside ``keras.StatelessScope(initialize_variables=False)``: Keras
then defers every variable's initialisation (nothing random is drawn, nothing allocated). The loader gives each
variable its value from the checkpoint; :func:`initialize_rest` runs the deferred initialisers of the others
(seed-generator state, weights the checkpoint lacks).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping
from typing import Any, TypeVar

import keras
import numpy as np
from keras.src.backend.common import global_state

from hubmixin_core.weights import TensorInfo
from hubmixin_keras._layout import input_shape_of
from hubmixin_keras._walk import named_layers

__all__ = ["assign", "construct_deferred", "initialize_rest"]

M = TypeVar("M")
_UNINITIALIZED = "uninitialized_variables"


@contextlib.contextmanager
def _dtype_policy(dtype: str | None) -> Iterator[None]:
    if dtype is None:
        yield
        return
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(dtype)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


def construct_deferred(factory: Callable[[], M], infos: Mapping[str, TensorInfo], dtype: str | None = None) -> M:
    """``factory()`` with its layers built from the checkpoint's shapes (``infos``), every variable deferred."""
    with _dtype_policy(dtype), keras.StatelessScope(initialize_variables=False):
        model = factory()
        layers = named_layers(model)
        for path, layer in reversed(layers):  # leaves first
            if layer.built:
                continue
            prefix = f"{path}." if path else ""
            canonical = {k[len(prefix) :]: v for k, v in infos.items() if k.startswith(prefix)}
            shape = input_shape_of(layer, canonical)
            if shape is not None:
                layer.build(shape if shape else None)
        for _, layer in layers:
            if not layer.built and any(sub.built for _, sub in named_layers(layer)[1:]):
                layer.built = True  # a container whose sub-layers are built
    return model


def assign(variable: Any, value: np.ndarray[Any, Any]) -> None:
    """Give a deferred (or initialised) variable its value, without running its initialiser."""
    tensor = variable._convert_to_tensor(value, dtype=variable.dtype)
    if variable._value is None:
        variable._initialize(tensor)
    else:
        variable.assign(tensor)


def initialize_rest(model: keras.Layer) -> None:
    """Initialise the model's variables still deferred, and drop them all from Keras' pending list."""
    for variable in model.variables:
        if getattr(variable, "_value", True) is None:
            variable._deferred_initialize()
    for layer in model._flatten_layers():
        for generator in getattr(layer, "_seed_generators", []):
            state = generator.state
            if getattr(state, "_value", True) is None:
                state._deferred_initialize()
    pending = global_state.get_global_attribute(_UNINITIALIZED) or []
    global_state.set_global_attribute(_UNINITIALIZED, [v for v in pending if v._value is None])
