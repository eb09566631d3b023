"""The layout adapters of Keras layers, and the input shape each is built with from a checkpoint.

Register an adapter for a custom layer with ``LAYOUTS.register(MyLayer, adapter)``; give an adapter an
``input_shape(layer, canonical)`` method (see :class:`KerasAdapter`) if the layer must be built from the
checkpoint's shapes. An adapter with a ``parts(layer)`` method (see
:class:`~hubmixin_keras._adapters.CompositeAdapter`) maps its sub-layers' variables too: see :func:`parts_of`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import keras

from hubmixin_core.weights import ConvAdapter, LayoutRegistry, MappedAdapter, TensorInfo, TensorRule
from hubmixin_keras._adapters import (
    AttentionAdapter,
    BidirectionalAdapter,
    ConvTransposeAdapter,
    DepthwiseConvAdapter,
    GRUCellAdapter,
    LSTMCellAdapter,
    RNNAdapter,
    SeparableConvAdapter,
    SimpleRNNCellAdapter,
    StackedCellsAdapter,
    builds_from_shapes_by,
    input_shape_by,
    ranked,
    shape_keys_by,
)

__all__ = [
    "LAYOUTS",
    "InputShape",
    "KerasAdapter",
    "KerasConvAdapter",
    "ShapeKeys",
    "builds_from_shapes",
    "input_shape_of",
    "least_rank",
    "parts_of",
    "shape_keys_of",
]

InputShape = Callable[[Any, Mapping[str, TensorInfo]], tuple[int | None, ...] | None]
"""``(layer, canonical tensors of the layer) -> the input shape to build it with`` (``None``: cannot tell)."""

ShapeKeys = Callable[[Any], Sequence[str]]
"""``layer -> the canonical keys (relative to the layer) it holds that give its input shape`` (empty: it holds
no tensors, and needs none to be built)."""


class KerasAdapter(MappedAdapter):
    """A :class:`MappedAdapter` that also knows the input shape a layer is built with, from its canonical tensors."""

    def __init__(
        self,
        *rules: TensorRule,
        input_shape: InputShape | None = None,
        shape_keys: ShapeKeys | None = None,
        ignored: Sequence[str] = (),
    ) -> None:
        super().__init__(*rules, ignored=ignored)
        self._input_shape = input_shape
        self._shape_keys = shape_keys

    def input_shape(self, layer: Any, canonical: Mapping[str, TensorInfo]) -> tuple[int | None, ...] | None:
        """The shape to call ``layer.build`` with, or ``None``."""
        return None if self._input_shape is None else self._input_shape(layer, canonical)

    def shape_keys(self, layer: Any) -> tuple[str, ...] | None:
        """The canonical keys ``layer`` holds that give its input shape (``()``: none, it holds no tensors;
        ``None``: not known). A strict load names them when the checkpoint has none."""
        return None if self._shape_keys is None else tuple(self._shape_keys(layer))


class KerasConvAdapter(ConvAdapter):
    """``Conv1D``/``Conv2D``/``Conv3D``: the channels-last kernel, built for ``in = weight.shape[1] * groups``."""

    def input_shape(self, layer: Any, canonical: Mapping[str, TensorInfo]) -> tuple[int | None, ...] | None:
        kernel_size = getattr(layer, "kernel_size", None)
        weight = ranked(canonical, "weight", len(kernel_size) + 2 if kernel_size else range(3, 6))
        if weight is None:
            return None
        channels = weight.shape[1] * int(getattr(layer, "groups", 1))
        spatial: tuple[None, ...] = (None,) * (len(weight.shape) - 2)
        if getattr(layer, "data_format", "channels_last") == "channels_first":
            return (None, channels, *spatial)
        return (None, *spatial, channels)

    def shape_keys(self, layer: Any) -> tuple[str, ...] | None:
        return ("weight",)


def _keys(*names: str) -> ShapeKeys:
    """The same ``names`` for every layer."""
    return lambda layer: names


def _first(canonical: Mapping[str, TensorInfo], names: Sequence[str], rank: int) -> TensorInfo | None:
    """The first of ``names`` in ``canonical`` (``None`` if none is), checked to have ``rank`` dimensions."""
    for name in names:
        info = ranked(canonical, name, rank)
        if info is not None:
            return info
    return None


def _features(names: Sequence[str], axis: int, rank: int) -> InputShape:
    """Build with ``(None, n)``: ``n`` is dimension ``axis`` of the first of canonical tensors ``names`` (of
    ``rank`` dims) the checkpoint holds (for a layer that works on the last axis of inputs of any rank)."""

    def shape(layer: Any, canonical: Mapping[str, TensorInfo]) -> tuple[int | None, ...] | None:
        info = _first(canonical, names, rank)
        return None if info is None else (None, info.shape[axis])

    return shape


def least_rank(axis: int | Sequence[int]) -> int | None:
    """The smallest rank of an input where each of ``axis`` (one axis or several) is an axis of its own and none
    is the batch axis (``3``: 4; ``-2``: 3; ``[-2, -1]``: 3); ``None`` if there is none."""
    axes = list(axis) if isinstance(axis, Sequence) else [axis]
    for rank in range(len(axes) + 1, len(axes) + 2 + max(abs(a) for a in axes)):
        positions = {a % rank for a in axes if -rank <= a < rank}
        if len(positions) == len(axes) and 0 not in positions:
            return rank
    return None


def _normalized(names: Sequence[str]) -> InputShape:
    """Build a layer normalising over ``layer.axis`` (one axis or several) from the first of canonical tensors
    ``names`` the checkpoint holds (``weight``, ``bias``, a batch norm's statistics: same shape).

    Keras gives the scale the sizes of the normalised axes, in sorted order (``LayerNormalization(axis=[-2, -1])``
    holds a ``(rows, cols)`` gamma, as torch's ``LayerNorm((rows, cols))`` does): the input is built with those
    sizes on those axes, of the :func:`least_rank` of the axes (``BatchNormalization(axis=3)``: ``(None, None,
    None, C)``; the loader then lets it take inputs of any rank that has its axis).
    """

    def shape(layer: Any, canonical: Mapping[str, TensorInfo]) -> tuple[int | None, ...] | None:
        axes = sorted(layer.axis) if isinstance(layer.axis, list | tuple) else [layer.axis]
        info = _first(canonical, names, len(axes))
        rank = least_rank(axes)
        if info is None or rank is None:
            return None
        built: list[int | None] = [None] * rank
        for axis, size in zip(axes, info.shape, strict=True):
            built[axis % rank] = size
        return tuple(built)

    return shape


def _ids(layer: Any, canonical: Mapping[str, TensorInfo]) -> tuple[int | None, ...] | None:
    """An ``Embedding`` builds from nothing but its own sizes; it is built for a batch of id sequences, the shape
    Keras records and ``model.summary()`` shows (built for ``None``, the summary failed before any call)."""
    return (None, None)


def input_shape_of(layer: Any, canonical: Mapping[str, TensorInfo]) -> tuple[int | None, ...] | None:
    """The input shape ``layer``'s registered adapter builds it with, or ``None`` if it cannot tell."""
    return input_shape_by(LAYOUTS.find, layer, canonical)


def builds_from_shapes(layer: Any) -> bool:
    """Whether ``layer``'s adapter can build it from the checkpoint's shapes (see :func:`builds_from_shapes_by`)."""
    return builds_from_shapes_by(LAYOUTS.find, layer)


def shape_keys_of(layer: Any) -> tuple[str, ...] | None:
    """The canonical keys ``layer``'s adapter builds it from (``()``: it holds no tensors; ``None``: not known)."""
    return shape_keys_by(LAYOUTS.find, layer)


def parts_of(layer: Any) -> dict[str, Any]:
    """The sub-layers whose variables ``layer``'s adapter maps with its own, by name prefix (``{}`` for most).

    The walk names their variables ``<prefix>.<name>`` (``cell.kernel``) in ``layer``'s group, and does not
    visit them as layers of their own.
    """
    method = getattr(LAYOUTS.find(layer), "parts", None)
    return {} if method is None else dict(method(layer))


_GAMMA_BETA = (TensorRule("gamma", "weight"), TensorRule("beta", "bias"))
_AFFINE = ("weight", "bias")
_NORM = (*_AFFINE, "running_mean", "running_var")


def _affine(layer: Any) -> tuple[str, ...]:
    """The canonical tensors of a normalization layer's ``gamma`` and ``beta``, those its settings create."""
    rms = bool(getattr(layer, "rms_scaling", False))  # LayerNormalization's: a gamma, never a beta
    scale = bool(layer.scale) or rms
    center = bool(layer.center) and not rms
    return (*(("weight",) if scale else ()), *(("bias",) if center else ()))


def _batch_norm(layer: Any) -> tuple[str, ...]:
    return (*_affine(layer), "running_mean", "running_var")


LAYOUTS = LayoutRegistry("hubmixin_keras")
"""The layout adapters of ``hubmixin_keras``, by Keras layer type."""
LAYOUTS.register(
    keras.layers.Dense,
    KerasAdapter(
        TensorRule("kernel", "weight", (1, 0)), input_shape=_features(("weight",), 1, 2), shape_keys=_keys("weight")
    ),
)
for _conv in (keras.layers.Conv1D, keras.layers.Conv2D, keras.layers.Conv3D):
    LAYOUTS.register(_conv, KerasConvAdapter())
LAYOUTS.register(keras.layers.Embedding, KerasAdapter(TensorRule("embeddings", "weight"), input_shape=_ids))
LAYOUTS.register(
    keras.layers.LayerNormalization,
    KerasAdapter(*_GAMMA_BETA, input_shape=_normalized(_AFFINE), shape_keys=_affine),
)
LAYOUTS.register(
    keras.layers.GroupNormalization,
    KerasAdapter(*_GAMMA_BETA, input_shape=_normalized(_AFFINE), shape_keys=_affine),
)
LAYOUTS.register(
    keras.layers.BatchNormalization,
    KerasAdapter(
        *_GAMMA_BETA,
        TensorRule("moving_mean", "running_mean"),
        TensorRule("moving_variance", "running_var"),
        input_shape=_normalized(_NORM),
        shape_keys=_batch_norm,
        ignored=("num_batches_tracked",),
    ),
)
LAYOUTS.register(
    keras.layers.RMSNormalization,
    KerasAdapter(TensorRule("scale", "weight"), input_shape=_normalized(("weight",)), shape_keys=_keys("weight")),
)
for _transpose in (keras.layers.Conv1DTranspose, keras.layers.Conv2DTranspose, keras.layers.Conv3DTranspose):
    LAYOUTS.register(_transpose, ConvTransposeAdapter())
for _depthwise in (keras.layers.DepthwiseConv1D, keras.layers.DepthwiseConv2D):
    LAYOUTS.register(_depthwise, DepthwiseConvAdapter())
for _separable in (keras.layers.SeparableConv1D, keras.layers.SeparableConv2D):
    LAYOUTS.register(_separable, SeparableConvAdapter())
LAYOUTS.register(keras.layers.MultiHeadAttention, AttentionAdapter())
LAYOUTS.register(keras.layers.LSTMCell, LSTMCellAdapter())
LAYOUTS.register(keras.layers.GRUCell, GRUCellAdapter())
LAYOUTS.register(keras.layers.SimpleRNNCell, SimpleRNNCellAdapter())
LAYOUTS.register(keras.layers.StackedRNNCells, StackedCellsAdapter(LAYOUTS.find))
LAYOUTS.register(keras.layers.RNN, RNNAdapter(LAYOUTS.find))
LAYOUTS.register(keras.layers.Bidirectional, BidirectionalAdapter(LAYOUTS.find))
