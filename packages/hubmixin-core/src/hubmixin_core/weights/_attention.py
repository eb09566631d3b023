"""Per-head attention projections as ``torch.nn.MultiheadAttention``'s tensors: :class:`MultiHeadAttentionAdapter`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hubmixin_core.errors import LayoutError
from hubmixin_core.weights._layout import LayoutAdapter
from hubmixin_core.weights.transforms import T, concat, reshape, split, transpose

__all__ = ["MultiHeadAttentionAdapter"]

_T_AXES = (1, 0)
_FUSED = ("in_proj_weight", "in_proj_bias")


class MultiHeadAttentionAdapter(LayoutAdapter):
    """A layer with per-head query, key, value and output projections as ``torch.nn.MultiheadAttention``.

    The layer holds each projection in a sub-layer (``<part>.kernel``, ``<part>.bias``): query, key and value
    kernels ``(E_in, H, D)`` with biases ``(H, D)`` become ``in_proj_weight`` ``(3E, E)`` and ``in_proj_bias``
    ``(3E)`` (or ``q_proj_weight``/``k_proj_weight``/``v_proj_weight`` when the key or value inputs have another
    width, torch's ``kdim``/``vdim``); the output kernel ``(H, D_value, E)`` and its bias become
    ``out_proj.weight`` and ``out_proj.bias``. Other tensors of the layer keep their names: torch has none.
    A package subclasses it to say how many heads of which sizes a layer has (:meth:`heads`).

    Args:
        projections: The sub-layer names of the query, key, value and output projections.
    """

    PROJECTIONS = ("q_proj_weight", "k_proj_weight", "v_proj_weight")
    """torch's separate query, key and value weights (``kdim``/``vdim`` unlike the query's width)."""
    SETTINGS = "number of heads or head sizes"
    """The layer's settings that fix :meth:`heads`, as an error names them."""

    def __init__(self, projections: tuple[str, str, str, str]) -> None:
        self.projections = projections

    def heads(self, layer: Any) -> tuple[int, tuple[int, int, int]]:
        """``(H, (D of query, D of key, D of value))`` of ``layer``."""
        raise NotImplementedError

    def to_canonical(self, layer: Any, path: str, tensors: Mapping[str, T]) -> dict[str, T]:
        own = {f"{part}.{kind}" for part in self.projections for kind in ("kernel", "bias")}
        out = {name: x for name, x in tensors.items() if name not in own}
        *qkv, output = self.projections
        kernels = [tensors[f"{part}.kernel"] for part in qkv if f"{part}.kernel" in tensors]
        if len(kernels) == len(qkv):
            weights = [transpose(reshape(k, (k.shape[0], -1)), _T_AXES) for k in kernels]
            if all(tuple(k.shape) == tuple(kernels[0].shape) for k in kernels):
                out["in_proj_weight"] = concat(weights)
            else:
                out.update(zip(self.PROJECTIONS, weights, strict=True))
        biases = [tensors[f"{part}.bias"] for part in qkv if f"{part}.bias" in tensors]
        if len(biases) == len(qkv):
            out["in_proj_bias"] = concat([reshape(b, (-1,)) for b in biases])
        if f"{output}.kernel" in tensors:
            kernel = tensors[f"{output}.kernel"]
            out["out_proj.weight"] = transpose(reshape(kernel, (-1, kernel.shape[-1])), _T_AXES)
        if f"{output}.bias" in tensors:
            out["out_proj.bias"] = tensors[f"{output}.bias"]
        return out

    def from_canonical(self, layer: Any, path: str, tensors: Mapping[str, T]) -> dict[str, T]:
        canonical = {*_FUSED, *self.PROJECTIONS}
        out = {name: x for name, x in tensors.items() if name not in canonical and not name.startswith("out_proj.")}
        *qkv, output = self.projections
        count, dims = self.heads(layer)
        sizes = [count * dim for dim in dims]  # query, key, value: the value's head size may differ
        if "in_proj_weight" in tensors:
            weights = self._split_qkv(tensors["in_proj_weight"], sizes, "in_proj_weight")
        else:
            weights = [tensors[name] for name in self.PROJECTIONS if name in tensors]
        if len(weights) == len(qkv):
            for part, weight, dim in zip(qkv, weights, dims, strict=True):
                out[f"{part}.kernel"] = reshape(transpose(weight, _T_AXES), (weight.shape[1], -1, dim))
        if "in_proj_bias" in tensors:
            biases = self._split_qkv(tensors["in_proj_bias"], sizes, "in_proj_bias")
            for part, bias, dim in zip(qkv, biases, dims, strict=True):
                out[f"{part}.bias"] = reshape(bias, (-1, dim))
        if "out_proj.weight" in tensors:
            weight = tensors["out_proj.weight"]
            out[f"{output}.kernel"] = reshape(transpose(weight, _T_AXES), (-1, dims[2], weight.shape[0]))
        if "out_proj.bias" in tensors:
            out[f"{output}.bias"] = tensors["out_proj.bias"]
        return out

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.projections})"

    def _split_qkv(self, x: T, sizes: list[int], name: str) -> list[T]:
        """``x`` cut along axis 0 into the query, key and value projections' ``sizes`` (heads x head size)."""
        if x.shape[0] != sum(sizes):
            raise LayoutError(
                f"{name!r} of shape {tuple(x.shape)} cannot be cut into query, key and value projections of "
                f"{sizes} rows: the layer's {self.SETTINGS} differ from the checkpoint's"
            )
        return split(x, sizes)
