"""The layout adapters of Flax NNX layers: their variables in the canonical (PyTorch) names and layouts.

Register an adapter for a custom layer with ``LAYOUTS.register(MyLayer, adapter)``.
"""

from __future__ import annotations

from flax import nnx

from hubmixin_core.weights import ConvAdapter, LayoutRegistry, MappedAdapter, TensorRule

__all__ = ["LAYOUTS"]


_NORM = MappedAdapter(TensorRule("scale", "weight"))

LAYOUTS = LayoutRegistry("hubmixin_flax")
"""The layout adapters of ``hubmixin_flax``, by NNX layer type."""
LAYOUTS.register(nnx.Linear, MappedAdapter(TensorRule("kernel", "weight", (1, 0))))
LAYOUTS.register(nnx.Conv, ConvAdapter())
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
