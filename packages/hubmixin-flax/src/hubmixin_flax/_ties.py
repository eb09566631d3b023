"""Variables a model reaches at several paths (tied weights): the checkpoint stores each once, and records the
other names as ``{dropped: kept}`` in its metadata, as safetensors' ``save_model`` and hubmixin-torch do, so a
port that holds the two apart (a PyTorch model with its own head) reads both. At load, the variable is read under
whichever of its names the checkpoint holds it."""

from __future__ import annotations

import logging
import re
from typing import Any

from flax import nnx

from hubmixin_core.errors import WeightsError, format_names
from hubmixin_core.weights import Checkpoint, LayoutRegistry
from hubmixin_flax._walk import PERSISTENT, Composites, composite_paths, dotted, layer_path, torch_path

__all__ = ["named_as_model", "tied_aliases", "tied_metadata"]

logger = logging.getLogger("hubmixin_flax")


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


def tied_aliases(model: nnx.Module) -> dict[str, str]:
    """``{other path: first path}`` of each variable ``model`` reaches at several paths (``shared.embedding``:
    ``embed_tokens.embedding``), as ``sharding=`` names them; the first, in graph order, is the path the model
    loads and places it under."""
    paths: dict[int, list[tuple[Any, ...]]] = {}
    nodes: dict[tuple[Any, ...], Any] = {}
    try:
        _paths(model, (), frozenset({id(model)}), paths, nodes)
    except _TooManyPaths:
        return {}
    return {
        dotted(torch_path(other, nodes)): dotted(torch_path(found[0], nodes))
        for found in paths.values()
        for other in found[1:]
    }


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
    return {other: kept for kept, others in _tie_groups(model, registry).items() for other in others}


def _tie_groups(model: nnx.Module, registry: LayoutRegistry) -> dict[str, list[str]]:
    """``{key: other keys}`` of each variable ``model`` reaches at several paths: the key of its first path (the
    one the model saves and reads it under) and those of the others, in graph order."""
    paths: dict[int, list[tuple[Any, ...]]] = {}
    nodes: dict[tuple[Any, ...], Any] = {}
    groups: dict[str, list[str]] = {}
    try:
        _paths(model, (), frozenset({id(model)}), paths, nodes)
    except _TooManyPaths:
        return groups
    composite = composite_paths(nodes)
    for found in (found for found in paths.values() if len(found) > 1):
        kept = _canonical_key(nodes, composite, found[0], registry)
        for other in found[1:]:
            dropped = _canonical_key(nodes, composite, other, registry)
            if kept is not None and dropped is not None and dropped[1] == kept[1] and dropped[0] != kept[0]:
                groups.setdefault(kept[0], []).append(dropped[0])
    return groups


def named_as_model(
    model: nnx.Module, checkpoint: Checkpoint, registry: LayoutRegistry, *, strict: bool, owner: str
) -> Checkpoint:
    """``checkpoint`` with each variable ``model`` reaches at several paths under the key the model reads it by,
    where the file holds it under another of its paths only (torch's ``named_parameters()`` keeps another one, and
    a file without tie metadata says nothing more), and its copies under the other paths left out (a
    ``state_dict()`` holds one per path).

    Raises:
        WeightsError: with ``strict``, a copy holds other values than the one read (else logged, and not read).
    """
    renames: dict[str, str] = {}
    copies: set[str] = set()
    infos = checkpoint.infos
    for kept, others in _tie_groups(model, registry).items():
        stored = [name for name in (kept, *others) if name in infos]
        if not stored:
            continue
        source, same = stored[0], [name for name in stored[1:] if infos[name] == infos[stored[0]]]
        if source != kept:
            renames[rf"^{re.escape(source)}$"] = kept
        _check_copies(checkpoint, source, same, strict=strict, owner=owner)
        copies.update(same)
    return checkpoint.without(copies).renamed(renames)


def _check_copies(checkpoint: Checkpoint, source: str, copies: list[str], *, strict: bool, owner: str) -> None:
    """Copies of tensor ``source`` under the other names of one tied variable hold its values (bit for bit):
    those that do not are raised (``strict``) or logged, as only ``source`` can be read."""
    if not copies:
        return
    other = [name for name in copies if not checkpoint.same_bytes(source, name)]
    if not other:
        return
    message = (
        f"{owner}: {format_names([source, *other])} are one variable in the model (tied), but "
        f"{checkpoint.description} holds them apart with other values: {source!r} is loaded, {format_names(other)} not"
    )
    if strict:
        raise WeightsError(message)
    logger.warning("%s", message)
