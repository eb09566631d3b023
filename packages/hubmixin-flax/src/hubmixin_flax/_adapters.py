"""The layout adapters of NNX layers that are more than a rename: transposed convolutions, attention, RNN cells.

Each maps a layer to the canonical tensors of one torch module, verified numerically against it (same canonical
weights, same outputs). The adapters of attention and recurrent cells are *composite*: their variables live in
sub-modules (``query.kernel``, ``dense_i.bias``), which the walk hands to the layer's adapter under their paths
relative to the layer, so that one adapter writes the torch module's tensors (``in_proj_weight``,
``weight_ih_l0``) at the layer's path.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any

import numpy as np

from hubmixin_core.errors import LayoutError
from hubmixin_core.weights import (
    IDENTITY,
    ConvAdapter,
    LayoutAdapter,
    MultiHeadAttentionAdapter,
    SubLayerAdapter,
    TensorInfo,
    TensorRule,
)
from hubmixin_core.weights import BidirectionalAdapter as CoreBidirectionalAdapter
from hubmixin_core.weights.transforms import T, add, concat, inverse_axes, split, transpose, zeros_like

__all__ = [
    "AttentionAdapter",
    "BidirectionalAdapter",
    "CompositeAdapter",
    "ConvTransposeAdapter",
    "GRUCellAdapter",
    "LSTMCellAdapter",
    "OptimizedLSTMCellAdapter",
    "RNNAdapter",
    "SimpleCellAdapter",
    "flip",
]

_T_AXES = (1, 0)
_IH, _HH, _B_IH, _B_HH = "weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"


def flip(x: T, axes: Sequence[int]) -> T:
    """``x`` reversed along ``axes`` (``numpy.flip``); a shape is unchanged."""
    if isinstance(x, TensorInfo):
        return x
    return np.ascontiguousarray(np.flip(x, tuple(axes)))


class CompositeAdapter(LayoutAdapter):
    """The adapter of a layer whose variables live in its sub-modules, named relative to it (``query.kernel``).

    The walk groups every persistent variable below a layer whose adapter is composite into that layer's group,
    so the adapter sees them all at once and writes one torch module's tensors at the layer's path.
    """

    composite = True

    def parts(self, layer: Any) -> Collection[str] | None:
        """The sub-modules of ``layer`` (attribute names) whose variables this adapter maps with its own; the
        others are layers of their own, each mapped by its type's adapter. ``None``: all of them."""
        return None


class ConvTransposeAdapter(ConvAdapter):
    """``nnx.ConvTranspose`` as ``torch.nn.ConvTranspose1d/2d/3d``: ``weight`` ``(in, out, *k)``.

    With ``transpose_kernel=True`` the kernel is ``(*k, out, in)``: the transpose of a convolution's. With the
    default ``transpose_kernel=False`` it is ``(*k, in, out)`` and spatially flipped against torch's. Either way
    the outputs equal torch's when the paddings agree: torch ``padding=p, output_padding=q, dilation=d`` is
    ``padding=[(d*(k-1)-p, d*(k-1)-p+q)]`` per spatial dimension (``"VALID"`` for ``p=q=0``). NNX's
    ``ConvTranspose`` has no groups.
    """

    def _flipped(self, layer: Any) -> bool:
        return not getattr(layer, "transpose_kernel", False)

    @staticmethod
    def flipped_axes(ndim: int) -> tuple[int, ...]:
        """The transpose from ``(*k, in, out)`` to torch's ``(in, out, *k)``."""
        return (ndim - 2, ndim - 1, *range(ndim - 2))

    def rule_for(self, layer: Any, name: str) -> TensorRule | None:
        if not self._flipped(layer):
            return super().rule_for(layer, name)
        return None if name == self.framework else TensorRule(name, name)

    def to_canonical(self, layer: Any, path: str, tensors: Mapping[str, T]) -> dict[str, T]:
        if not self._flipped(layer):
            return super().to_canonical(layer, path, tensors)
        out = dict(tensors)
        if self.framework in out:
            kernel = out.pop(self.framework)
            ndim = len(kernel.shape)
            out[self.canonical] = transpose(flip(kernel, range(ndim - 2)), self.flipped_axes(ndim))
        return out

    def from_canonical(self, layer: Any, path: str, tensors: Mapping[str, T]) -> dict[str, T]:
        if not self._flipped(layer):
            return super().from_canonical(layer, path, tensors)
        out = dict(tensors)
        if self.canonical in out:
            weight = out.pop(self.canonical)
            ndim = len(weight.shape)
            out[self.framework] = flip(transpose(weight, inverse_axes(self.flipped_axes(ndim))), range(ndim - 2))
        return out

    def __repr__(self) -> str:
        return "ConvTransposeAdapter()"


class AttentionAdapter(CompositeAdapter, MultiHeadAttentionAdapter):
    """Per-head query/key/value/output projections as ``torch.nn.MultiheadAttention``'s tensors (core's
    :class:`~hubmixin_core.weights.MultiHeadAttentionAdapter`). Other sub-modules (an NNX layer's ``query_ln``, a
    subclass's ``gate``) are layers of their own, mapped by their types' adapters.

    Args:
        parts: The sub-layer names of the query, key, value and output projections.
        head_dims: ``layer -> (D of query, D of key, D of value)``; the layer's ``num_heads`` is the count.
    """

    SETTINGS = "num_heads, qkv_features or out_features"

    def parts(self, layer: Any) -> Collection[str] | None:
        return self.projections  # (an NNX layer's query_ln and key_ln, a subclass's gate: layers of their own)

    def __init__(self, parts: tuple[str, str, str, str], head_dims: Callable[[Any], tuple[int, int, int]]) -> None:
        super().__init__(parts)
        self.head_dims = head_dims

    def heads(self, layer: Any) -> tuple[int, tuple[int, int, int]]:
        return int(layer.num_heads), self.head_dims(layer)


def folded_bias(tensors: Mapping[str, T]) -> T | None:
    """``bias_ih_l0 + bias_hh_l0``: torch's two biases as the one a fused cell holds (``None`` unless both)."""
    if _B_IH in tensors and _B_HH in tensors:
        return add(tensors[_B_IH], tensors[_B_HH])
    return None


def unfolded_bias(bias: T) -> dict[str, T]:
    """One bias as torch's two: all of it in ``bias_ih_l0``, zeros in ``bias_hh_l0``."""
    return {_B_IH: bias, _B_HH: zeros_like(bias)}


class _FusedCell(CompositeAdapter):
    """A cell of one input and one hidden dense layer, its gates side by side in torch's order.

    Args:
        input_kernel, hidden_kernel: The names of the kernels ``(in, G*H)`` and ``(H, G*H)``.
        bias: The name of the cell's one bias ``(G*H)``, which holds torch's ``bias_ih_l0 + bias_hh_l0``.
    """

    def __init__(self, input_kernel: str, hidden_kernel: str, bias: str) -> None:
        self.input_kernel, self.hidden_kernel, self.bias = input_kernel, hidden_kernel, bias
        self._rules = {
            input_kernel: TensorRule(input_kernel, _IH, _T_AXES),
            hidden_kernel: TensorRule(hidden_kernel, _HH, _T_AXES),
        }

    def rule_for(self, layer: Any, name: str) -> TensorRule | None:
        return None if name == self.bias else self._rules.get(name, TensorRule(name, name))

    def to_canonical(self, layer: Any, path: str, tensors: Mapping[str, T]) -> dict[str, T]:
        out: dict[str, T] = {}
        for name, x in tensors.items():
            rule = self._rules.get(name)
            if rule is not None:
                out[rule.canonical] = transpose(x, _T_AXES)
            elif name == self.bias:
                out.update(unfolded_bias(x))
            else:
                out[name] = x
        return out

    def from_canonical(self, layer: Any, path: str, tensors: Mapping[str, T]) -> dict[str, T]:
        out = {name: x for name, x in tensors.items() if name not in (_IH, _HH, _B_IH, _B_HH)}
        for rule in self._rules.values():
            if rule.canonical in tensors:
                out[rule.framework] = transpose(tensors[rule.canonical], _T_AXES)
        bias = self.input_bias(layer, path, tensors)
        if bias is not None:
            out[self.bias] = bias
        return out

    def input_bias(self, layer: Any, path: str, tensors: Mapping[str, T]) -> T | None:
        """The cell's one bias from torch's two, or ``None``."""
        return folded_bias(tensors)


class OptimizedLSTMCellAdapter(_FusedCell):
    """``nnx.OptimizedLSTMCell`` as a one-layer ``torch.nn.LSTM``: gates i, f, g, o in both.

    ``dense_i.kernel`` is ``weight_ih_l0.T``, ``dense_h.kernel`` is ``weight_hh_l0.T`` and ``dense_h.bias`` is
    ``bias_ih_l0 + bias_hh_l0`` (saved as ``bias_ih_l0`` with a zero ``bias_hh_l0``).
    """

    def __init__(self) -> None:
        super().__init__("dense_i.kernel", "dense_h.kernel", "dense_h.bias")

    def __repr__(self) -> str:
        return "OptimizedLSTMCellAdapter()"


class SimpleCellAdapter(_FusedCell):
    """``nnx.SimpleCell`` as a one-layer ``torch.nn.RNN``: its bias is the sum of torch's (one with ``residual=True``
    computes otherwise: its settings record it)."""

    def __init__(self) -> None:
        super().__init__("dense_i.kernel", "dense_h.kernel", "dense_i.bias")

    def __repr__(self) -> str:
        return "SimpleCellAdapter()"


class GRUCellAdapter(_FusedCell):
    """``nnx.GRUCell`` as a one-layer ``torch.nn.GRU``: gates r, z, n in both.

    NNX has one bias, on the input side (``dense_i.bias``): it holds ``bias_ih_l0 + [b_hr, b_hz, 0]``. Torch's
    ``b_hn`` sits inside the reset gate's product (``n = tanh(W_in x + b_in + r * (W_hn h + b_hn))``), where NNX
    has no bias: a checkpoint whose ``b_hn`` is not zero cannot be loaded exactly, and raises
    :class:`~hubmixin_core.errors.LayoutError`. Saved, the bias is ``bias_ih_l0`` with a zero ``bias_hh_l0``.
    """

    def __init__(self) -> None:
        super().__init__("dense_i.kernel", "dense_h.kernel", "dense_i.bias")

    def input_bias(self, layer: Any, path: str, tensors: Mapping[str, T]) -> T | None:
        if _B_IH not in tensors or _B_HH not in tensors:
            return None
        reset, update, new = split(tensors[_B_HH], 3)
        if not isinstance(new, TensorInfo) and np.any(new != 0):
            raise LayoutError(
                f"{path or 'the model'}: {type(layer).__qualname__} cannot hold torch.nn.GRU's b_hn (the last third "
                "of bias_hh_l0, added inside the reset gate's product), which is not zero in this checkpoint"
            )
        return add(tensors[_B_IH], concat([reset, update, zeros_like(new)]))

    def __repr__(self) -> str:
        return "GRUCellAdapter()"


class LSTMCellAdapter(CompositeAdapter):
    """``nnx.LSTMCell`` (one dense layer per gate) as a one-layer ``torch.nn.LSTM``.

    The input kernels ``ii``, ``if_``, ``ig``, ``io`` (no bias) transposed and stacked are ``weight_ih_l0``; the
    hidden ones ``hi``, ``hf``, ``hg``, ``ho`` are ``weight_hh_l0`` and their biases ``bias_ih_l0 + bias_hh_l0``
    (saved as ``bias_ih_l0`` with a zero ``bias_hh_l0``).
    """

    inputs = ("ii", "if_", "ig", "io")
    hidden = ("hi", "hf", "hg", "ho")

    def to_canonical(self, layer: Any, path: str, tensors: Mapping[str, T]) -> dict[str, T]:
        own = {f"{gate}.{kind}" for gate in (*self.inputs, *self.hidden) for kind in ("kernel", "bias")}
        out = {name: x for name, x in tensors.items() if name not in own}
        for canonical, gates in ((_IH, self.inputs), (_HH, self.hidden)):
            kernels = [tensors[f"{gate}.kernel"] for gate in gates if f"{gate}.kernel" in tensors]
            if len(kernels) == len(gates):
                out[canonical] = concat([transpose(k, _T_AXES) for k in kernels])
        biases = [tensors[f"{gate}.bias"] for gate in self.hidden if f"{gate}.bias" in tensors]
        if len(biases) == len(self.hidden):
            out.update(unfolded_bias(concat(biases)))
        return out

    def from_canonical(self, layer: Any, path: str, tensors: Mapping[str, T]) -> dict[str, T]:
        out = {name: x for name, x in tensors.items() if name not in (_IH, _HH, _B_IH, _B_HH)}
        for canonical, gates in ((_IH, self.inputs), (_HH, self.hidden)):
            if canonical in tensors:
                for gate, weight in zip(gates, split(tensors[canonical], 4), strict=True):
                    out[f"{gate}.kernel"] = transpose(weight, _T_AXES)
        bias = folded_bias(tensors)
        if bias is not None:
            out.update((f"{gate}.bias", b) for gate, b in zip(self.hidden, split(bias, 4), strict=True))
        return out

    def __repr__(self) -> str:
        return "LSTMCellAdapter()"


class BidirectionalAdapter(CompositeAdapter, CoreBidirectionalAdapter):
    """``nnx.Bidirectional`` as torch's ``nn.LSTM(..., bidirectional=True, batch_first=True)`` (or GRU, RNN): the
    forward RNN's tensors as an ``nnx.RNN``'s (``weight_ih_l0``), the backward RNN's with ``_reverse``
    (``weight_ih_l0_reverse``). Outputs equal torch's with the default concatenation, the backward RNN built with
    ``reverse=True, keep_order=True``.

    Args:
        find: The adapter of an RNN (the package's registry's ``find``).
    """

    def __init__(self, find: Callable[[Any], LayoutAdapter]) -> None:
        super().__init__(find, "forward_rnn", "backward_rnn")

    def __repr__(self) -> str:
        return "BidirectionalAdapter()"

    def parts(self, layer: Any) -> Collection[str] | None:
        """Both RNNs where their cells' adapters are known; else they are walked (as :class:`RNNAdapter` walks a
        cell of the user's own)."""
        rnns = (getattr(layer, self.forward), getattr(layer, self.backward))
        known = all(self.find(rnn).parts(rnn) for rnn in rnns)  # type: ignore[attr-defined]  # RNNAdapters
        return (self.forward, self.backward) if known else ()


class RNNAdapter(CompositeAdapter, SubLayerAdapter):
    """``nnx.RNN``: its cell's adapter, its tensors at the RNN's path (``lstm.weight_ih_l0``, as torch's LSTM).

    Args:
        find: The adapter of a cell (the package's registry's ``find``).
    """

    def __init__(self, find: Callable[[Any], LayoutAdapter]) -> None:
        super().__init__(find, "cell")

    def __repr__(self) -> str:
        return "RNNAdapter()"

    def parts(self, layer: Any) -> Collection[str] | None:
        """The cell where an adapter knows it; a cell of the user's own is walked: its layers map by their types
        (``rnn.cell.input_proj.weight``, as hubmixin-keras names a custom cell's layers)."""
        return (self.attribute,) if self.find(getattr(layer, self.attribute)) is not IDENTITY else ()
