"""The settings of Keras layers that change results, in core's vocabulary (see ``hubmixin_core.weights``)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import keras
from keras.src.backend.common.backend_utils import _convert_conv_transpose_padding_args_from_keras_to_jax
from keras.src.layers.convolutional.base_conv_transpose import BaseConvTranspose

from hubmixin_core.weights import Settings, merged_settings, recurrent_settings, same_padding, transpose_crop
from hubmixin_core.weights._settings import direction_settings, gelu_settings
from hubmixin_keras._walk import named_layers

__all__ = ["layer_settings", "model_settings"]

_NORMS = (
    keras.layers.LayerNormalization,
    keras.layers.BatchNormalization,
    keras.layers.GroupNormalization,
    keras.layers.RMSNormalization,
)
_KINDS = (
    (keras.layers.LayerNormalization, "layer"),
    (keras.layers.RMSNormalization, "rms"),
    (keras.layers.GroupNormalization, "group"),
)
"""What each norm computes (``norm``); batch norms record none."""
_CONVS = (
    keras.src.layers.convolutional.base_conv.BaseConv,
    keras.src.layers.convolutional.base_depthwise_conv.BaseDepthwiseConv,
)
_CONV_TRANSPOSE = keras.src.layers.convolutional.base_conv_transpose.BaseConvTranspose
_SEPARABLE = keras.src.layers.convolutional.base_separable_conv.BaseSeparableConv


def _padding(layer: Any) -> Any:
    kernel, stride, dilation = list(layer.kernel_size), list(layer.strides), list(layer.dilation_rate)
    if layer.padding == "valid":
        return [[0, 0] for _ in kernel]
    if layer.padding == "same" and all(s == 1 or k == 1 for s, k in zip(stride, kernel, strict=True)):
        return same_padding(kernel, dilation)
    if layer.padding == "causal":
        return [[d * (k - 1), 0] for k, d in zip(kernel, dilation, strict=True)]
    return str(layer.padding)


def _transpose_crop(layer: Any) -> list[list[int]]:
    """Keras' own semantics of ``padding`` and ``output_padding``: its JAX backend's (TensorFlow's) padding."""
    kernel, stride, dilation = list(layer.kernel_size), list(layer.strides), list(layer.dilation_rate)
    extra = layer.output_padding if layer.output_padding is not None else [None] * len(kernel)
    pads = [
        _convert_conv_transpose_padding_args_from_keras_to_jax(k, s, d, layer.padding, e)
        for k, s, d, e in zip(kernel, stride, dilation, extra, strict=True)
    ]
    return transpose_crop(kernel, dilation, pads)


def _recurrent(cell: Any) -> dict[str, Any]:
    if isinstance(cell, keras.layers.LSTMCell | keras.layers.GRUCell):
        return recurrent_settings(cell.activation, cell.recurrent_activation)
    if isinstance(cell, keras.layers.SimpleRNNCell):  # never residual (Flax's SimpleCell may be)
        return {**recurrent_settings(cell.activation), "residual": False}
    if isinstance(cell, keras.layers.StackedRNNCells):  # torch's nn.LSTM(num_layers=N): one setting for all
        return merged_settings([_recurrent(inner) for inner in cell.cells])
    return {}


def _embedding(layer: Any) -> dict[str, Any]:
    """An embedding's options that neither PyTorch's nor Flax's has, each left out at its default: ``mask_zero``
    and a ``ReversibleEmbedding``'s ``logit_soft_cap`` (keras_hub's too)."""
    found: dict[str, Any] = {"mask_zero": True} if layer.mask_zero else {}
    cap = getattr(layer, "logit_soft_cap", None)
    if cap is not None:
        found["logit_soft_cap"] = float(cap)
    return found


def layer_settings(layer: Any) -> dict[str, Any]:
    """``layer``'s own settings that change results (empty for a layer type without any)."""
    if isinstance(layer, BaseConvTranspose):
        return {"stride": list(layer.strides), "dilation": list(layer.dilation_rate), "crop": _transpose_crop(layer)}
    if isinstance(layer, _CONVS):
        found = {"stride": list(layer.strides), "dilation": list(layer.dilation_rate), "padding": _padding(layer)}
        if isinstance(getattr(layer, "groups", None), int):  # depthwise convolutions have none (one per channel)
            found["groups"] = layer.groups
        return found
    if isinstance(layer, _NORMS):
        return _norm(layer)
    if isinstance(layer, keras.layers.MultiHeadAttention):
        return {"heads": int(layer.num_heads)}
    if isinstance(layer, keras.layers.RNN):
        return {**_recurrent(layer.cell), **direction_settings(bool(layer.go_backwards))}
    if isinstance(layer, keras.layers.Bidirectional):  # torch's bidirectional=True: one setting for both
        rnns = (layer.forward_layer, layer.backward_layer)
        both = merged_settings([_recurrent(getattr(rnn, "cell", None)) for rnn in rnns])
        return {**both, **direction_settings(bool(layer.forward_layer.go_backwards), layer.merge_mode)}
    if isinstance(layer, keras.layers.Embedding):
        return _embedding(layer)
    if isinstance(layer, keras.layers.Activation):  # weightless: see model_settings
        return gelu_settings(layer.activation)
    return {}


def _norm(layer: Any) -> dict[str, Any]:
    """A norm layer's settings: its epsilon, groups, and what it computes (``rms_scaling``: neither a layer nor an
    RMS norm, see ``norm`` in ``hubmixin_core.weights.SETTING_NAMES``)."""
    found: dict[str, Any] = {"eps": float(layer.epsilon)}
    kind = next((kind for cls, kind in _KINDS if isinstance(layer, cls)), None)
    if kind is not None:
        found["norm"] = "rms_scaling" if kind == "layer" and layer.rms_scaling else kind
    if isinstance(layer, keras.layers.GroupNormalization):
        found["groups"] = int(layer.groups)
    return found


def _separable(layer: Any) -> dict[str, dict[str, Any]]:
    """A separable convolution's settings as those of the two torch convolutions it is saved as (see
    ``SeparableConvAdapter``), by their names below its path: no groups, as for a depthwise convolution."""
    ones = [1] * len(layer.kernel_size)
    return {
        "depthwise": {"stride": list(layer.strides), "dilation": list(layer.dilation_rate), "padding": _padding(layer)},
        "pointwise": {"stride": ones, "dilation": ones, "padding": [[0, 0] for _ in ones], "groups": 1},
    }


def model_settings(layers: Iterable[tuple[str, Any]], model: keras.Layer | None = None) -> Settings:
    """The settings of ``(path, layer)`` pairs by path; a separable convolution's under ``<path>.depthwise`` and
    ``<path>.pointwise``, where torch's port records them. Layers without settings are kept (empty), so a setting
    a Keras layer never has (``add_zero_attn``, ``max_norm``) is compared as its default; a file leaves them out.
    Given the ``model``, its GELU ``Activation`` layers are added too, which hold no weights (the pairs' layers
    do), so that a PyTorch port's ``nn.GELU`` at the same path is compared with them."""
    found: Settings = {}
    for path, layer in layers:
        parts = _separable(layer) if isinstance(layer, _SEPARABLE) else {"": layer_settings(layer)}
        found.update((".".join(name for name in (path, part) if name), values) for part, values in parts.items())
    for path, layer in named_layers(model) if model is not None else ():
        values = layer_settings(layer) if isinstance(layer, keras.layers.Activation) else {}
        if values:
            found.setdefault(path, values)
    return found
