"""Variables a model reaches at several paths (tied weights): the checkpoint stores each once, and records the
other names as ``{dropped: kept}`` in its metadata, as safetensors' ``save_model`` and hubmixin-torch do, so a
port that holds the two apart (a PyTorch model with its own head) reads both."""

from __future__ import annotations

from typing import Any

from flax import nnx

from hubmixin_core.weights import LayoutRegistry
from hubmixin_flax._walk import PERSISTENT, Composites, composite_paths, dotted, layer_path, torch_path

__all__ = ["tied_metadata"]


_MAX_PATHS = 200_000  # a graph sharing nodes at every level has exponentially many paths: record no ties then


class _TooManyPaths(Exception):
    pass


def _paths(
    node: Any,
    prefix: tuple[Any, ...],
    above: frozenset[int],
    variables: dict[int, list[tuple[Any, ...]]],
    nodes: dict[tuple[Any, ...], Any],
) -> None:
    """Every path to each persistent variable below ``node`` (``variables``, in graph order) and to each graph
    node (``nodes``): a shared one under each of its paths."""
    nodes[prefix] = node
    if len(nodes) > _MAX_PATHS:
        raise _TooManyPaths
    for key, child in nnx.iter_children(node):
        path = (*prefix, key)
        if isinstance(child, nnx.Variable):
            if isinstance(child, PERSISTENT):
                variables.setdefault(id(child), []).append(path)
        elif id(child) not in above:
            _paths(child, path, above | {id(child)}, variables, nodes)


def _canonical_key(
    nodes: dict[tuple[Any, ...], Any],
    composite: Composites,
    path: tuple[Any, ...],
    registry: LayoutRegistry,
) -> tuple[str, Any] | None:
    """The checkpoint key of the variable at ``path`` and its layout (``None`` if its layer's adapter has no
    one-to-one rule for it), named as the walk names its layer's tensors (``nodes``: the graph's by path)."""
    owner = layer_path(path, composite)
    layer = nodes.get(owner)
    rule = registry.find(layer).rule_for(layer, dotted(path[len(owner) :])) if layer is not None else None
    if rule is None:
        return None
    prefix = dotted(torch_path(owner, nodes))
    return (f"{prefix}.{rule.canonical}" if prefix else rule.canonical), rule.axes


def tied_metadata(model: nnx.Module, registry: LayoutRegistry) -> dict[str, str]:
    """``{dropped key: kept key}`` for each variable ``model`` reaches at several paths, kept under its first."""
    paths: dict[int, list[tuple[Any, ...]]] = {}
    nodes: dict[tuple[Any, ...], Any] = {}
    tied: dict[str, str] = {}
    try:
        _paths(model, (), frozenset({id(model)}), paths, nodes)
    except _TooManyPaths:
        return tied
    composite = composite_paths(nodes)
    for found in (found for found in paths.values() if len(found) > 1):
        kept = _canonical_key(nodes, composite, found[0], registry)
        for other in found[1:]:
            dropped = _canonical_key(nodes, composite, other, registry)
            if kept is not None and dropped is not None and dropped[1] == kept[1] and dropped[0] != kept[0]:
                tied[dropped[0]] = kept[0]
    return tied
