"""Keras' LoRA (``layer.enable_lora(rank)`` on ``Dense``, ``EinsumDense``, ``Embedding``) in checkpoints.

A checkpoint holds what the layer computes with: the base variable with the low-rank update merged in, as Keras'
own ``save_weights`` writes it, and no ``lora_*`` tensors, so any framework's model of the same shapes loads it.
Loading into a LoRA-enabled layer fills the base variable and zeroes the update's ``b`` factor (the layer then
computes with the loaded weights and stays trainable; Keras' ``load_weights`` zeroes both factors).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import keras
import numpy as np

from hubmixin_core.weights import dtype_name, is_floating

__all__ = ["lora_names", "merge_lora", "reset_lora"]


def _pairs(layer: Any, names: Mapping[str, Any]) -> dict[str, tuple[str, str]]:
    """``{base: (a, b)}``: each LoRA factor pair of ``layer`` by the variable it updates (``kernel``)."""
    if not getattr(layer, "lora_enabled", False):
        return {}
    found = {}
    for name in names:
        if name.startswith("lora_") and name.endswith("_a"):
            base, other = name[len("lora_") : -len("_a")], f"{name[:-2]}_b"
            if base in names and other in names:
                found[base] = (name, other)
    return found


def lora_names(layer: Any, names: Mapping[str, Any]) -> set[str]:
    """The names of ``layer``'s LoRA factors among ``names`` (none unless LoRA is enabled)."""
    return {factor for pair in _pairs(layer, names).values() for factor in pair}


def merge_lora(layer: Any, tensors: dict[str, np.ndarray[Any, Any]]) -> dict[str, np.ndarray[Any, Any]]:
    """``tensors`` (``layer``'s variables as arrays) with each LoRA update merged into its base and the factors left
    out. A quantized (integer) base keeps its factors apart: no float update can be merged into integer codes."""
    pairs = _pairs(layer, tensors)
    out = dict(tensors)
    for base, (a, b) in pairs.items():
        if not is_floating(dtype_name(tensors[base].dtype)):
            continue
        scale = layer.lora_alpha / layer.lora_rank
        update = scale * (tensors[a].astype(np.float32) @ tensors[b].astype(np.float32))
        out[base] = (tensors[base].astype(np.float32) + update).astype(tensors[base].dtype)
        del out[a], out[b]
    return out


def reset_lora(layer: Any, variables: Mapping[str, Any]) -> None:
    """Zero the ``b`` factor of each LoRA pair of ``layer``: its update is then zero, its base what was loaded."""
    for _, b in _pairs(layer, variables).values():
        variables[b].assign(keras.ops.zeros(variables[b].shape, variables[b].dtype))
