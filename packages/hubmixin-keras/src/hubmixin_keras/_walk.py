"""Walking a Keras model by attribute: each layer under its attribute path, and the variables it holds itself.

Keys come from attribute names and list indices (``encoder.blocks.0.dense``), never from Keras' auto-generated
layer names (``dense_3``), so the same class always maps to the same keys, on every backend. A layer reachable
under several paths is walked once, under its first: layers held directly by attributes come before those in
lists and dicts (on the torch backend Keras keeps the two kinds apart, so the order they were set in is not
known there), each kind in the order it was set. Layers that only private attributes hold (``self._inner``, keys
``_inner.weight``, as torch names a module's) come after all those reached through public ones.
"""

from __future__ import annotations

import bisect
import re
import weakref
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, TypeVar

import keras
from keras.src.models.functional import Functional

from hubmixin_keras._layout import parts_of, shape_keys_of
from hubmixin_keras._torch_module import module_tensors

__all__ = [
    "built_from_its_layers",
    "has_own_build",
    "keras_container",
    "held_variables",
    "named_layers",
    "other_paths",
    "shared_path_renames",
    "own_variables",
    "tf_variables",
    "torch_tensors",
    "unreached_layers",
    "unreached_variables",
]


T = TypeVar("T")

_KERAS_OWN = frozenset(
    {"_layers", "_tracker", "_functional", "_operations", "_operations_by_depth", "_nodes", "_nodes_by_depth"}
    | {"_inbound_nodes", "_outbound_nodes", "_inputs", "_outputs", "_inputs_struct", "_outputs_struct"}
)
"""Private attributes in which Keras keeps layers of its own bookkeeping (every tracked sub-layer, a functional
model's graph): never paths of their own."""


def _children(layer: keras.Layer, *, private: bool = False) -> Iterator[tuple[str, keras.Layer]]:
    """Sub-layers held in public attributes, directly or in (nested) lists, tuples and dicts; a ``Sequential``'s
    layers by index (``body.0``, as torch names an ``nn.Sequential``'s modules), and a functional model's after
    its attributes' (``backbone.0``: its layers in Keras' order, inputs left out); with ``private``, then those
    held in private attributes (``_inner``, as torch names a module's)."""
    if isinstance(layer, keras.Sequential):
        for index, item in enumerate(layer.layers):
            yield str(index), item
        return
    # On the torch backend a layer is a torch.nn.Module: sub-layers it is given live in its `_modules`.
    attributes = vars(layer)
    if modules := attributes.get("_modules"):
        attributes = {**attributes, **modules}
    holders = [(name, value) for name, value in attributes.items() if _may_hold(_class_of(value), keras.Layer)]
    public = [(name, value) for name, value in holders if not name.startswith("_")]
    for name, value in sorted(public, key=lambda item: not isinstance(item[1], keras.Layer)):  # stable
        yield from _contained(name, value, keras.Layer)
    if isinstance(layer, Functional):
        graph = [item for item in layer.layers if not isinstance(item, keras.layers.InputLayer)]
        for index, item in enumerate(graph):
            yield str(index), item
    if private:
        hidden = [(n, v) for n, v in holders if n.startswith("_") and n not in _KERAS_OWN]
        for name, value in sorted(hidden, key=lambda item: not isinstance(item[1], keras.Layer)):
            yield from _contained(name, value, keras.Layer)


_HOLDERS: dict[tuple[type, type], bool] = {}


def _class_of(value: Any) -> type:
    """``value``'s class as ``isinstance`` sees it (TensorFlow tracks tuples and dicts in proxies of them), but a
    weak reference's own (``weakref.proxy(layer)`` is no layer of the model's)."""
    kind = type(value)
    return kind if kind in weakref.ProxyTypes else value.__class__


def _may_hold(value_type: type, kind: type) -> bool:
    """Whether a value of ``value_type`` can be or hold a ``kind``: most attributes (flags, names, initialisers)
    cannot, and a layer has dozens of them (a per-type answer keeps a walk of a large model fast)."""
    key = (value_type, kind)
    if key not in _HOLDERS:
        _HOLDERS[key] = issubclass(value_type, (kind, list, tuple, Mapping))
    return _HOLDERS[key]


def _contained(path: str, value: Any, kind: type[T]) -> Iterator[tuple[str, T]]:
    """The objects of type ``kind`` that ``value`` (at ``path``) is or holds in (nested) lists, tuples and dicts."""
    if not _may_hold(_class_of(value), kind):
        return
    if isinstance(value, kind):
        yield path, value
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from _contained(f"{path}.{index}", item, kind)
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from _contained(f"{path}.{key}", item, kind)


def named_layers(model: keras.Layer) -> list[tuple[str, keras.Layer]]:
    """``model`` (path ``""``) and every sub-layer under its attribute path; a shared layer once, first path.

    Layers reached through public attributes come first; then those only private attributes hold, each under
    the path from its holder's (``block._inner``), so a layer's path never depends on private ones when it has
    a public one.
    """
    first: dict[int, str] = {}
    found: list[tuple[str, keras.Layer]] = []

    def visit(path: str, layer: keras.Layer) -> None:
        if id(layer) in first:
            return
        first[id(layer)] = path
        found.append((path, layer))
        for name, child in _walked_children(layer):
            visit(f"{path}.{name}" if path else name, child)

    walked: set[int] = set()

    def reach(path: str, layer: keras.Layer) -> None:
        if id(layer) in walked:
            return
        walked.add(id(layer))
        if id(layer) not in first:
            first[id(layer)] = path
            found.append((path, layer))
        path = first[id(layer)]
        for name, child in _walked_children(layer, private=True):
            reach(f"{path}.{name}" if path else name, child)

    visit("", model)
    reach("", model)
    return found


def _walked_children(layer: keras.Layer, *, private: bool = False) -> Iterator[tuple[str, keras.Layer]]:
    """The sub-layers of ``layer`` walked as layers of their own: :func:`_children`, less the parts a composite
    layer's adapter maps with its own variables (``parts_of``); the sub-layers of those parts are walked under
    the part's prefix (a custom RNN cell's ``Dense``: ``cell.input_proj``), and so are a composite's other
    sub-layers (a ``MultiHeadAttention`` subclass's ``gate``)."""
    parts = _parts_closure(layer, "")
    if not parts:
        yield from _children(layer, private=private)
        return
    covered = {id(part) for _, part in parts}
    for prefix, holder in [("", layer), *parts]:
        for name, child in _children(holder, private=private):
            if id(child) not in covered:
                yield (f"{prefix}.{name}" if prefix else name), child


def _parts_closure(layer: keras.Layer, prefix: str) -> list[tuple[str, keras.Layer]]:
    """The parts of ``layer`` (see :func:`~hubmixin_keras._layout.parts_of`), theirs too, by prefixed name."""
    found = []
    for name, part in parts_of(layer).items():
        path = f"{prefix}.{name}" if prefix else name
        found += [(path, part), *_parts_closure(part, path)]
    return found


_MAX_PATHS = 200_000  # a model sharing layers at every level has exponentially many paths (as in hubmixin_flax)


class _TooManyPaths(Exception):
    pass


def other_paths(model: keras.Layer) -> dict[str, str]:
    """The paths of layers reachable under several, other than their first: ``{other path: first path}``
    (a shared layer's sub-layers under each of its paths too); ``{}`` past :data:`_MAX_PATHS` paths."""
    first = {id(layer): path for path, layer in named_layers(model)}
    others: dict[str, str] = {}
    visited = 0

    def visit(path: str, layer: keras.Layer, above: frozenset[int]) -> None:
        nonlocal visited
        visited += 1
        if visited > _MAX_PATHS:
            raise _TooManyPaths
        if first[id(layer)] != path:
            others[path] = first[id(layer)]
        for name, child in _walked_children(layer):
            if id(child) not in above:  # a layer holding one of its own ancestors is not walked again
                visit(f"{path}.{name}" if path else name, child, above | {id(child)})

    try:
        visit("", model, frozenset({id(model)}))
    except _TooManyPaths:
        return {}
    return others


def shared_path_renames(model: keras.Layer, names: Iterable[str]) -> dict[str, str]:
    """Renames (regular expression: replacement, as ``key_mapping``) of the tensors ``names`` a checkpoint holds
    under another path of a shared layer than its first (``blocks.0.kernel`` for a layer that is also
    ``self.first``, as a port naming it once saves it), where the checkpoint lacks the first path."""
    ordered = sorted(names)

    def holds(path: str) -> bool:
        prefix = f"{path}."
        at = bisect.bisect_left(ordered, prefix)
        return at < len(ordered) and ordered[at].startswith(prefix)

    renames: dict[str, str] = {}
    firsts: set[str] = set()
    for other, first in other_paths(model).items():
        if first not in firsts and holds(other) and not holds(first):
            renames[rf"^{re.escape(other)}\."] = f"{first}."
            firsts.add(first)
    return renames


def has_own_build(layer: keras.Layer) -> bool:
    """Whether ``layer``'s class defines a ``build`` (Keras' default one only marks the layer built)."""
    return not getattr(type(layer).build, "_is_default", False)


def keras_container(layer: keras.Layer) -> bool:
    """Whether ``layer`` is a model whose ``build`` is Keras' own (the default, or ``Sequential``'s, which makes
    its graph of its layers): it makes no layers or variables of its own."""
    return isinstance(layer, keras.Model) and type(layer).build.__module__.startswith("keras.")


def built_from_its_layers(layer: keras.Layer) -> bool:
    """Whether a build of ``layer`` makes nothing the load must make (Keras' default ``build``, or a Keras
    container's): a load builds its layers, then marks it built (``mark_containers_built``)."""
    return not has_own_build(layer) or keras_container(layer)


def own_variables(layer: keras.Layer) -> dict[str, Any]:
    """The variables ``layer`` created itself (not its sub-layers', except the parts of a composite layer), by name;
    a wrapped torch module's tensors by ``state_dict`` name (``_torch_module``)."""
    module = module_tensors(layer)
    if module is not None:
        return module
    own = _local_names(layer, _live_variables(layer, _tracked_variables(layer)))
    for prefix, part in parts_of(layer).items():  # a composite layer's sub-layers: `query.kernel`, `cell.bias`
        own.update((f"{prefix}.{name}", variable) for name, variable in own_variables(part).items())
    return own


_AUTO_NAMED = re.compile(r"variable(_\d+)?")
"""Keras' names for variables made without one (``add_weight(shape=...)``, ``keras.Variable(value)``): numbered
across the whole process, so never keys."""

_VARIABLE_LISTS = frozenset({"_trainable_variables", "_non_trainable_variables", "_seed_generators"})
"""Private attributes in which Keras keeps every variable a layer tracks: never paths of their own."""


def _tracked_variables(layer: keras.Layer) -> list[Any]:
    """The variables Keras tracks as ``layer``'s own."""
    return [*getattr(layer, "_trainable_variables", []), *getattr(layer, "_non_trainable_variables", [])]


def _live_variables(layer: keras.Layer, variables: Sequence[Any]) -> list[Any]:
    """``variables`` less those a retried ``build`` left behind (see :func:`_retry_leftovers`)."""
    if len({variable.name for variable in variables}) == len(variables):
        return list(variables)
    held = held_variables(layer)
    dead: set[int] = set()
    for tracked in (getattr(layer, "_trainable_variables", []), getattr(layer, "_non_trainable_variables", [])):
        dead |= _retry_leftovers(list(tracked), held)
    return [variable for variable in variables if id(variable) not in dead]


def _retry_leftovers(tracked: list[Any], held: Mapping[int, str]) -> set[int]:
    """The ``id`` of the variables of ``tracked`` (one of a layer's lists, in the order they were made) that a
    retried ``build`` left behind: a run that no attribute holds, made of one or more attempts, each named as the
    start of the variables that follow the run, of which an attribute holds one.

    Keras runs a layer's ``build`` again when the model's first, symbolic, build fails (a ``keras.Variable(value)``
    or a numpy read of a variable in ``build``; twice on the torch backend): the failed attempts' variables stay
    tracked, under the same names, while the layer's attributes hold the last's, which its ``call`` uses. Any
    other repeated name (a variable used through ``self.weights``) is kept.
    """
    names = [variable.name for variable in tracked]
    for start in range(len(tracked)):
        for end in range(start + 1, len(tracked)):
            if id(tracked[end - 1]) in held:
                break
            if names[end] == names[start] and _attempts(names[start:end], names[end:], tracked[end:], held):
                return {id(variable) for variable in tracked[start:end]}
    return set()


def _attempts(run: list[str], live: list[str], after: list[Any], held: Mapping[int, str]) -> bool:
    """Whether ``run`` splits into attempts, each named as the start of ``live``, one of whose first ones (the
    variables ``after`` the run) an attribute holds."""
    longest = at = 0
    for name in run:
        if at < len(live) and name == live[at]:
            at += 1
        elif name == live[0]:
            at = 1
        else:
            return False
        longest = max(longest, at)
    return any(id(variable) in held for variable in after[:longest])


def _local_names(layer: keras.Layer, variables: Sequence[Any]) -> dict[str, Any]:
    """``variables`` (a layer's own) by name: their Keras names where given and distinct, else the attribute
    holding them (``self.shift = self.add_weight(shape=...)`` is ``shift``; ``self.kernels = [...]``,
    ``kernels.0``), so the same class always maps to the same keys; a name still repeated is numbered in the
    order Keras tracks the variables (``kernel``, ``kernel_1``)."""
    repeated = Counter(variable.name for variable in variables)
    held: dict[int, str] | None = None
    own: dict[str, Any] = {}
    for variable in variables:
        name = variable.name
        if repeated[name] > 1 or _AUTO_NAMED.fullmatch(name):
            held = held_variables(layer) if held is None else held
            name = held.get(id(variable), name)
        base, number = name, 0
        while name in own:
            number += 1
            name = f"{base}_{number}"
        own[name] = variable
    return own


def held_variables(layer: keras.Layer) -> dict[int, str]:
    """The attribute path of each variable ``layer`` holds in its attributes (public ones first), by ``id``."""
    attributes = sorted(vars(layer).items(), key=lambda item: item[0].startswith("_"))
    held: dict[int, str] = {}
    for name, value in attributes:
        if name not in _VARIABLE_LISTS and name not in _KERAS_OWN:
            for path, variable in _contained(name, value, keras.Variable):
                held.setdefault(id(variable), path)
    return held


def torch_tensors(model: keras.Layer) -> list[str]:
    """On the PyTorch backend, the paths of the torch parameters and persistent buffers the walked layers hold
    themselves that are no Keras variable's value (``self.scale = nn.Parameter(...)``,
    ``self.register_buffer("shift", ...)``): torch trains them, but only Keras variables are saved. Keras' own
    (``_torch_params``, a sub-module) and a ``TorchModuleWrapper``'s module's (saved, see ``_torch_module``) are
    not the layers' own."""
    if keras.backend.backend() != "torch":
        return []
    import torch  # (the backend's own: installed)

    values = {id(getattr(variable, "_value", None)) for variable in model.variables}  # seed generators' too
    found = []
    for path, layer in named_layers(model):
        for prefix, holder in [(path, layer), *_parts_closure(layer, path)]:
            buffers = torch.nn.Module.named_buffers(holder, recurse=False)
            tensors = [  # torch's own method: Keras' override tracks the layer's variables as it runs
                *torch.nn.Module.named_parameters(holder, recurse=False),
                *((name, buffer) for name, buffer in buffers if name not in holder._non_persistent_buffers_set),
            ]
            found += [f"{prefix}.{name}" if prefix else name for name, tensor in tensors if id(tensor) not in values]
    return found


def tf_variables(model: keras.Layer) -> list[str]:
    """On the TensorFlow backend, the paths of the ``tf.Variable`` s the walked layers hold themselves, in an
    attribute or a list, tuple or dict of one, that are no Keras variable's value (``self.shift = tf.Variable(...)``):
    only Keras variables are saved."""
    if keras.backend.backend() != "tensorflow":
        return []
    import tensorflow as tf  # (the backend's own: installed)

    values = {id(getattr(variable, "_value", None)) for variable in model.variables}
    found = []
    for path, layer in named_layers(model):
        for prefix, holder in [(path, layer), *_parts_closure(layer, path)]:
            if _keras_preprocessing(holder):  # (Keras' lookups keep their tf-idf weights so, subclassed or not)
                continue
            for name, value in vars(holder).items():
                if name.startswith("_self_"):  # (TensorFlow's own tracking of the layer's attributes)
                    continue
                found += [
                    f"{prefix}.{entry}" if prefix else entry
                    for entry, item in _held_variables(name, value, tf.Variable)
                    if id(item) not in values
                ]
    return found


def _keras_preprocessing(layer: keras.Layer) -> bool:
    """Whether ``layer`` is (or subclasses) one of Keras' preprocessing layers, which hold TensorFlow state of
    their own (a ``StringLookup``'s ``idf_weights``), not the user's."""
    return any(klass.__module__.startswith("keras.src.layers.preprocessing") for klass in type(layer).__mro__)


def _held_variables(name: str, value: Any, kind: type) -> list[tuple[str, Any]]:
    """The ``kind`` instances an attribute holds: itself by its name, or a list's, tuple's or dict's items by
    ``name.key``."""
    if isinstance(value, kind):
        return [(name, value)]
    if isinstance(value, dict):
        return [(f"{name}.{key}", item) for key, item in value.items() if isinstance(item, kind)]
    if isinstance(value, list | tuple):
        return [(f"{name}.{index}", item) for index, item in enumerate(value) if isinstance(item, kind)]
    return []


def unreached_variables(model: keras.Layer) -> list[str]:
    """The Keras paths of ``model``'s weights that no walked layer holds (layers held in other objects than
    attributes, lists, tuples and dicts): a checkpoint would leave them out. Those a retried ``build`` left
    behind (see :func:`_live_variables`, :func:`_left_behind_layers`) are not counted: no call uses them."""
    walked = named_layers(model)
    reached = {id(v) for _, layer in walked for v in own_variables(layer).values()}
    reached.update(id(v) for layer in _left_behind_layers(model, walked) for v in layer.weights)
    for _, layer in walked:
        tracked = _tracked_variables(layer)
        live = {id(v) for v in _live_variables(layer, tracked)}
        reached.update(id(v) for v in tracked if id(v) not in live)
    return [variable.path for variable in model.weights if id(variable) not in reached]


def _left_behind_layers(model: keras.Layer, walked: list[tuple[str, keras.Layer]]) -> list[keras.Layer]:
    """The sub-layers Keras tracks that the walk does not reach and no attribute of their parent holds (in any
    container, a set too): those a retried ``build`` made, then replaced (``self.inner = Dense(3)`` run twice)."""
    reached = {id(layer) for _, layer in walked}
    reached.update(id(part) for _, layer in walked for _, part in _parts_closure(layer, ""))
    found: list[keras.Layer] = []
    for layer in model._flatten_layers(include_self=True):
        if isinstance(layer, keras.Sequential | Functional):  # their graph holds their layers
            continue
        tracked = [child for child in getattr(layer, "_layers", ()) if id(child) not in reached]
        if tracked:
            referenced = _referenced(layer)
            found += [child for child in tracked if id(child) not in referenced]
    return found


def _referenced(layer: keras.Layer) -> set[int]:
    """The ``id`` of every object ``layer``'s attributes hold, directly or in (nested) lists, tuples, dicts and
    sets, but Keras' own bookkeeping (``_layers``, a functional model's graph)."""
    attributes = vars(layer)
    if modules := attributes.get("_modules"):  # the torch backend's sub-layers
        attributes = {**attributes, **modules}
    found: set[int] = set()
    pending = [value for name, value in attributes.items() if name not in _KERAS_OWN and name not in _VARIABLE_LISTS]
    while pending:
        value = pending.pop()
        if id(value) in found:
            continue
        found.add(id(value))
        if isinstance(value, Mapping):
            pending.extend(value.values())
        elif isinstance(value, list | tuple | set | frozenset):
            pending.extend(value)
    return found


def unreached_layers(model: keras.Layer) -> list[str]:
    """The names of ``model``'s layers that the walk does not reach, not built yet, that will hold weights (their
    adapters name tensors): they make their variables at their first call, with their own initialisation."""
    walked = named_layers(model)
    reached = {id(layer) for _, layer in walked}
    reached.update(id(part) for _, layer in walked for _, part in _parts_closure(layer, ""))  # a part's parts too
    reached.update(id(layer) for dead in _left_behind_layers(model, walked) for layer in dead._flatten_layers())
    return [
        layer.name
        for layer in model._flatten_layers(include_self=False)
        if id(layer) not in reached and not layer.built and shape_keys_of(layer)
    ]
