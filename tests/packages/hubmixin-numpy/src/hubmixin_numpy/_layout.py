"""How each layer of the NumPy framework maps its arrays to the canonical (PyTorch) layout: :data:`LAYOUTS`.

Example:
    >>> import numpy as np
    >>> layer = MultiHeadAttention(8, 2, rng=np.random.default_rng(0))
    >>> canonical = LAYOUTS.find(layer).to_canonical(layer, "attn", layer.arrays())
    >>> {name: array.shape for name, array in canonical.items()}
    {'in_proj_weight': (24, 8), 'in_proj_bias': (24,), 'out_proj.weight': (8, 8), 'out_proj.bias': (8,)}
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hubmixin_core.weights import LayoutAdapter, LayoutRegistry, MappedAdapter, TensorRule
from hubmixin_core.weights.transforms import T, concat, reshape, split, transpose
from hubmixin_numpy._layers import Conv2d, Embed, LayerNorm, Linear, MultiHeadAttention

__all__ = ["LAYOUTS", "AttentionAdapter"]

_PARTS = ("query", "key", "value")


class AttentionAdapter(LayoutAdapter):
    """:class:`MultiHeadAttention`'s per-head projections as ``torch.nn.MultiheadAttention``'s fused ones.

    ``query/key/value_kernel`` ``[E, H, D]`` are stacked into ``in_proj_weight`` ``[3E, E]`` and their biases
    into ``in_proj_bias`` ``[3E]``; ``out_kernel`` ``[H, D, E]`` is ``out_proj.weight`` ``[E, E]``. A fused
    tensor is made only from all its parts, and a part is made only from a fused tensor that is there.
    """

    def to_canonical(self, layer: Any, path: str, tensors: Mapping[str, T]) -> dict[str, T]:
        """The fused canonical tensors of the per-head ones in ``tensors``."""
        out = {name: x for name, x in tensors.items() if not name.startswith((*_PARTS, "out_"))}
        kernels = [tensors[f"{part}_kernel"] for part in _PARTS if f"{part}_kernel" in tensors]
        if len(kernels) == len(_PARTS):
            out["in_proj_weight"] = concat([transpose(reshape(k, (k.shape[0], -1)), (1, 0)) for k in kernels])
        biases = [tensors[f"{part}_bias"] for part in _PARTS if f"{part}_bias" in tensors]
        if len(biases) == len(_PARTS):
            out["in_proj_bias"] = concat([reshape(b, (-1,)) for b in biases])
        if "out_kernel" in tensors:
            kernel = tensors["out_kernel"]
            out["out_proj.weight"] = transpose(reshape(kernel, (-1, kernel.shape[-1])), (1, 0))
        if "out_bias" in tensors:
            out["out_proj.bias"] = tensors["out_bias"]
        return out

    def from_canonical(self, layer: Any, path: str, tensors: Mapping[str, T]) -> dict[str, T]:
        """The per-head tensors of ``layer`` from the fused canonical ones in ``tensors``."""
        heads: tuple[int, int] = (layer.num_heads, layer.head_dim)
        out = {name: x for name, x in tensors.items() if not name.startswith(("in_proj_", "out_proj."))}
        if "in_proj_weight" in tensors:
            for part, weight in zip(_PARTS, split(tensors["in_proj_weight"], 3), strict=True):
                out[f"{part}_kernel"] = reshape(transpose(weight, (1, 0)), (-1, *heads))
        if "in_proj_bias" in tensors:
            for part, bias in zip(_PARTS, split(tensors["in_proj_bias"], 3), strict=True):
                out[f"{part}_bias"] = reshape(bias, heads)
        if "out_proj.weight" in tensors:
            out["out_kernel"] = reshape(transpose(tensors["out_proj.weight"], (1, 0)), (*heads, -1))
        if "out_proj.bias" in tensors:
            out["out_bias"] = tensors["out_proj.bias"]
        return out

    def __repr__(self) -> str:
        return "AttentionAdapter()"


LAYOUTS = LayoutRegistry("hubmixin_numpy")
"""The layout adapters of the NumPy framework's layers; layers without one store their arrays as they are."""
LAYOUTS.register(Linear, MappedAdapter(TensorRule("kernel", "weight", (1, 0))))
LAYOUTS.register(LayerNorm, MappedAdapter(TensorRule("scale", "weight")))
LAYOUTS.register(Embed, MappedAdapter(TensorRule("embedding", "weight")))
LAYOUTS.register(Conv2d, MappedAdapter(TensorRule("kernel", "weight", (3, 2, 0, 1))))
LAYOUTS.register(MultiHeadAttention, AttentionAdapter())
