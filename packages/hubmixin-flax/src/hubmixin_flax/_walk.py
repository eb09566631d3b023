"""Walking an NNX module: each layer with the variables it holds directly, under PyTorch-style dotted paths."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flax import nnx

from hubmixin_flax._layout import is_composite

__all__ = [
    "PERSISTENT",
    "LayerVariables",
    "composite_paths",
    "dotted",
    "layer_path",
    "layer_variables",
    "legacy_layer_paths",
    "torch_path",
]

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

    A variable shared by two layers (tied weights) appears once, under its first path. The variables below a
    layer whose adapter is composite (see :func:`~hubmixin_flax._layout.is_composite`) are that layer's, named
    by their path relative to it (``query.kernel``).
    """
    groups, nodes = _groups(model)
    return [LayerVariables(dotted(torch_path(path, nodes)), nodes[path], v) for path, v in groups.items()]


def legacy_layer_paths(model: nnx.Module) -> dict[str, str]:
    """``{path earlier releases gave a layer: its path now}`` for the layers inside an ``nnx.Sequential``
    (``mlp.layers.0.layers.1`` is now ``mlp.0.1``)."""
    groups, nodes = _groups(model)
    renamed = {dotted(path): dotted(torch_path(path, nodes)) for path in groups}
    return {old: new for old, new in renamed.items() if old != new}


def _groups(
    model: nnx.Module,
) -> tuple[dict[tuple[Any, ...], dict[str, nnx.Variable[Any]]], dict[tuple[Any, ...], Any]]:
    """Each layer's persistent variables by its graph path, and every graph node by its path."""
    nodes: dict[tuple[Any, ...], Any] = {}
    found: list[tuple[tuple[Any, ...], nnx.Variable[Any]]] = []
    for path, node in nnx.iter_graph(model):
        if isinstance(node, nnx.Variable):
            if isinstance(node, PERSISTENT):
                found.append((tuple(path), node))
        else:
            nodes[tuple(path)] = node
    composite = composite_paths(nodes)
    groups: dict[tuple[Any, ...], dict[str, nnx.Variable[Any]]] = {}
    for path, variable in found:
        owner = layer_path(path, composite)
        groups.setdefault(owner, {})[dotted(path[len(owner) :])] = variable
    return groups, nodes


def composite_paths(nodes: dict[tuple[Any, ...], Any]) -> set[tuple[Any, ...]]:
    """The paths of ``nodes`` (graph nodes by path) whose adapter maps their sub-modules' variables too."""
    return {path for path, node in nodes.items() if isinstance(node, nnx.Module) and is_composite(node)}


def layer_path(path: tuple[Any, ...], composite: set[tuple[Any, ...]]) -> tuple[Any, ...]:
    """The path of the layer whose tensors include the variable at ``path``: its first composite ancestor (of
    ``composite``), else the module holding it."""
    return next((path[:i] for i in range(len(path) - 1) if path[:i] in composite), path[:-1])


def torch_path(path: tuple[Any, ...], nodes: dict[tuple[Any, ...], Any]) -> tuple[Any, ...]:
    """``path`` without the ``layers`` step under an ``nnx.Sequential``: its layers are ``mlp.0``, ``mlp.1``, as
    torch names an ``nn.Sequential``'s modules (and as hubmixin-keras names a ``keras.Sequential``'s layers)."""
    kept = [
        key for i, key in enumerate(path) if not (key == "layers" and isinstance(nodes.get(path[:i]), nnx.Sequential))
    ]
    return tuple(kept)
