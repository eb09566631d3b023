"""The settings of NNX layers that change results, in core's vocabulary (see ``hubmixin_core.weights``)."""

from __future__ import annotations

import inspect
from collections.abc import Collection, Iterable, Sequence
from typing import Any

from flax import nnx

from hubmixin_core.weights import Settings, merged_settings, recurrent_settings, same_padding, transpose_crop
from hubmixin_core.weights._settings import OlderPadding, direction_settings, gelu_settings
from hubmixin_flax._walk import dotted, torch_path

__all__ = ["layer_settings", "model_settings"]

_NORMS = (nnx.LayerNorm, nnx.BatchNorm, nnx.GroupNorm, nnx.RMSNorm)
_KINDS = ((nnx.LayerNorm, "layer"), (nnx.RMSNorm, "rms"), (nnx.GroupNorm, "group"))
"""What each norm computes (``norm``); batch norms record none."""
_CONCATENATE = inspect.signature(nnx.Bidirectional.__init__).parameters["merge_fn"].default


def _per_dim(value: int | Sequence[int] | None, ndim: int) -> list[int]:
    if value is None:
        return [1] * ndim
    return [int(value)] * ndim if isinstance(value, int) else [int(v) for v in value]


def _padding(padding: Any, kernel: Sequence[int], stride: list[int], dilation: list[int]) -> Any:
    if isinstance(padding, str):
        mode = padding.lower()
        if mode == "valid":
            return [[0, 0] for _ in kernel]
        sized = all(s == 1 or k == 1 for s, k in zip(stride, kernel, strict=True))  # pads without the input size
        if mode == "same" and sized:
            return same_padding(kernel, dilation)
        if mode == "same_lower" and sized:  # the extra one before
            return [[after, before] for before, after in same_padding(kernel, dilation)]
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


def _interior(padding: Any, input_dilation: list[int]) -> Any:
    """``padding`` with the zeros an ``input_dilation`` puts between input positions (``lax.pad``'s interior
    padding) as a third number per dimension, which no PyTorch or Keras convolution records; none: as it is."""
    if all(rate == 1 for rate in input_dilation):
        return padding
    if isinstance(padding, dict):
        return {**padding, "padding": _interior(padding["padding"], input_dilation)}
    if isinstance(padding, str):  # pads of the input size: compared by mode alone
        return padding
    return [[*pair, rate - 1] for pair, rate in zip(padding, input_dilation, strict=True)]


def _older(padding: Any, given: Any, pads: Any) -> Any:
    """``padding`` as an :class:`OlderPadding` where older Flax files record it otherwise: ``"SAME_LOWER"`` by its
    mode, an ``input_dilation``'s as ``pads`` (without the interior padding)."""
    older = "same_lower" if isinstance(given, str) and given.upper() == "SAME_LOWER" else pads
    return OlderPadding(padding, older, "flax") if isinstance(padding, list) and older != padding else padding


def _recurrent(layer: Any) -> dict[str, Any]:
    cell = getattr(layer, "cell", None)
    if isinstance(cell, nnx.LSTMCell | nnx.OptimizedLSTMCell | nnx.GRUCell):
        return recurrent_settings(cell.activation_fn, cell.gate_fn)
    if isinstance(cell, nnx.SimpleCell):  # residual: it adds its previous state, as no torch or Keras RNN
        return {**recurrent_settings(cell.activation_fn), "residual": bool(cell.residual)}
    return {}


def layer_settings(layer: Any) -> dict[str, Any]:
    """``layer``'s own settings that change results (empty for a layer type without any)."""
    if isinstance(layer, nnx.Conv | nnx.ConvTranspose):
        kernel = tuple(layer.kernel_size)
        stride, dilation = _per_dim(layer.strides, len(kernel)), _per_dim(layer.kernel_dilation, len(kernel))
        # The kernel is saved as it is held: a mask multiplies it only as it runs, so a port without one differs.
        masked = {"masked": True} if layer.mask is not None else {}
        if isinstance(layer, nnx.ConvTranspose):
            return {
                "stride": stride,
                "dilation": dilation,
                "crop": _transpose_crop(layer.padding, kernel, stride, dilation),
                **masked,
            }
        pads = _padding(layer.padding, kernel, stride, dilation)
        padding = _interior(pads, _per_dim(layer.input_dilation, len(kernel)))
        return {
            "stride": stride,
            "dilation": dilation,
            "padding": _older(padding, layer.padding, pads),
            "groups": int(layer.feature_group_count),
            **masked,
        }
    if isinstance(layer, _NORMS):
        return _norm(layer)
    if isinstance(layer, nnx.MultiHeadAttention):
        return {"heads": int(layer.num_heads)}
    if isinstance(layer, nnx.RNN):
        found = {**_recurrent(layer), **direction_settings(bool(layer.reverse))}
        if layer.reverse and layer.keep_order:  # outputs in input order, unlike Keras' go_backwards
            found["reverse"] = "keep_order"
        return found
    if isinstance(layer, nnx.Bidirectional):  # torch's bidirectional=True: one setting for both directions
        merge = "concat" if layer.merge_fn is _CONCATENATE else layer.merge_fn
        both = merged_settings([_recurrent(layer.forward_rnn), _recurrent(layer.backward_rnn)])
        return {**both, **direction_settings(False, merge)}  # it runs each RNN in its direction, whatever its own
    return {}


def _norm(layer: Any) -> dict[str, Any]:
    """A norm layer's settings: its epsilon, groups, and what it computes."""
    found: dict[str, Any] = {"eps": float(layer.epsilon)}
    kind = next((kind for cls, kind in _KINDS if isinstance(layer, cls)), None)
    if kind is not None:
        found["norm"] = kind
    if isinstance(layer, nnx.GroupNorm):
        found["groups"] = int(layer.num_groups)
    return found


def model_settings(model: nnx.Module, layers: Iterable[tuple[str, Any]], stacked: Collection[str] = ()) -> Settings:
    """The settings of ``(path, layer)`` pairs (the layers holding variables) by path, with those of the GELU
    functions ``model``'s modules hold (``self.act = nnx.gelu``, an ``nnx.Sequential``'s ``nnx.gelu``) by their
    paths (``block.act``, ``mlp.1``), where a PyTorch port holds its ``nn.GELU``. Below a module stacked by
    ``nnx.vmap`` (``stacked``: the graph paths of those modules), a function's path is given once per stacked
    layer the pairs name (``blocks.0.act``, ``blocks.1.act``...)."""
    found = {path: layer_settings(layer) for path, layer in layers}
    nodes = {tuple(path): node for path, node in nnx.iter_graph(model)}
    roots = [path for path in nodes if path and dotted(path) in stacked]
    for path, node in nodes.items():
        values = gelu_settings(node)
        if values:
            for name in _function_paths(path, nodes, roots, found):
                found.setdefault(name, values)
    return found


def _function_paths(
    path: tuple[Any, ...], nodes: dict[tuple[Any, ...], Any], roots: list[tuple[Any, ...]], layers: Collection[str]
) -> list[str]:
    """The paths of the function at graph path ``path``: its torch path, or, below a stacked module (one of
    ``roots``), its path in each stacked layer that ``layers`` (the layers' paths) name."""
    root = next((r for r in roots if path[: len(r)] == r), None)
    if root is None:
        return [dotted(torch_path(path, nodes))]
    prefix = dotted(torch_path(root, nodes))
    within = dotted(torch_path(path, nodes)[len(torch_path(root, nodes)) :])
    indices = {name[len(prefix) + 1 :].split(".")[0] for name in layers if name.startswith(f"{prefix}.")}
    return [f"{prefix}.{index}.{within}" for index in sorted(indices, key=lambda index: (len(index), index))]
