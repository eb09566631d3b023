"""The settings of Keras layers that change results, in core's vocabulary (see ``hubmixin_core.weights``)."""

from __future__ import annotations

from typing import Any

import keras
from keras.src.layers.convolutional.base_conv_transpose import BaseConvTranspose

from hubmixin_core.weights import same_padding

__all__ = ["layer_settings"]

_NORMS = (
    keras.layers.LayerNormalization,
    keras.layers.BatchNormalization,
    keras.layers.GroupNormalization,
    keras.layers.RMSNormalization,
)
_CONVS = (
    keras.src.layers.convolutional.base_conv.BaseConv,
    keras.src.layers.convolutional.base_depthwise_conv.BaseDepthwiseConv,
)
_CONV_TRANSPOSE = keras.src.layers.convolutional.base_conv_transpose.BaseConvTranspose


def _padding(layer: Any) -> Any:
    kernel, stride, dilation = list(layer.kernel_size), list(layer.strides), list(layer.dilation_rate)
    if layer.padding == "valid":
        return [[0, 0] for _ in kernel]
    if layer.padding == "same" and all(s == 1 or k == 1 for s, k in zip(stride, kernel, strict=True)):
        return same_padding(kernel, dilation)
    if layer.padding == "causal":
        return [[d * (k - 1), 0] for k, d in zip(kernel, dilation, strict=True)]
    return str(layer.padding)


def layer_settings(layer: Any) -> dict[str, Any]:
    """``layer``'s own settings that change results (empty for a layer type without any)."""
    if isinstance(layer, BaseConvTranspose):
        return {"stride": list(layer.strides), "dilation": list(layer.dilation_rate)}
    if isinstance(layer, _CONVS):
        return {"stride": list(layer.strides), "dilation": list(layer.dilation_rate), "padding": _padding(layer)}
    if isinstance(layer, keras.layers.GroupNormalization):
        return {"eps": float(layer.epsilon), "groups": int(layer.groups)}
    if isinstance(layer, _NORMS):
        return {"eps": float(layer.epsilon)}
    if isinstance(layer, keras.layers.MultiHeadAttention):
        return {"heads": int(layer.num_heads)}
    return {}
