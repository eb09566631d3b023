"""The settings of NNX layers that change results, in core's vocabulary (see ``hubmixin_core.weights``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from flax import nnx

from hubmixin_core.weights import merged_settings, recurrent_settings, same_padding, transpose_crop

__all__ = ["layer_settings"]

_NORMS = (nnx.LayerNorm, nnx.BatchNorm, nnx.GroupNorm, nnx.RMSNorm)


def _per_dim(value: int | Sequence[int] | None, ndim: int) -> list[int]:
    if value is None:
        return [1] * ndim
    return [int(value)] * ndim if isinstance(value, int) else [int(v) for v in value]


def _padding(padding: Any, kernel: Sequence[int], stride: list[int], dilation: list[int]) -> Any:
    if isinstance(padding, str):
        mode = padding.lower()
        if mode == "valid":
            return [[0, 0] for _ in kernel]
        if mode == "same" and all(s == 1 or k == 1 for s, k in zip(stride, kernel, strict=True)):  # no input size
            return same_padding(kernel, dilation)
        if mode == "causal":
            return [[d * (k - 1), 0] for k, d in zip(kernel, dilation, strict=True)]
        if mode in ("circular", "reflect"):  # Flax pads these "same"-sized at any stride
            return {"mode": mode, "padding": same_padding(kernel, dilation)}
        return mode
    if isinstance(padding, int):
        return [[padding, padding] for _ in kernel]
    return [[int(p), int(p)] if isinstance(p, int) else [int(p[0]), int(p[1])] for p in padding]


def _lax_transpose_pads(padding: str, size: int, stride: int) -> tuple[int, int]:
    """``lax.conv_transpose``'s padding of one dimension for "SAME" or "VALID" (``size``: the dilated kernel)."""
    if padding == "SAME":
        total = size + stride - 2
        low = size - 1 if stride > size - 1 else -(-total // 2)
    else:
        total = size + stride - 2 + max(size - stride, 0)
        low = size - 1
    return low, total - low


def _transpose_crop(padding: Any, kernel: Sequence[int], stride: list[int], dilation: list[int]) -> Any:
    if isinstance(padding, str):
        mode = padding.upper()
        if mode not in ("SAME", "VALID"):
            return mode.lower()
        sizes = [d * (k - 1) + 1 for k, d in zip(kernel, dilation, strict=True)]
        pads = [_lax_transpose_pads(mode, n, s) for n, s in zip(sizes, stride, strict=True)]
    elif isinstance(padding, int):
        pads = [(padding, padding) for _ in kernel]
    else:
        pads = [(p, p) if isinstance(p, int) else (p[0], p[1]) for p in padding]
    return transpose_crop(kernel, dilation, pads)


def _recurrent(layer: Any) -> dict[str, Any]:
    cell = getattr(layer, "cell", None)
    if isinstance(cell, nnx.LSTMCell | nnx.OptimizedLSTMCell | nnx.GRUCell):
        return recurrent_settings(cell.activation_fn, cell.gate_fn)
    if isinstance(cell, nnx.SimpleCell):
        return recurrent_settings(cell.activation_fn)
    return {}


def layer_settings(layer: Any) -> dict[str, Any]:
    """``layer``'s own settings that change results (empty for a layer type without any)."""
    if isinstance(layer, nnx.Conv | nnx.ConvTranspose):
        kernel = tuple(layer.kernel_size)
        stride, dilation = _per_dim(layer.strides, len(kernel)), _per_dim(layer.kernel_dilation, len(kernel))
        if isinstance(layer, nnx.ConvTranspose):
            return {
                "stride": stride,
                "dilation": dilation,
                "crop": _transpose_crop(layer.padding, kernel, stride, dilation),
            }
        padding = _padding(layer.padding, kernel, stride, dilation)
        return {"stride": stride, "dilation": dilation, "padding": padding, "groups": int(layer.feature_group_count)}
    if isinstance(layer, nnx.GroupNorm):
        return {"eps": float(layer.epsilon), "groups": int(layer.num_groups)}
    if isinstance(layer, _NORMS):
        return {"eps": float(layer.epsilon)}
    if isinstance(layer, nnx.MultiHeadAttention):
        return {"heads": int(layer.num_heads)}
    if isinstance(layer, nnx.RNN):
        return _recurrent(layer)
    if isinstance(layer, nnx.Bidirectional):  # torch's bidirectional=True: one setting for both directions
        return merged_settings([_recurrent(layer.forward_rnn), _recurrent(layer.backward_rnn)])
    return {}
