"""Variables a model reaches at several paths (tied weights): the checkpoint stores each once, and records the
other names as ``{dropped: kept}`` in its metadata, as safetensors' ``save_model`` and hubmixin-torch do, so a
port that holds the two apart (a PyTorch model with its own head) reads both. At load, the variable is read under
whichever of its names the checkpoint holds it.

A variable shared by layers of different layouts (an ``nnx.Linear`` kernel reused as a raw ``nnx.Param``, its
transpose) cannot be recorded so: it is written under each path, each in its own layer's layout, and at load the
copy under the other path is checked and left out."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any

import numpy as np
from flax import nnx

from hubmixin_core.weights import Checkpoint, LayoutRegistry, report_held_apart
from hubmixin_core.weights.transforms import inverse_axes, transpose
from hubmixin_flax._walk import PERSISTENT, Composites, composite_paths, dotted, layer_path, torch_path

__all__ = ["CrossLayoutCopy", "cross_layout_copies", "named_as_model", "tied_aliases", "tied_metadata"]

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


@dataclass(frozen=True)
class CrossLayoutCopy:
    """A tied variable's other path whose layer's layout differs from that of its first path's layer."""

    kept: tuple[str, Any]
    """The checkpoint key of the first path, and its layout's axes."""
    key: str
    """The checkpoint key of this path."""
    axes: Any
    """Its layout's axes (``None``: as the variable holds it)."""
    layer_path: str
    """The layer's path, as the walk names it (``encoder``)."""
    layer: Any
    name: str
    """The variable's name in the layer (``kernel``)."""
    variable: nnx.Variable[Any]


def cross_layout_copies(model: nnx.Module, registry: LayoutRegistry) -> list[CrossLayoutCopy]:
    """The other paths of each variable ``model`` reaches at several paths through layers of other layouts: a
    metadata alias cannot say to transpose, so the variable is saved under each of them too."""
    return [copy for _, copy in _ties(model, registry) if isinstance(copy, CrossLayoutCopy)]


def _tie_groups(model: nnx.Module, registry: LayoutRegistry) -> dict[str, list[str]]:
    """``{key: other keys}`` of each variable ``model`` reaches at several paths through layers of one layout: the
    key of its first path (the one the model saves and reads it under) and those of the others, in graph order."""
    groups: dict[str, list[str]] = {}
    for kept, other in _ties(model, registry):
        if isinstance(other, str):
            groups.setdefault(kept, []).append(other)
    return groups


def _ties(model: nnx.Module, registry: LayoutRegistry) -> list[tuple[str, str | CrossLayoutCopy]]:
    """``(key of the first path, other)`` for each other path of a variable ``model`` reaches at several: its key
    where the layouts agree, else a :class:`CrossLayoutCopy`; paths without a one-to-one rule are left out."""
    paths: dict[int, list[tuple[Any, ...]]] = {}
    nodes: dict[tuple[Any, ...], Any] = {}
    found: list[tuple[str, str | CrossLayoutCopy]] = []
    try:
        _paths(model, (), frozenset({id(model)}), paths, nodes)
    except _TooManyPaths:
        return found
    composite = composite_paths(nodes)
    for tied in (tied for tied in paths.values() if len(tied) > 1):
        kept = _canonical_key(nodes, composite, tied[0], registry)
        for other in tied[1:]:
            dropped = _canonical_key(nodes, composite, other, registry)
            if kept is None or dropped is None or dropped[0] == kept[0]:
                continue
            if dropped[1] == kept[1]:
                found.append((kept[0], dropped[0]))
            else:
                owner = layer_path(other, composite)
                variable = dict(nnx.iter_children(nodes[other[:-1]]))[other[-1]]
                at = dotted(torch_path(owner, nodes))
                copy = CrossLayoutCopy(
                    kept, dropped[0], dropped[1], at, nodes[owner], dotted(other[len(owner) :]), variable
                )
                found.append((kept[0], copy))
    return found


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
    for copy in cross_layout_copies(model, registry):
        if copy.kept[0] in infos and copy.key in infos:
            _check_transposed(checkpoint, copy, strict=strict, owner=owner)
            copies.add(copy.key)
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


def _check_transposed(checkpoint: Checkpoint, copy: CrossLayoutCopy, *, strict: bool, owner: str) -> None:
    """The copy of a tied variable under a path of another layout holds its values, through both layouts: one
    that does not is raised (``strict``) or logged, as only the first path's tensor is read."""
    key, axes = copy.kept
    tensors = checkpoint.read([key, copy.key])
    ours = [
        np.asarray(tensor if layout is None else transpose(tensor, inverse_axes(layout)))
        for tensor, layout in ((tensors[key], axes), (tensors[copy.key], copy.axes))
    ]
    if ours[0].shape != ours[1].shape or not np.array_equal(ours[0], ours[1], equal_nan=True):
        description = checkpoint.description
        report_held_apart(owner, key, [copy.key], description, strict=strict, logger=logger, other_layout=True)


def _check_copies(checkpoint: Checkpoint, source: str, copies: list[str], *, strict: bool, owner: str) -> None:
    """Copies of tensor ``source`` under the other names of one tied variable hold its values (bit for bit):
    those that do not are raised (``strict``) or logged, as only ``source`` can be read."""
    if not copies:
        return
    other = [name for name in copies if not checkpoint.same_bytes(source, name)]
    if other:
        report_held_apart(owner, source, other, checkpoint.description, strict=strict, logger=logger)
