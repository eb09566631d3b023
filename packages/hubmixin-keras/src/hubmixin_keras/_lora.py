"""Keras' LoRA (``layer.enable_lora(rank)`` on ``Dense``, ``EinsumDense``, ``Embedding``) in checkpoints.

A checkpoint holds what the layer computes with: the base variable with the low-rank update merged in, as Keras'
own ``save_weights`` writes it, and no ``lora_*`` tensors, so any framework's model of the same shapes loads it.
Loading into a LoRA-enabled layer fills the base variable and zeroes the update's ``b`` factor (the layer then
computes with the loaded weights and stays trainable; Keras' ``load_weights`` zeroes both factors). The same holds
for the parts of a composite layer (``MultiHeadAttention``'s ``query``/``value`` projections, in its group as
``query.kernel``, ``query.lora_kernel_a``, ...).

A quantized (integer) base (QLoRA: ``quantize("int8")`` then ``enable_lora``) cannot take a float update: its
factors are saved apart (``fc.lora_kernel_a``, ``fc.lora_kernel_b``) and load back as saved; a file without them
(the quantized base model) loads as into a float base, ``b`` zeroed.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping
from typing import Any, NamedTuple

import keras
import numpy as np

from hubmixin_core.weights import dtype_name, is_floating
from hubmixin_keras._layout import parts_of

__all__ = ["lora_names", "merge_lora", "reset_lora"]


class _Pair(NamedTuple):
    """The LoRA factors updating one base variable, by their names in the group, and the layer they belong to."""

    a: str
    b: str
    owner: Any


def _owners(layer: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """``layer`` and, recursively, the parts of a composite one, with the prefix of their variables in the group."""
    yield prefix, layer
    for name, part in parts_of(layer).items():
        yield from _owners(part, f"{prefix}{name}.")


def _pairs(layer: Any, names: Mapping[str, Any]) -> dict[str, _Pair]:
    """Each LoRA factor pair in ``layer``'s group (``names``: its variables or arrays) by the variable it updates
    (``kernel``, ``query.kernel``), of ``layer`` and of the parts of a composite layer, where LoRA is enabled."""
    found = {}
    for prefix, owner in _owners(layer):
        if not getattr(owner, "lora_enabled", False):
            continue
        for name in names:
            local = name[len(prefix) :]
            if name.startswith(prefix) and "." not in local and local.startswith("lora_") and local.endswith("_a"):
                base, other = f"{prefix}{local[len('lora_') : -len('_a')]}", f"{name[:-2]}_b"
                if base in names and other in names:
                    found[base] = _Pair(name, other, owner)
    return found


def _integer(value: Any) -> bool:
    """Whether ``value`` (a variable or an array) is of an integer dtype: a quantized base."""
    return not is_floating(dtype_name(value.dtype))


def lora_names(layer: Any, variables: Mapping[str, Any], held: Collection[str]) -> set[str]:
    """The names of the LoRA factors of ``layer``'s group that a load leaves out: all but those of a quantized
    base that the file holds (``held``: the group's names among the file's tensors), which load as saved."""
    return {
        factor
        for base, pair in _pairs(layer, variables).items()
        if not (_integer(variables[base]) and (pair.a in held or pair.b in held))
        for factor in (pair.a, pair.b)
    }


def merge_lora(layer: Any, tensors: dict[str, np.ndarray[Any, Any]]) -> dict[str, np.ndarray[Any, Any]]:
    """``tensors`` (``layer``'s group as arrays) with each LoRA update merged into its base and the factors left
    out. A quantized (integer) base keeps its factors apart: no float update can be merged into integer codes."""
    out = dict(tensors)
    for base, (a, b, owner) in _pairs(layer, tensors).items():
        if _integer(tensors[base]):
            continue
        scale = owner.lora_alpha / owner.lora_rank
        update = scale * (tensors[a].astype(np.float32) @ tensors[b].astype(np.float32))
        out[base] = (tensors[base].astype(np.float32) + update).astype(tensors[base].dtype)
        del out[a], out[b]
    return out


def reset_lora(layer: Any, variables: Mapping[str, Any], loaded: Collection[str]) -> None:
    """Zero the ``b`` factor of each LoRA pair of ``layer``'s group not among the ``loaded`` names: its update is
    then zero, its base what was loaded."""
    for _, b, _ in _pairs(layer, variables).values():
        if b not in loaded:
            variables[b].assign(keras.ops.zeros(variables[b].shape, variables[b].dtype))
