"""The memory order of a loaded variable's tensor on the PyTorch backend: the one its initializer gives.

Keras' ``Orthogonal`` initializer returns a tensor that is not row-major on torch (QR's factor is column-major),
so a freshly built ``SimpleRNN`` or ``Dense(kernel_initializer="orthogonal")`` holds such a kernel, and torch's
matmul and convolution take another path for it than for a row-major one: outputs differ by float rounding.
A loaded variable gets the same values in the order its initializer would have given it, so the outputs of the
loaded model are those of the saved one, bit for bit. The order is found by running the initializer on the
``meta`` device (no data, no random draws): nothing is computed, and the variable's own initializer never runs.
"""

from __future__ import annotations

from typing import Any

import keras

__all__ = ["in_initial_order"]


def in_initial_order(variable: Any, tensor: Any) -> Any:
    """``tensor`` (the value of the deferred ``variable``) in the memory order its initializer gives, where that
    is not row-major (torch backend, ``Orthogonal`` initializer); else ``tensor`` itself."""
    initializer = getattr(variable, "_initializer", None)
    if keras.backend.backend() != "torch" or not isinstance(initializer, keras.initializers.Orthogonal):
        return tensor
    import torch

    try:
        with keras.device("meta"):  # a fixed seed: the order depends on the shape only, nothing else is drawn
            order = keras.initializers.Orthogonal(seed=0)(tuple(tensor.shape), dtype="float32")
    except Exception:  # (an older or newer torch without a meta QR: the values are the same, in row-major order)
        return tensor
    if tuple(order.shape) != tuple(tensor.shape) or order.is_contiguous():
        return tensor
    laid = torch.empty_strided(tensor.shape, order.stride(), dtype=tensor.dtype, device=tensor.device)
    return laid.copy_(tensor)
