"""The layout adapters of Flax NNX layers: their variables in the canonical (PyTorch) names and layouts.

Register an adapter for a custom layer with ``LAYOUTS.register(MyLayer, adapter)``. An adapter whose
``composite`` attribute is true (see :class:`~hubmixin_flax._adapters.CompositeAdapter`) maps the variables of
the layer's sub-modules too, named relative to the layer (``query.kernel``): see :func:`is_composite`.
"""

from __future__ import annotations

from typing import Any

from flax import nnx

from hubmixin_core.weights import ConvAdapter, LayoutRegistry, MappedAdapter, TensorRule
from hubmixin_flax._adapters import (
    AttentionAdapter,
    BidirectionalAdapter,
    ConvTransposeAdapter,
    GRUCellAdapter,
    LSTMCellAdapter,
    OptimizedLSTMCellAdapter,
    RNNAdapter,
    SimpleCellAdapter,
)

__all__ = ["LAYOUTS", "is_composite"]


_NORM = MappedAdapter(TensorRule("scale", "weight"))

LAYOUTS = LayoutRegistry("hubmixin_flax")
"""The layout adapters of ``hubmixin_flax``, by NNX layer type."""
LAYOUTS.register(nnx.Linear, MappedAdapter(TensorRule("kernel", "weight", (1, 0))))
LAYOUTS.register(nnx.Conv, ConvAdapter())
LAYOUTS.register(nnx.ConvTranspose, ConvTransposeAdapter())
LAYOUTS.register(nnx.Embed, MappedAdapter(TensorRule("embedding", "weight")))
LAYOUTS.register(nnx.LayerNorm, _NORM)
LAYOUTS.register(nnx.RMSNorm, _NORM)
LAYOUTS.register(nnx.GroupNorm, _NORM)
LAYOUTS.register(
    nnx.BatchNorm,
    MappedAdapter(
        TensorRule("scale", "weight"),
        TensorRule("mean", "running_mean"),
        TensorRule("var", "running_var"),
        ignored=("num_batches_tracked",),
    ),
)
LAYOUTS.register(
    nnx.MultiHeadAttention,
    AttentionAdapter(("query", "key", "value", "out"), lambda layer: (layer.head_dim,) * 3),
)
LAYOUTS.register(nnx.LSTMCell, LSTMCellAdapter())
LAYOUTS.register(nnx.OptimizedLSTMCell, OptimizedLSTMCellAdapter())
LAYOUTS.register(nnx.GRUCell, GRUCellAdapter())
LAYOUTS.register(nnx.SimpleCell, SimpleCellAdapter())
LAYOUTS.register(nnx.RNN, RNNAdapter(LAYOUTS.find))
LAYOUTS.register(nnx.Bidirectional, BidirectionalAdapter(LAYOUTS.find))


def is_composite(layer: Any) -> bool:
    """Whether ``layer``'s adapter maps the variables of its sub-modules too, named relative to it.

    The walk then groups every persistent variable below ``layer`` into ``layer``'s own group
    (``attention.query.kernel`` is ``query.kernel`` of the layer at ``attention``).
    """
    return bool(getattr(LAYOUTS.find(layer), "composite", False))
