"""The layout adapters of Keras layers that are more than a rename: transposed and depthwise convolutions,
attention and recurrent layers, each with the input shape it is built with from a checkpoint.

Each maps a layer to the canonical tensors of one torch module, verified numerically against it (same canonical
weights, same outputs). Attention and recurrent layers hold their variables in sub-layers (``query_dense``,
``cell``): their adapters are *composite*, with a ``parts(layer)`` method naming those sub-layers; the walk hands
such an adapter the sub-layers' variables under ``<part>.<name>`` (``query.kernel``, ``cell.bias``) so that it
writes one torch module's tensors (``in_proj_weight``, ``weight_ih_l0``) at the layer's path.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from hubmixin_core.errors import WeightsShapeError
from hubmixin_core.weights import BidirectionalAdapter as CoreBidirectionalAdapter
from hubmixin_core.weights import (
    ConvAdapter,
    LayoutAdapter,
    MultiHeadAttentionAdapter,
    SubLayerAdapter,
    TensorInfo,
    TensorRule,
)
from hubmixin_core.weights.transforms import (
    T,
    add,
    concat,
    inverse_axes,
    reshape,
    split,
    transpose,
    zeros_like,
)


def rank_error(source: str, key: str, found: tuple[int, ...], rank: int | str) -> WeightsShapeError:
    """A :class:`WeightsShapeError` for a tensor of the wrong rank (the model's sizes are not known yet)."""
    error = WeightsShapeError(source, key, (), found)
    error.args = (f"{source}: tensor {key!r} has shape {found}, the model expects a {rank}-dimensional tensor",)
    return error


def shape_keys_by(find: Callable[[Any], LayoutAdapter], layer: Any) -> tuple[str, ...] | None:
    """The canonical keys ``layer``'s adapter (as ``find`` gives it) builds it from (``()``: it holds no tensors;
    ``None``: not known)."""
    method = getattr(find(layer), "shape_keys", None)
    keys = None if method is None else method(layer)
    return None if keys is None else tuple(keys)


def builds_from_shapes_by(find: Callable[[Any], LayoutAdapter], layer: Any) -> bool:
    """Whether ``layer``'s adapter (as ``find`` gives it) can build it from the checkpoint's shapes: it has an
    ``input_shape``, and where it also has ``builds_from_shapes`` (an RNN asks its cell's), that says so."""
    adapter = find(layer)
    method = getattr(adapter, "builds_from_shapes", None)
    return bool(method(layer)) if method is not None else hasattr(adapter, "input_shape")


def input_shape_by(
    find: Callable[[Any], LayoutAdapter], layer: Any, canonical: Mapping[str, TensorInfo]
) -> Shape | None:
    """The input shape ``layer``'s adapter (as ``find`` gives it) builds it with, or ``None`` if it cannot tell."""
    method = getattr(find(layer), "input_shape", None)
    shape: Shape | None = None if method is None else method(layer, canonical)
    return shape


def ranked(canonical: Mapping[str, TensorInfo], name: str, rank: int | range) -> TensorInfo | None:
    """``canonical[name]`` (``None`` if absent), checked to have ``rank`` dimensions (or one in the range).

    Raises:
        WeightsShapeError: another rank (the key is named relative to the layer; the loader names it in full).
    """
    info = canonical.get(name)
    if info is not None and len(info.shape) not in (rank if isinstance(rank, range) else (rank,)):
        expected = rank if isinstance(rank, int) else f"{rank.start}- to {rank.stop - 1}"
        raise rank_error("checkpoint", name, info.shape, expected)
    return info


__all__ = [
    "AttentionAdapter",
    "BidirectionalAdapter",
    "CompositeAdapter",
    "ConvTransposeAdapter",
    "DepthwiseConvAdapter",
    "GRUCellAdapter",
    "LSTMCellAdapter",
    "RNNAdapter",
    "SeparableConvAdapter",
    "SimpleRNNCellAdapter",
    "StackedCellsAdapter",
]

Shape = tuple[int | None, ...]
_T_AXES = (1, 0)
_IH, _HH, _B_IH, _B_HH = "weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"


def _spatial(layer: Any, channels: int, ndim: int) -> Shape:
    """An input shape of unknown batch and spatial sizes with ``channels`` channels, in the layer's data format."""
    spatial: tuple[None, ...] = (None,) * ndim
    if getattr(layer, "data_format", "channels_last") == "channels_first":
        return (None, channels, *spatial)
    return (None, *spatial, channels)


class CompositeAdapter(LayoutAdapter):
    """The adapter of a layer whose variables live in sub-layers, which :meth:`parts` names.

    The walk hands it those sub-layers' variables as ``<part>.<name>`` along with the layer's own, and does not
    visit the sub-layers as layers of their own.
    """

    composite = True

    def parts(self, layer: Any) -> dict[str, Any]:
        """The sub-layers whose variables this adapter maps, by the prefix of their names (built ones only)."""
        raise NotImplementedError

    def input_shape(self, layer: Any, canonical: Mapping[str, TensorInfo]) -> Shape | None:
        """The shape to call ``layer.build`` with, or ``None``."""
        return None

    def shape_keys(self, layer: Any) -> tuple[str, ...] | None:
        """The canonical keys that give the layer's input shape (``None``: not known)."""
        return None


class ConvTransposeAdapter(ConvAdapter):
    """``Conv1DTranspose``/``Conv2DTranspose``/``Conv3DTranspose`` as torch's ``ConvTranspose1d/2d/3d``.

    The kernel ``(*k, out, in)`` is torch's ``weight`` ``(in, out, *k)`` transposed the way a convolution's
    kernel is; built for ``in = weight.shape[0]`` channels. Keras' transposed convolutions have no groups.
    Outputs equal torch's for ``padding="valid"`` and torch's ``padding=0``.
    """

    def input_shape(self, layer: Any, canonical: Mapping[str, TensorInfo]) -> Shape | None:
        weight = ranked(canonical, self.canonical, range(3, 6))
        return None if weight is None else _spatial(layer, weight.shape[0], len(weight.shape) - 2)

    def shape_keys(self, layer: Any) -> tuple[str, ...]:
        return (self.canonical,)

    def __repr__(self) -> str:
        return "ConvTransposeAdapter()"


def _depthwise_to_torch(kernel: T) -> T:
    """A depthwise kernel ``(*k, C, M)`` as torch's grouped ``weight`` ``(C*M, 1, *k)``."""
    ndim: int = len(kernel.shape)
    spatial: tuple[int, ...] = tuple(kernel.shape)[: ndim - 2]
    return reshape(transpose(kernel, (ndim - 2, ndim - 1, *range(ndim - 2))), (-1, 1, *spatial))


def _depthwise_from_torch(weight: T, multiplier: int) -> T:
    """Torch's grouped ``weight`` ``(C*M, 1, *k)`` as a depthwise kernel ``(*k, C, M)``."""
    rank: int = len(weight.shape)
    per_channel = reshape(weight, (-1, multiplier, *tuple(weight.shape)[2:]))
    return transpose(per_channel, inverse_axes((rank - 2, rank - 1, *range(rank - 2))))


def _pointwise_axes(ndim: int) -> tuple[int, ...]:
    """The axes that take a kernel ``(*k, in, out)`` to torch's ``(out, in, *k)``."""
    return (ndim - 1, ndim - 2, *range(ndim - 2))


class DepthwiseConvAdapter(LayoutAdapter):
    """``DepthwiseConv1D``/``DepthwiseConv2D`` as torch's ``Conv1d/Conv2d(C, C*M, k, groups=C)``.

    The kernel ``(*k, C, M)`` is torch's ``weight`` ``(C*M, 1, *k)``: output channel ``c*M + m`` in both.
    Built for ``C = weight.shape[0] / depth_multiplier`` channels.
    """

    def rule_for(self, layer: Any, name: str) -> TensorRule | None:
        return None if name == "kernel" else TensorRule(name, name)

    def to_canonical(self, layer: Any, path: str, tensors: Mapping[str, T]) -> dict[str, T]:
        out = dict(tensors)
        if "kernel" in out:
            out["weight"] = _depthwise_to_torch(out.pop("kernel"))
        return out

    def from_canonical(self, layer: Any, path: str, tensors: Mapping[str, T]) -> dict[str, T]:
        out = dict(tensors)
        if "weight" in out:
            out["kernel"] = _depthwise_from_torch(out.pop("weight"), int(layer.depth_multiplier))
        return out

    def input_shape(self, layer: Any, canonical: Mapping[str, TensorInfo]) -> Shape | None:
        weight = ranked(canonical, "weight", range(3, 5))
        if weight is None:
            return None
        return _spatial(layer, weight.shape[0] // int(layer.depth_multiplier), len(weight.shape) - 2)

    def shape_keys(self, layer: Any) -> tuple[str, ...]:
        return ("weight",)

    def __repr__(self) -> str:
        return "DepthwiseConvAdapter()"


_DEPTHWISE, _POINTWISE, _POINTWISE_BIAS = "depthwise.weight", "pointwise.weight", "pointwise.bias"


class SeparableConvAdapter(LayoutAdapter):
    """``SeparableConv1D``/``SeparableConv2D`` as torch's depthwise then pointwise convolutions at the layer's
    path: ``depthwise = Conv2d(C, C*M, k, groups=C, bias=False)`` and ``pointwise = Conv2d(C*M, F, 1)``.

    ``depthwise_kernel`` ``(*k, C, M)`` is ``depthwise.weight`` ``(C*M, 1, *k)``, ``pointwise_kernel``
    ``(1, ..., C*M, F)`` is ``pointwise.weight`` ``(F, C*M, 1, ...)``, ``bias`` is ``pointwise.bias``.
    Built for ``C = depthwise.weight.shape[0] / depth_multiplier`` channels.
    """

    def rule_for(self, layer: Any, name: str) -> TensorRule | None:
        return None if name in ("depthwise_kernel", "pointwise_kernel", "bias") else TensorRule(name, name)

    def to_canonical(self, layer: Any, path: str, tensors: Mapping[str, T]) -> dict[str, T]:
        out = dict(tensors)
        if "depthwise_kernel" in out:
            out[_DEPTHWISE] = _depthwise_to_torch(out.pop("depthwise_kernel"))
        if "pointwise_kernel" in out:
            kernel = out.pop("pointwise_kernel")
            out[_POINTWISE] = transpose(kernel, _pointwise_axes(len(kernel.shape)))
        if "bias" in out:
            out[_POINTWISE_BIAS] = out.pop("bias")
        return out

    def from_canonical(self, layer: Any, path: str, tensors: Mapping[str, T]) -> dict[str, T]:
        out = dict(tensors)
        if _DEPTHWISE in out:
            out["depthwise_kernel"] = _depthwise_from_torch(out.pop(_DEPTHWISE), int(layer.depth_multiplier))
        if _POINTWISE in out:
            weight = out.pop(_POINTWISE)
            out["pointwise_kernel"] = transpose(weight, inverse_axes(_pointwise_axes(len(weight.shape))))
        if _POINTWISE_BIAS in out:
            out["bias"] = out.pop(_POINTWISE_BIAS)
        return out

    def input_shape(self, layer: Any, canonical: Mapping[str, TensorInfo]) -> Shape | None:
        weight = ranked(canonical, _DEPTHWISE, range(3, 5))
        if weight is None:
            return None
        return _spatial(layer, weight.shape[0] // int(layer.depth_multiplier), len(weight.shape) - 2)

    def shape_keys(self, layer: Any) -> tuple[str, ...]:
        return (_DEPTHWISE,)

    def __repr__(self) -> str:
        return "SeparableConvAdapter()"


class AttentionAdapter(CompositeAdapter, MultiHeadAttentionAdapter):
    """``MultiHeadAttention`` as ``torch.nn.MultiheadAttention``.

    The query/key/value kernels ``(E_in, H, D)`` with biases ``(H, D)`` become ``in_proj_weight`` ``(3E, E)``
    and ``in_proj_bias`` ``(3E)`` (or ``q_proj_weight``/``k_proj_weight``/``v_proj_weight`` when key or value
    inputs have another width, torch's ``kdim``/``vdim``); the output kernel ``(H, D, E)`` and bias become
    ``out_proj.weight`` and ``out_proj.bias``. The layer's ``build`` takes three shapes, so :meth:`input_shape`
    builds it from the checkpoint's shapes itself and returns ``None``.

    Torch needs ``key_dim == value_dim`` and ``num_heads * key_dim`` equal to the query's width. A layer with
    ``value_dim != key_dim`` is saved with projections of its own sizes: ``q_proj_weight``, ``k_proj_weight``
    ``(H*key_dim, E)``, ``v_proj_weight`` ``(H*value_dim, E)``, ``in_proj_bias`` ``(H*(2*key_dim + value_dim))``.
    Keras loads it back; torch's ``nn.MultiheadAttention`` cannot hold it, and refuses it with a
    ``WeightsShapeError`` (its projections are all ``(E, ...)``, its bias ``(3E)``).
    """

    names = ("query", "key", "value", "attention_output")
    SETTINGS = "num_heads, key_dim or value_dim"

    def __init__(self) -> None:
        super().__init__(self.names)

    def heads(self, layer: Any) -> tuple[int, tuple[int, int, int]]:
        key = int(layer.key_dim)
        return int(layer.num_heads), (key, key, int(layer.value_dim or key))

    def parts(self, layer: Any) -> dict[str, Any]:
        # The sub-layers exist once the layer is built (their public properties raise before).
        dense = ("_query_dense", "_key_dense", "_value_dense", "_output_dense")
        found = {name: getattr(layer, attribute, None) for name, attribute in zip(self.names, dense, strict=True)}
        return {name: part for name, part in found.items() if part is not None}

    def input_shape(self, layer: Any, canonical: Mapping[str, TensorInfo]) -> Shape | None:
        """Builds ``layer`` for the query, key and value widths of the checkpoint; returns ``None``."""
        if "in_proj_weight" in canonical:
            width = canonical["in_proj_weight"].shape[1]
            query = key = value = width
        elif all(name in canonical for name in self.PROJECTIONS):
            query, key, value = (canonical[name].shape[1] for name in self.PROJECTIONS)
        else:
            return None
        layer.build((None, None, query), (None, None, value), (None, None, key))
        return None

    def shape_keys(self, layer: Any) -> tuple[str, ...]:
        return ("in_proj_weight",)

    def records_build(self, layer: Any) -> bool:
        """Whether ``layer`` was built for inputs of another rank than 3 (images, ``attention_axes``): its
        kernels do not say so, :meth:`input_shape` builds for rank 3, so the checkpoint records its build."""
        shapes = getattr(layer, "_build_shapes_dict", None) or {}
        return any(shape is not None and len(shape) != 3 for shape in shapes.values())

    def __repr__(self) -> str:
        return "AttentionAdapter()"


def _folded_bias(tensors: Mapping[str, T]) -> T | None:
    """``bias_ih_l0 + bias_hh_l0``, torch's two biases as a cell's one (``None`` unless both)."""
    if _B_IH in tensors and _B_HH in tensors:
        return add(tensors[_B_IH], tensors[_B_HH])
    return None


class _CellAdapter(LayoutAdapter):
    """A recurrent cell: ``kernel`` ``(in, G*H)`` is ``weight_ih_l0.T``, ``recurrent_kernel`` ``weight_hh_l0.T``."""

    _rules: ClassVar[dict[str, TensorRule]] = {
        "kernel": TensorRule("kernel", _IH, _T_AXES),
        "recurrent_kernel": TensorRule("recurrent_kernel", _HH, _T_AXES),
    }

    def rule_for(self, layer: Any, name: str) -> TensorRule | None:
        return None if name == "bias" else self._rules.get(name, TensorRule(name, name))

    def to_canonical(self, layer: Any, path: str, tensors: Mapping[str, T]) -> dict[str, T]:
        out: dict[str, T] = {}
        for name, x in tensors.items():
            rule = self._rules.get(name)
            if rule is not None:
                out[rule.canonical] = self.gates(layer, transpose(x, _T_AXES), to_torch=True)
            elif name == "bias":
                out.update(self.torch_biases(layer, x))
            else:
                out[name] = x
        return out

    def from_canonical(self, layer: Any, path: str, tensors: Mapping[str, T]) -> dict[str, T]:
        out = {name: x for name, x in tensors.items() if name not in (_IH, _HH, _B_IH, _B_HH)}
        for rule in self._rules.values():
            if rule.canonical in tensors:
                out[rule.framework] = transpose(self.gates(layer, tensors[rule.canonical], to_torch=False), _T_AXES)
        bias = self.bias(layer, tensors)
        if bias is not None:
            out["bias"] = bias
        return out

    def gates(self, layer: Any, x: T, *, to_torch: bool) -> T:
        """``x`` (gates along axis 0) with its gates in torch's order, or in Keras' from torch's."""
        return x

    def torch_biases(self, layer: Any, bias: T) -> dict[str, T]:
        """The cell's bias as torch's two: all in ``bias_ih_l0``, zeros in ``bias_hh_l0``."""
        return {_B_IH: bias, _B_HH: zeros_like(bias)}

    def bias(self, layer: Any, tensors: Mapping[str, T]) -> T | None:
        """The cell's bias from torch's two, or ``None``."""
        return _folded_bias(tensors)

    def input_shape(self, layer: Any, canonical: Mapping[str, TensorInfo]) -> Shape | None:
        weight = ranked(canonical, _IH, 2)
        return None if weight is None else (None, weight.shape[1])

    def shape_keys(self, layer: Any) -> tuple[str, ...] | None:
        return (_IH,)


class LSTMCellAdapter(_CellAdapter):
    """``LSTMCell`` as a one-layer ``torch.nn.LSTM``: gates i, f, c, o are torch's i, f, g, o.

    ``bias`` is ``bias_ih_l0 + bias_hh_l0`` (saved as ``bias_ih_l0`` with a zero ``bias_hh_l0``).
    """

    def __repr__(self) -> str:
        return "LSTMCellAdapter()"


class SimpleRNNCellAdapter(_CellAdapter):
    """``SimpleRNNCell`` as a one-layer ``torch.nn.RNN``: ``bias`` is ``bias_ih_l0 + bias_hh_l0``."""

    def __repr__(self) -> str:
        return "SimpleRNNCellAdapter()"


class GRUCellAdapter(_CellAdapter):
    """``GRUCell(reset_after=True)`` (Keras' default) as a one-layer ``torch.nn.GRU``.

    Keras orders the gates z, r, h, torch r, z, n; the bias ``(2, 3H)`` holds the input bias and the recurrent
    one, torch's ``bias_ih_l0`` and ``bias_hh_l0``, exactly. A cell with ``reset_after=False`` applies the reset
    gate before the recurrent product, which no torch GRU does: its variables keep their Keras names
    (``gru.kernel``: Keras reads them back, torch does not).
    """

    def _torch_like(self, layer: Any) -> bool:
        return bool(getattr(layer, "reset_after", True))

    def rule_for(self, layer: Any, name: str) -> TensorRule | None:
        return (
            None
            if self._torch_like(layer) and name in ("kernel", "recurrent_kernel", "bias")
            else TensorRule(name, name)
        )

    def to_canonical(self, layer: Any, path: str, tensors: Mapping[str, T]) -> dict[str, T]:
        return super().to_canonical(layer, path, tensors) if self._torch_like(layer) else dict(tensors)

    def from_canonical(self, layer: Any, path: str, tensors: Mapping[str, T]) -> dict[str, T]:
        return super().from_canonical(layer, path, tensors) if self._torch_like(layer) else dict(tensors)

    def gates(self, layer: Any, x: T, *, to_torch: bool) -> T:
        first, second, new = split(x, 3)
        return concat([second, first, new])  # z, r, h <-> r, z, n: the same swap both ways

    def torch_biases(self, layer: Any, bias: T) -> dict[str, T]:
        rows = [reshape(row, (-1,)) for row in split(bias, 2)]
        return {name: self.gates(layer, row, to_torch=True) for name, row in zip((_B_IH, _B_HH), rows, strict=True)}

    def bias(self, layer: Any, tensors: Mapping[str, T]) -> T | None:
        if _B_IH not in tensors or _B_HH not in tensors:
            return None
        rows = [reshape(self.gates(layer, tensors[name], to_torch=False), (1, -1)) for name in (_B_IH, _B_HH)]
        return concat(rows)

    def input_shape(self, layer: Any, canonical: Mapping[str, TensorInfo]) -> Shape | None:
        if self._torch_like(layer):
            return super().input_shape(layer, canonical)
        kernel = ranked(canonical, "kernel", 2)
        return None if kernel is None else (None, kernel.shape[0])

    def shape_keys(self, layer: Any) -> tuple[str, ...] | None:
        return super().shape_keys(layer) if self._torch_like(layer) else ("kernel",)

    def __repr__(self) -> str:
        return "GRUCellAdapter()"


class RNNAdapter(CompositeAdapter, SubLayerAdapter):
    """``RNN`` (``LSTM``, ``GRU``, ``SimpleRNN``): its cell's adapter, with the tensors at the RNN's path.

    So a Keras ``lstm = LSTM(...)`` is torch's ``lstm = nn.LSTM(..., batch_first=True)`` (``lstm.weight_ih_l0``).
    Built for ``(None, None, in)``, ``in`` from the cell's input shape.

    Args:
        find: The adapter of a cell (the package's registry's ``find``).
    """

    def __init__(self, find: Callable[[Any], LayoutAdapter]) -> None:
        super().__init__(find, "cell")

    def parts(self, layer: Any) -> dict[str, Any]:
        return {"cell": layer.cell}

    def input_shape(self, layer: Any, canonical: Mapping[str, TensorInfo]) -> Shape | None:
        if getattr(layer, "stateful", False):  # its batch size is in no tensor: built from a recorded build only
            return None
        # The cell's tensors at the RNN's path, or (a walk that visits the cell on its own) at the cell's.
        below = {name.removeprefix("cell."): info for name, info in canonical.items() if name.startswith("cell.")}
        shape = input_shape_by(self.find, layer.cell, canonical) or input_shape_by(self.find, layer.cell, below)
        return None if not shape else (shape[0], None, *shape[1:])

    def shape_keys(self, layer: Any) -> tuple[str, ...] | None:
        return shape_keys_by(self.find, layer.cell)

    def builds_from_shapes(self, layer: Any) -> bool:
        """Whether its cell's adapter builds from shapes (a custom cell's, ``ConvLSTM2D``'s do not), and it is not
        stateful (Keras builds a stateful RNN only for a fixed batch size, which no tensor gives)."""
        return not getattr(layer, "stateful", False) and builds_from_shapes_by(self.find, layer.cell)

    def records_build(self, layer: Any) -> bool:
        """Whether the checkpoint records its build: where shapes cannot build it."""
        return not self.builds_from_shapes(layer)

    def __repr__(self) -> str:
        return "RNNAdapter()"


class BidirectionalAdapter(CompositeAdapter, CoreBidirectionalAdapter):
    """``Bidirectional(rnn)`` as torch's ``nn.LSTM(..., bidirectional=True, batch_first=True)`` (or GRU, RNN): the
    forward layer's tensors as the RNN's (``weight_ih_l0``), the backward layer's with ``_reverse``
    (``weight_ih_l0_reverse``). Outputs equal torch's for the default ``merge_mode="concat"``. Built as its
    forward layer is.

    Args:
        find: The adapter of an RNN (the package's registry's ``find``).
    """

    def __init__(self, find: Callable[[Any], LayoutAdapter]) -> None:
        super().__init__(find, "forward_layer", "backward_layer")

    def parts(self, layer: Any) -> dict[str, Any]:
        return {"forward_layer": layer.forward_layer, "backward_layer": layer.backward_layer}

    def input_shape(self, layer: Any, canonical: Mapping[str, TensorInfo]) -> Shape | None:
        forward = {name: info for name, info in canonical.items() if not name.endswith(self.REVERSE)}
        return input_shape_by(self.find, layer.forward_layer, forward)

    def shape_keys(self, layer: Any) -> tuple[str, ...] | None:
        """Its forward layer's, and the same keys of the backward layer (``weight_ih_l0_reverse``)."""
        keys = shape_keys_by(self.find, layer.forward_layer)
        return None if keys is None else (*keys, *(key + self.REVERSE for key in keys))

    def builds_from_shapes(self, layer: Any) -> bool:
        """Whether its forward layer's adapter builds from shapes."""
        return builds_from_shapes_by(self.find, layer.forward_layer)

    def records_build(self, layer: Any) -> bool:
        """Whether the checkpoint records its build: where shapes cannot build it."""
        return not self.builds_from_shapes(layer)

    def __repr__(self) -> str:
        return "BidirectionalAdapter()"


def _layer_key(name: str, index: int) -> str:
    """A torch recurrent tensor of layer 0 (``weight_ih_l0``) named for layer ``index`` (``weight_ih_l1``); another
    cell's tensor (a custom cell's ``kernel``) under the cell's index (``cell.1.kernel``, where its sub-layers'
    tensors are too): one key for each cell's."""
    return f"{name.removesuffix('_l0')}_l{index}" if name.endswith("_l0") else f"cell.{index}.{name}"


def _cell_tensors(tensors: Mapping[str, T], index: int) -> dict[str, T]:
    """The tensors of cell ``index`` among a stack's canonical ones, as its adapter names them (``weight_ih_l0``,
    ``kernel``): the inverse of :func:`_layer_key`."""
    suffix, prefix = f"_l{index}", f"cell.{index}."
    own = {f"{name.removesuffix(suffix)}_l0": x for name, x in tensors.items() if name.endswith(suffix)}
    own.update((name.removeprefix(prefix), x) for name, x in tensors.items() if name.startswith(prefix))
    return own


class StackedCellsAdapter(CompositeAdapter):
    """``StackedRNNCells([cell, cell, ...])`` (in an ``RNN``) as a multi-layer torch RNN (``num_layers=N``).

    Cell ``i``'s tensors are its own adapter's, with torch's layer index ``i`` (``weight_ih_l1``): a Keras
    ``RNN(StackedRNNCells([LSTMCell(h), LSTMCell(h)]))`` is torch's ``nn.LSTM(in, h, num_layers=2,
    batch_first=True)``. Built from the first cell's input shape.

    Args:
        find: The adapter of a cell (the package's registry's ``find``).
    """

    def __init__(self, find: Callable[[Any], LayoutAdapter]) -> None:
        self.find = find

    def parts(self, layer: Any) -> dict[str, Any]:
        return {str(index): cell for index, cell in enumerate(layer.cells)}

    def to_canonical(self, layer: Any, path: str, tensors: Mapping[str, T]) -> dict[str, T]:
        out: dict[str, T] = {}
        for index, cell in enumerate(layer.cells):
            own = {name.split(".", 1)[1]: x for name, x in tensors.items() if name.split(".", 1)[0] == str(index)}
            mapped = self.find(cell).to_canonical(cell, path, own)
            out.update((_layer_key(name, index), x) for name, x in mapped.items())
        return out

    def from_canonical(self, layer: Any, path: str, tensors: Mapping[str, T]) -> dict[str, T]:
        out: dict[str, T] = {}
        for index, cell in enumerate(layer.cells):
            mapped = self.find(cell).from_canonical(cell, path, _cell_tensors(tensors, index))
            out.update((f"{index}.{name}", x) for name, x in mapped.items())
        return out

    def rule_for(self, layer: Any, name: str) -> TensorRule | None:
        index, _, own = name.partition(".")
        cell = layer.cells[int(index)]
        rule = self.find(cell).rule_for(cell, own)
        return None if rule is None else TensorRule(name, _layer_key(rule.canonical, int(index)), rule.axes)

    def input_shape(self, layer: Any, canonical: Mapping[str, TensorInfo]) -> Shape | None:
        return input_shape_by(self.find, layer.cells[0], canonical) if layer.cells else None

    def shape_keys(self, layer: Any) -> tuple[str, ...] | None:
        return shape_keys_by(self.find, layer.cells[0]) if layer.cells else None

    def builds_from_shapes(self, layer: Any) -> bool:
        """Whether every cell's adapter builds from shapes."""
        return bool(layer.cells) and all(builds_from_shapes_by(self.find, cell) for cell in layer.cells)

    def __repr__(self) -> str:
        return "StackedCellsAdapter()"
