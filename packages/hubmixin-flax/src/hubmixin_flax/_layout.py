"""The layout adapters of Flax NNX layers: their variables in the canonical (PyTorch) names and layouts.

Register an adapter for a custom layer with ``LAYOUTS.register(MyLayer, adapter)``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flax import nnx

from hubmixin_core.weights import LayoutAdapter, LayoutRegistry, MappedAdapter, TensorRule
from hubmixin_core.weights.transforms import T, inverse_axes, transpose

__all__ = ["LAYOUTS", "ConvAdapter"]


class ConvAdapter(LayoutAdapter):
    """``nnx.Conv``: kernel ``(*k, in/groups, out)`` stored as ``weight`` ``(out, in/groups, *k)``, any rank."""

    @staticmethod
    def _axes(ndim: int) -> tuple[int, ...]:
        return (ndim - 1, ndim - 2, *range(ndim - 2))

    def rule_for(self, layer: Any, name: str) -> TensorRule | None:
        if name != "kernel":
            return TensorRule(name, name)
        return TensorRule("kernel", "weight", self._axes(len(layer.kernel.get_value().shape)))

    def to_canonical(self, layer: Any, path: str, tensors: Mapping[str, T]) -> dict[str, T]:
        out = dict(tensors)
        if "kernel" in out:
            kernel = out.pop("kernel")
            out["weight"] = transpose(kernel, self._axes(len(kernel.shape)))
        return out

    def from_canonical(self, layer: Any, path: str, tensors: Mapping[str, T]) -> dict[str, T]:
        out = dict(tensors)
        if "weight" in out:
            weight = out.pop("weight")
            out["kernel"] = transpose(weight, inverse_axes(self._axes(len(weight.shape))))
        return out


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
