"""Walking an NNX module: each layer with the variables it holds directly, under PyTorch-style dotted paths."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flax import nnx

__all__ = ["PERSISTENT", "LayerVariables", "dotted", "layer_variables"]

PERSISTENT = (nnx.Param, nnx.BatchStat)
"""The variable types a checkpoint holds; RNG state and other variables are rebuilt at load."""


def dotted(path: tuple[Any, ...]) -> str:
    """``("blocks", 0, "linear")`` -> ``"blocks.0.linear"`` (list indices as torch writes them)."""
    return ".".join(str(key) for key in path)


@dataclass(frozen=True)
class LayerVariables:
    """One layer (a module, or an ``nnx.List`` of variables) and the persistent variables it holds directly."""

    path: str
    layer: Any
    variables: dict[str, nnx.Variable[Any]]


def layer_variables(model: nnx.Module) -> list[LayerVariables]:
    """Every layer of ``model`` holding ``nnx.Param`` or ``nnx.BatchStat`` variables, in graph order.

    A variable shared by two layers (tied weights) appears once, under its first path.
    """
    nodes: dict[tuple[Any, ...], Any] = {}
    groups: dict[tuple[Any, ...], dict[str, nnx.Variable[Any]]] = {}
    for path, node in nnx.iter_graph(model):
        if isinstance(node, nnx.Variable):
            if isinstance(node, PERSISTENT):
                groups.setdefault(tuple(path[:-1]), {})[str(path[-1])] = node
        else:
            nodes[tuple(path)] = node
    return [LayerVariables(dotted(path), nodes[path], variables) for path, variables in groups.items()]
