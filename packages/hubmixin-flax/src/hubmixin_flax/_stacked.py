"""Modules stacked by a transform (``nnx.vmap`` to scan over layers), saved as torch's ``nn.ModuleList``.

A module built by ``nnx.vmap`` holds each variable once, with a leading axis of one entry per layer
(``blocks.linear.kernel`` of shape ``(L, in, out)``). The class names such modules (``stacked_layers``); the walk
then hands the adapters one :class:`StackedPiece` per layer (``blocks.0.linear``, ``blocks.1.linear``...), so the
checkpoint holds what a PyTorch port with an ``nn.ModuleList`` of those layers holds, and loads into it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import jax
import numpy as np
from flax import nnx
from jax.sharding import NamedSharding, PartitionSpec, Sharding
from numpy.typing import NDArray

from hubmixin_core.errors import LayoutError
from hubmixin_flax._host import refuse_random_keys, to_numpy

__all__ = [
    "StackedPiece",
    "StackedVariable",
    "extra_axes",
    "nested_stack",
    "single_layer",
    "stack_size",
    "with_layer_axis",
]


@dataclass(eq=False)
class StackedVariable:
    """A variable of a stacked module (``path``: its own dotted path) and the layers read into it so far."""

    path: str
    variable: nnx.Variable[Any]
    _host: NDArray[Any] | None = field(default=None, repr=False)
    filled: set[int] = field(default_factory=set)

    @property
    def size(self) -> int:
        """The number of stacked layers (the leading axis)."""
        return int(self.variable.get_value().shape[0])

    def host(self) -> NDArray[Any]:
        """The whole value as one numpy array, converted once (each layer's piece is a view of it)."""
        if self._host is None:
            refuse_random_keys(self.variable.get_value(), self.path)
            self._host = np.array(to_numpy(self.variable.get_value()))  # writable: layers may be filled into it
        return self._host

    def fill(self, index: int, value: NDArray[Any]) -> None:
        """Layer ``index`` read from a checkpoint; the host buffer of the whole value is allocated at the first."""
        if self._host is None:
            abstract = self.variable.get_value()
            self._host = np.empty((self.size, *value.shape), dtype=value.dtype)
            if not isinstance(abstract, jax.ShapeDtypeStruct):  # a value to keep where no layer is read
                self._host[...] = np.asarray(abstract)
        self._host[index] = value
        self.filled.add(index)

    @property
    def complete(self) -> bool:
        """Whether every layer has been read."""
        return len(self.filled) == self.size

    def release(self) -> NDArray[Any]:
        """The host buffer, dropped from this object (the caller places it)."""
        host = self.host()
        self._host = None
        return host


def with_layer_axis(sharding: Sharding | None, ndim: int) -> Sharding | None:
    """``sharding`` for a stacked variable of ``ndim`` axes: a partition spec written for one layer (one axis
    short, as ``nnx.with_partitioning`` inside a plain ``nnx.vmap`` leaves it) gets the layer axis in front,
    unpartitioned, as Flax's own construction places it."""
    if isinstance(sharding, NamedSharding) and len(sharding.spec) == ndim - 1:
        return NamedSharding(sharding.mesh, PartitionSpec(None, *sharding.spec))  # type: ignore[no-untyped-call]
    return sharding


class StackedPiece:
    """Layer ``index`` of a :class:`StackedVariable`: what a variable of that layer alone would hold."""

    def __init__(self, stacked: StackedVariable, index: int) -> None:
        self.stacked = stacked
        self.index = index

    def get_value(self) -> Any:
        """``ShapeDtypeStruct`` of one layer while the model is abstract, else that layer's array (numpy)."""
        value = self.stacked.variable.get_value()
        if isinstance(value, jax.ShapeDtypeStruct):
            return jax.ShapeDtypeStruct(value.shape[1:], value.dtype)  # type: ignore[no-untyped-call]
        return self.stacked.host()[self.index]


def stack_size(root: str, variables: dict[str, nnx.Variable[Any]]) -> int:
    """The number of layers the module at ``root`` stacks: the leading axis its variables (by path) share.

    Raises:
        LayoutError: a variable has no leading axis, or not the size the others have.
    """
    sizes = {path: tuple(variable.get_value().shape)[:1] for path, variable in variables.items()}
    distinct = set(sizes.values())
    if len(distinct) > 1 or () in distinct:
        shapes = ", ".join(f"{path} {tuple(v.get_value().shape)}" for path, v in variables.items())
        raise LayoutError(
            f"stacked_layers: the variables below {root!r} do not share one leading (layer) axis: {shapes}"
        )
    return distinct.pop()[0] if distinct else 0


def _general_ranks(layer: Any) -> dict[str, int]:
    batch, outputs = len(layer.batch_axis), len(tuple(layer.out_features))
    return {"kernel": batch + len(tuple(layer.in_features)) + outputs, "bias": batch + outputs}


_NORM_RANKS = {"scale": 1, "bias": 1, "mean": 1, "var": 1}
_RANKS: tuple[tuple[type[Any] | tuple[type[Any], ...], Callable[[Any], dict[str, int]]], ...] = (
    (nnx.Linear, lambda layer: {"kernel": 2, "bias": 1}),
    (nnx.LinearGeneral, _general_ranks),
    (nnx.Conv, lambda layer: {"kernel": len(layer.kernel_size) + 2, "bias": 1}),
    (nnx.ConvTranspose, lambda layer: {"kernel": len(layer.kernel_size) + 2, "bias": 1}),
    (nnx.Embed, lambda layer: {"embedding": 2}),
    ((nnx.LayerNorm, nnx.RMSNorm, nnx.GroupNorm, nnx.BatchNorm), lambda layer: _NORM_RANKS),
)


def _shapes_and_ranks(layer: Any) -> list[tuple[str, tuple[int, ...], int]]:
    """``(name, shape, rank)`` of each variable of ``layer`` (a built-in NNX layer) whose rank its type sets."""
    ranks = next((rule(layer) for kind, rule in _RANKS if isinstance(layer, kind)), {})
    found = []
    for name, rank in ranks.items():
        variable = getattr(layer, name, None)
        if isinstance(variable, nnx.Variable):
            found.append((name, tuple(variable.get_value().shape), rank))
    return found


def extra_axes(layer: Any) -> tuple[str, tuple[int, ...], int] | None:
    """``(name, shape, rank)`` of a variable of ``layer`` (a built-in NNX layer) with more axes than that type of
    layer gives it (``rank``): the mark of a module built by ``nnx.vmap``; ``None`` if there is none."""
    return next(((n, shape, rank) for n, shape, rank in _shapes_and_ranks(layer) if len(shape) > rank), None)


def single_layer(layer: Any) -> tuple[str, tuple[int, ...]] | None:
    """``(name, shape)`` of a variable of ``layer`` (a built-in NNX layer) with exactly the rank its type gives
    it, so not stacked; ``None`` if there is none."""
    return next(((n, shape) for n, shape, rank in _shapes_and_ranks(layer) if len(shape) == rank), None)


def nested_stack(layer: Any) -> tuple[str, tuple[int, ...], int] | None:
    """``(name, shape, rank)`` of a variable of ``layer`` (a layer of a stacked module) or of its sub-modules with
    two axes or more beyond the ``rank`` its type gives it: a stack built by ``nnx.vmap`` inside a stacked module
    (vmapped experts in scanned layers); ``None`` if there is none."""
    for path, node in nnx.iter_graph(layer):
        if isinstance(node, nnx.Module):
            for name, shape, rank in _shapes_and_ranks(node):
                if len(shape) > rank + 1:
                    return ".".join(map(str, (*path, name))), shape, rank
    return None
