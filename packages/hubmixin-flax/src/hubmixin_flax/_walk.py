"""Walking an NNX module: each layer with the variables it holds directly, under PyTorch-style dotted paths."""

from __future__ import annotations

import difflib
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any, TypeAlias

from flax import nnx

from hubmixin_core.errors import HubMixinValueError, LayoutError
from hubmixin_flax._layout import LAYOUTS, is_composite
from hubmixin_flax._stacked import StackedPiece, StackedVariable, extra_axes, single_layer, stack_size

__all__ = [
    "PERSISTENT",
    "Held",
    "LayerVariables",
    "Composites",
    "composite_paths",
    "dotted",
    "layer_path",
    "layer_variables",
    "legacy_layer_paths",
    "torch_path",
    "unsaved_variables",
]

PERSISTENT = (nnx.Param, nnx.BatchStat)
"""The variable types a checkpoint holds; RNG state and other variables are rebuilt at load."""

_TRANSIENT = tuple(
    getattr(nnx, name)
    for name in ("RngState", "Cache", "Intermediate", "Perturbation", "OptState", "OptVariable", "OptArray")
    if hasattr(nnx, name)
)
"""Variable types that hold no model state to save: RNG state, decode caches, sown values, optimizer state."""


def unsaved_variables(model: Any) -> dict[str, str]:
    """Variables of ``model`` of other types than these (a custom ``nnx.Variable`` holding an EMA or a step
    count): they are not saved. Dotted path to type name."""
    return {
        dotted(tuple(path)): type(node).__qualname__
        for path, node in nnx.iter_graph(model)
        if isinstance(node, nnx.Variable) and not isinstance(node, PERSISTENT + _TRANSIENT)
    }


def dotted(path: tuple[Any, ...]) -> str:
    """``("blocks", 0, "linear")`` -> ``"blocks.0.linear"`` (list indices as torch writes them)."""
    return ".".join(str(key) for key in path)


_Groups: TypeAlias = dict[tuple[Any, ...], dict[str, nnx.Variable[Any]]]
"""Each layer's persistent variables (by name relative to it), by the layer's graph path."""

Held: TypeAlias = nnx.Variable[Any] | StackedPiece
"""What a layer holds: a variable, or its layer's piece of a stacked module's variable."""


@dataclass(frozen=True)
class LayerVariables:
    """One layer (a module, or an ``nnx.List`` of variables) and the persistent variables it holds directly."""

    path: str
    layer: Any
    variables: dict[str, Held]


def layer_variables(
    model: nnx.Module, stacked: Collection[str] = (), *, whole_composites: bool = False
) -> list[LayerVariables]:
    """Every layer of ``model`` holding ``nnx.Param`` or ``nnx.BatchStat`` variables, in graph order.

    A variable shared by two layers (tied weights) appears once, under its first path. The variables below a
    layer whose adapter is composite (see :func:`~hubmixin_flax._layout.is_composite`) are that layer's, named
    by their path relative to it (``query.kernel``). Below each module of ``stacked`` (dotted attribute paths of
    modules built by ``nnx.vmap``), each layer is one entry per stacked layer (``blocks.0.linear``,
    ``blocks.1.linear``...) holding :class:`~hubmixin_flax._stacked.StackedPiece` views. With
    ``whole_composites``, a composite layer's group takes in all of its sub-modules, its adapter's parts or not
    (as releases before 0.1.1 grouped them: their files name an attention's ``gate.kernel`` so).
    """
    groups, nodes = _groups(model, whole_composites=whole_composites)
    roots = _stacked_roots(stacked, nodes)
    _refuse_undeclared_stacks(groups, nodes, roots)
    layers: list[LayerVariables] = []
    done: set[tuple[Any, ...]] = set()
    for path, variables in groups.items():
        root = next((r for r in roots if path[: len(r)] == r), None)
        if root is None:
            _check_not_around(path, variables, roots)
            layers.append(LayerVariables(dotted(torch_path(path, nodes)), nodes[path], dict(variables)))
        elif root not in done:
            done.add(root)
            layers += _stacked_layers(root, {p: v for p, v in groups.items() if p[: len(root)] == root}, nodes)
    return layers


def _stacked_roots(stacked: Collection[str], nodes: dict[tuple[Any, ...], Any]) -> list[tuple[Any, ...]]:
    """The graph paths of the modules ``stacked`` names (``"encoder.blocks"``)."""
    by_name = {dotted(path): path for path, node in nodes.items() if path and isinstance(node, nnx.Module)}
    roots = []
    for name in stacked:
        if name not in by_name:
            hint = difflib.get_close_matches(name, list(by_name), n=1)
            raise HubMixinValueError(
                f"stacked_layers names no module of the model at {name!r}"
                + (f" (did you mean {hint[0]!r}?)" if hint else "")
            )
        roots.append(by_name[name])
    return roots


def _check_not_around(path: tuple[Any, ...], variables: dict[str, Any], roots: list[tuple[Any, ...]]) -> None:
    """A composite layer's group (its ``variables``, by name relative to it) must not take in a stacked module
    below it; a module that merely holds one (the model, with a parameter of its own) may."""
    inside = [
        r
        for r in roots
        if r[: len(path)] == path and any(n.startswith(f"{dotted(r[len(path) :])}.") for n in variables)
    ]
    if inside:
        raise LayoutError(
            f"stacked_layers: {dotted(inside[0])!r} is inside the layer {dotted(path)!r}, whose adapter maps all of "
            "its sub-modules' variables; stack that layer itself"
        )


def _ranked_modules(layer: Any) -> list[tuple[tuple[Any, ...], Any]]:
    """The modules whose variables' ranks tell whether ``layer`` is stacked, by path within it: the layer, or the
    sub-modules of a composite one (attention's projections)."""
    if not is_composite(layer):
        return [((), layer)]
    return [(tuple(p), node) for p, node in nnx.iter_graph(layer) if isinstance(node, nnx.Module)]


def _refuse_undeclared_stacks(
    groups: _Groups,
    nodes: dict[tuple[Any, ...], Any],
    roots: list[tuple[Any, ...]],
) -> None:
    """Layers whose variables have more axes than their type gives them (built by ``nnx.vmap``) outside the
    declared stacks are refused, naming the module to declare: the deepest one holding all such layers (the
    module around a lone stacked layer, where that module holds nothing else)."""
    found: dict[tuple[Any, ...], tuple[str, tuple[int, ...], int]] = {}
    for path in groups:
        if not any(path[: len(r)] == r for r in roots):
            for within, node in _ranked_modules(nodes[path]):
                extra = extra_axes(node)
                if extra is not None:
                    found[path] = (dotted((*within, extra[0])), *extra[1:])
                    break
    if not found:
        return
    (path, (name, shape, rank)), *_ = found.items()
    alike = [p for p, (_, other, _) in found.items() if other[0] == shape[0]]
    common = next(i for i in range(min(map(len, alike)), -1, -1) if all(q[:i] == path[:i] for q in alike))
    root = path[:common] if common else path  # two stacks apart: name the first
    holder = nodes.get(root[:-1]) if len(root) > 1 else None
    if root in groups and _is_block(holder) and all(p[: len(root) - 1] != root[:-1] or p in alike for p in groups):
        root = root[:-1]  # one stacked layer: the block of a module of its own that holds it was vmapped
    raise LayoutError(
        f"layer {dotted(path)!r} ({type(nodes[path]).__name__}) holds {name!r} of shape {shape}, with more axes "
        f"than the {rank} its type gives it: stacked by nnx.vmap (scan over layers)? Name the stacked module in "
        f"the class to save it as torch's nn.ModuleList of its layers: stacked_layers=[{dotted(root)!r}]"
    )


def _is_block(module: Any) -> bool:
    """A module of the model's own code (a transformer block), not a container of modules (``nnx.Dict``)."""
    containers = tuple(getattr(nnx, name) for name in ("Dict", "List", "Sequential") if hasattr(nnx, name))
    return isinstance(module, nnx.Module) and not isinstance(module, containers)


def _stacked_layers(root: tuple[Any, ...], groups: _Groups, nodes: dict[tuple[Any, ...], Any]) -> list[LayerVariables]:
    """The layers below the stacked module at ``root``, once per stacked layer, in layer order."""
    stacks = {
        (path, name): StackedVariable(dotted((*torch_path(path, nodes), name)), variable)
        for path, variables in groups.items()
        for name, variable in variables.items()
    }
    for path in groups:
        layer = nodes[path]
        for within, node in _ranked_modules(layer):
            single = single_layer(node)
            if single is not None:
                raise LayoutError(
                    f"stacked_layers names {dotted(root)!r}, but its layer {dotted(path)!r} ({type(layer).__name__}) "
                    f"holds {dotted((*within, single[0]))!r} of shape {single[1]}, a single layer's: a module built by "
                    "nnx.vmap has a leading layer axis more"
                )
    size = stack_size(dotted(root), {s.path: s.variable for s in stacks.values()})
    prefix = torch_path(root, nodes)
    layers = []
    for index in range(size):
        for path, variables in groups.items():
            within = torch_path(path, nodes)[len(prefix) :]
            pieces: dict[str, Held] = {name: StackedPiece(stacks[path, name], index) for name in variables}
            layers.append(LayerVariables(dotted((*prefix, index, *within)), nodes[path], pieces))
    return layers


def legacy_layer_paths(model: nnx.Module) -> dict[str, str]:
    """``{path earlier releases gave a layer: its path now}`` for the layers inside an ``nnx.Sequential``
    (``mlp.layers.0.layers.1`` is now ``mlp.0.1``), longest old path first: the first one a key starts with is
    the key's whole layer."""
    groups, nodes = _groups(model)
    renamed = {dotted(path): dotted(torch_path(path, nodes)) for path in groups}
    return {old: new for old, new in sorted(renamed.items(), key=lambda item: -len(item[0])) if old != new}


def _groups(model: nnx.Module, *, whole_composites: bool = False) -> tuple[_Groups, dict[tuple[Any, ...], Any]]:
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
    if whole_composites:
        composite = dict.fromkeys(composite)
    groups: _Groups = {}
    for path, variable in found:
        owner = layer_path(path, composite)
        groups.setdefault(owner, {})[dotted(path[len(owner) :])] = variable
    return groups, nodes


Composites = dict[tuple[Any, ...], Collection[str] | None]
"""Paths of composite layers, each with the sub-modules its adapter maps (``None``: all)."""


def composite_paths(nodes: dict[tuple[Any, ...], Any]) -> Composites:
    """The paths of ``nodes`` (graph nodes by path) whose adapter maps their sub-modules' variables too, each with
    the sub-modules it maps."""
    return {
        path: LAYOUTS.find(node).parts(node)  # type: ignore[attr-defined]  # a CompositeAdapter
        for path, node in nodes.items()
        if isinstance(node, nnx.Module) and is_composite(node)
    }


def layer_path(path: tuple[Any, ...], composite: Composites) -> tuple[Any, ...]:
    """The path of the layer whose tensors include the variable at ``path``: its first composite ancestor (of
    ``composite``) whose adapter maps the sub-module holding it, else the module holding it."""
    for i in range(len(path) - 1):
        if path[:i] in composite:
            parts = composite[path[:i]]
            if parts is None or path[i] in parts:
                return path[:i]
    return path[:-1]


def torch_path(path: tuple[Any, ...], nodes: dict[tuple[Any, ...], Any]) -> tuple[Any, ...]:
    """``path`` without the ``layers`` step under an ``nnx.Sequential``: its layers are ``mlp.0``, ``mlp.1``, as
    torch names an ``nn.Sequential``'s modules (and as hubmixin-keras names a ``keras.Sequential``'s layers)."""
    kept = [
        key for i, key in enumerate(path) if not (key == "layers" and isinstance(nodes.get(path[:i]), nnx.Sequential))
    ]
    return tuple(kept)
