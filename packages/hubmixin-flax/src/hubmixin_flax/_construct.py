"""Construction without weights: an NNX model built abstractly, and the variables a checkpoint does not hold.

:func:`construct_abstract` runs ``__init__`` under ``nnx.eval_shape`` (nothing allocated, nothing initialised).
:func:`materialize` gives real values to the variables left abstract (RNG state, weights absent from the
checkpoint) by running the traced constructor pruned to those variables: the initialisation of everything else
is neither compiled nor run.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextvars import ContextVar
from typing import Any, TypeVar

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx
from flax.nnx import graphlib
from flax.nnx.pytreelib import is_data as _is_data
from jax._src import core as _jax_core  # trace_state_clean: JAX's own test before jax.set_mesh, not public
from jax.sharding import Mesh

from hubmixin_core._fresh import fresh_arguments as core_fresh_arguments
from hubmixin_core._held import find_held
from hubmixin_core.errors import HubMixinValueError

try:  # JAX's tracing internals: without them, jit compiles the whole construction (the same values, slower)
    from jax.extend.core import ClosedJaxpr, jaxpr_as_fun
    from jax.interpreters.partial_eval import dce_jaxpr
except ImportError:  # pragma: no cover - a JAX release that moved them
    _PRUNES = False
else:
    _PRUNES = True

__all__ = [
    "NestedLoad",
    "RngCounts",
    "abstract_paths",
    "check_not_abstract",
    "check_not_traced",
    "construct_abstract",
    "fresh_arguments",
    "materialize",
]

M = TypeVar("M")
R = TypeVar("R")

logger = logging.getLogger("hubmixin_flax")

_ABSTRACT: ContextVar[bool] = ContextVar("hubmixin_flax_abstract", default=False)
"""Whether this context runs an ``__init__`` under :func:`construct_abstract`."""


class NestedLoad(Exception):
    """A ``from_pretrained`` inside an ``__init__`` run abstractly: the values it loads would be dropped."""


def check_not_abstract(name: str) -> None:
    """Raise :class:`NestedLoad` inside an abstract construction (``name``: the class loading)."""
    if _ABSTRACT.get():
        raise NestedLoad(f"{name}.from_pretrained in __init__")


def check_not_traced(name: str) -> None:
    """Refuse a load inside a JAX transform (``jit``, ``eval_shape``, ``vmap``, ``grad``): it reads files and
    places arrays itself (``name``: the class loading).

    Raises:
        HubMixinValueError: called under a transform.
    """
    if _under_a_trace():
        raise HubMixinValueError(
            f"{name}.from_pretrained was called inside a JAX transform (jax.jit, jax.vmap, jax.grad, nnx.jit, "
            "nnx.eval_shape, ...): it reads the files and places each array on its devices itself, so call it "
            "outside any transform; to get a sharded model, pass sharding= (a Mesh, NamedShardings or a callable of "
            "the path)"
        )


def _under_a_trace() -> bool:
    """Whether a JAX transform is tracing: ``jit`` (where a new array is a tracer), and those that trace their
    inputs only (``vmap``, ``grad``), where ``jax.set_mesh`` and ``jax.sharding.get_mesh`` refuse to run."""
    clean = getattr(_jax_core, "trace_state_clean", None)
    if callable(clean):
        return not clean()
    return isinstance(jnp.zeros(()), jax.core.Tracer)  # pragma: no cover - a JAX release that moved it


def _split_kwargs(kwargs: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Graph nodes (``nnx.Rngs``, modules, lists and dicts of modules) go through the transform as arguments; the
    rest is closed over."""
    nodes = {k: v for k, v in kwargs.items() if _holds_graph_nodes(v)}
    return {k: v for k, v in kwargs.items() if k not in nodes}, nodes


def _holds_graph_nodes(value: Any) -> bool:
    """A graph node, or a list, tuple or dict of nothing else (other leaves would be traced: ``4`` a tracer)."""
    leaves = jax.tree.leaves(value, is_leaf=graphlib.is_graph_node)
    return bool(leaves) and all(graphlib.is_graph_node(leaf) for leaf in leaves)


@contextlib.contextmanager
def _under(mesh: Mesh | None) -> Iterator[None]:
    if mesh is None:
        yield
    else:
        with jax.set_mesh(mesh):
            yield


RngCounts = list[tuple[nnx.Variable[Any], np.ndarray[Any, Any]]]
"""The counters of the caller's ``nnx.Rngs`` streams with the values a construction left them at."""


def construct_abstract(
    factory: Callable[..., M],
    kwargs: dict[str, Any],
    mesh: Mesh | None = None,
    *,
    rng_counts: RngCounts | None = None,
) -> M:
    """``factory(**kwargs)`` with every variable abstract (a ``ShapeDtypeStruct``), built under ``mesh`` if given.

    The model holds the graph nodes given in ``kwargs`` themselves (the caller's ``nnx.Rngs``, a module given
    as a runtime argument) and the numpy arrays its ``__init__`` computed, as a fresh construction does. The
    caller's ``Rngs`` are not advanced: the counts a fresh construction leaves them at are added to
    ``rng_counts``, for :func:`materialize`.

    An ``__init__`` that needs concrete arrays (``np.asarray`` of an initialised one, a Python ``if`` on a value,
    a mutable ``ref=True`` variable, ``jax.set_mesh``), or fails abstractly at all, is run normally instead (its
    initialisation then runs once; an error of its own is raised again there), and this is logged; except where
    an ``nnx.with_partitioning`` annotation cannot be placed under ``mesh`` (none given, or one lacking an axis it
    names), which a normal construction under ``mesh`` fails alike: that ``ValueError`` is raised at once.
    """
    static, nodes = _split_kwargs(kwargs)
    pristine = fresh_arguments(static)  # the fallback's: the attempt may mutate them
    kept: dict[tuple[Any, ...], Any] = {}

    counts: RngCounts = []

    def build(copies: dict[str, Any]) -> M:
        streams = _counted_streams(copies, nodes)
        built = factory(**static, **copies)
        # checked in the trace: a tracer in the output's static part would stay in JAX's caches, and the next
        # eval_shape of the class would fail comparing its own with it (UnexpectedTracerError)
        _check_no_leftovers(built)
        kept.update(_concrete_parts(built, copies, nodes))
        reached = [(given, copy.count.get_value()) for given, copy in streams]
        counts.extend((given, value) for given, value in reached if isinstance(value, np.ndarray))
        return built

    with _under(mesh):
        try:
            with _abstractly():
                model: M = nnx.eval_shape(build, nodes)
        except Exception as error:
            if _unplaceable_annotation(error):  # (the caller builds it again, under another mesh or unplaced)
                raise
            # a tracer turned into numpy, a bool, an index; a variable holding a mutable array (nnx.Param(...,
            # ref=True)), which eval_shape cannot abstract; a pretrained part loaded in __init__, whose values
            # eval_shape would drop; a plain object holding a tracer or a copy of a given Rngs; a JAX call that
            # refuses a trace (jax.set_mesh, jax.sharding.get_mesh, a tracer's .sharding). Any error at all: the
            # normal construction raises again one of the __init__'s own
            name = getattr(factory, "__qualname__", repr(factory))
            reason = str(error).splitlines()[0]
            logger.info("%s: __init__ needs concrete arrays (%s): built normally, then loaded", name, reason)
            counts.clear()  # the caller's Rngs are advanced by this construction itself
            model = factory(**{name: pristine.get(name, value) for name, value in kwargs.items()})
        else:
            _restore(model, kept)  # (its own errors are not the __init__'s)
    if rng_counts is not None:
        rng_counts.extend(counts)
    return model


_UNPLACEABLE = ("An auto mesh context or metadata is required", "is not found in mesh")
"""Flax's error for an annotated variable created without a mesh; JAX's for a spec naming an axis the mesh lacks."""


def _unplaceable_annotation(error: Exception) -> bool:
    """Whether ``error`` says an annotated variable cannot be placed under the mesh of the construction."""
    return isinstance(error, ValueError) and any(text in str(error) for text in _UNPLACEABLE)


def fresh_arguments(arguments: Mapping[str, Any]) -> dict[str, Any]:
    """``arguments`` (keyword name to value) for one construction of several: config values copied
    (:func:`hubmixin_core._fresh.fresh`), graph nodes and what holds nothing else (``nnx.Rngs``, a list of modules
    given) passed as they are."""
    return core_fresh_arguments(arguments, _kept)


def _kept(value: Any) -> bool:
    return graphlib.is_graph_node(value) or isinstance(value, nnx.Variable) or _holds_graph_nodes(value)


class _Leftover(Exception):
    """A plain object ``__init__`` made holds what the abstract construction left: a tracer, or a copy of a graph
    node (``self.rope = Table(jnp.sin(...))``, ``self.sampler = Sampler(rngs)``), which nothing would replace."""


def _check_no_leftovers(model: Any) -> None:
    """Raise :class:`_Leftover` naming the attribute of ``model`` outside its graph (static: a plain object, a
    partial, a closure) that holds a tracer, a variable or a graph node."""
    for path, node in nnx.iter_graph(model):
        data = getattr(node, "_pytree__nodes", None)  # attribute -> whether it is data (else static)
        if data is None or isinstance(node, nnx.Variable) or not hasattr(node, "__dict__"):
            continue
        for name, value in vars(node).items():
            if data.get(name, True) or name.startswith(("_pytree__", "_object__", "_hub_mixin")):  # data: loaded
                continue
            if find_held(value, _left_by_tracing, set(), depth=6) is not None:
                where = ".".join(map(str, (*path, name)))
                raise _Leftover(f"attribute {where!r} holds what the abstract construction made")


def _left_by_tracing(value: Any) -> bool:
    return isinstance(value, jax.core.Tracer | nnx.Variable) or graphlib.is_graph_node(value)


class _Count(np.ndarray[Any, Any]):
    """A stream's counter in numpy whose reads are copies: drawing a key (``fold_in(key, count[...])``, then
    ``count[...] += 1`` in place) leaves the count a trace took as a constant (by reference) as it was."""

    def __getitem__(self, index: Any) -> Any:
        # a _Count again: nnx.split_rngs backs the counter up as ``count[...]`` and restore_rngs sets that back
        return np.array(np.asarray(self)[index]).view(_Count)


def _counted_streams(copies: dict[str, Any], given: dict[str, Any]) -> list[tuple[nnx.Variable[Any], Any]]:
    """The ``RngStream`` copies ``eval_shape`` hands ``__init__``, each with the counter of the caller's stream it
    copies; the copy counts in numpy from the caller's value, so the count a construction reaches stays concrete
    (drawing a key does ``count += 1``)."""
    streams = []
    for key, copy in copies.items():
        for path, node in nnx.iter_graph(copy):
            if isinstance(node, nnx.RngStream):
                caller = _at_path(given[key], tuple(path)).count
                node.count.set_value(np.array(caller.get_value()).view(_Count))  # type: ignore[arg-type]  # on purpose
                streams.append((caller, node))
    return streams


def _concrete_parts(built: Any, copies: dict[str, Any], given: dict[str, Any]) -> dict[tuple[Any, ...], Any]:
    """What a fresh construction holds that ``eval_shape`` would replace, by path in ``built``: the objects given
    in the keyword arguments (``eval_shape`` hands ``__init__`` copies of them: ``self.rngs = rngs`` would draw
    the caller's keys again, a given backbone would be unshared), and numpy arrays (``eval_shape`` abstracts
    them; computed again, they would come back as 32-bit jax arrays)."""
    origins: dict[int, tuple[str, tuple[Any, ...]]] = {}
    for key, copy in copies.items():
        for path, node in nnx.iter_graph(copy):
            if graphlib.is_graph_node(node) or isinstance(node, nnx.Variable):
                origins.setdefault(id(node), (key, tuple(path)))
    found: dict[tuple[Any, ...], Any] = {}
    for path, node in sorted(nnx.iter_graph(built), key=lambda item: len(item[0])):  # outermost first
        path = tuple(path)
        if not path or any(path[: len(above)] == above for above in found):
            continue
        if id(node) in origins:
            key, inner = origins[id(node)]
            found[path] = _at_path(given[key], inner)
        elif isinstance(node, np.ndarray | np.generic):
            found[path] = node
    return found


def _restore(model: Any, kept: dict[tuple[Any, ...], Any]) -> None:
    """Put ``kept`` back at its paths in ``model``, and each given object wherever ``model`` shares its copy
    (``nnx.iter_graph`` names a shared node once: a ``Rngs`` kept by two layers, a module given twice)."""
    swaps: dict[int, Any] = {}
    for path, value in kept.items():
        copy = _at_path(model, path)
        if graphlib.is_graph_node(copy) or isinstance(copy, nnx.Variable):
            swaps[id(copy)] = value
        else:
            _set_path(model, path, value)
    if not swaps:
        return
    for _, node in list(nnx.iter_graph(model)):
        # (a Variable is a graph node with slots: it holds a value, never a kept object)
        if graphlib.is_graph_node(node) and id(node) not in swaps and hasattr(node, "__dict__"):
            for name, value in list(vars(node).items()):
                swapped = _swapped(value, swaps)
                if swapped is not value:
                    object.__setattr__(node, name, swapped)


def _swapped(value: Any, swaps: dict[int, Any]) -> Any:
    """``value`` with each object of ``swaps`` replaced, inside lists and dicts in place, in tuples by a new one."""
    if id(value) in swaps:
        return swaps[id(value)]
    if isinstance(value, list):
        value[:] = [_swapped(item, swaps) for item in value]
    elif isinstance(value, dict):
        for key, item in list(value.items()):
            value[key] = _swapped(item, swaps)
    elif isinstance(value, tuple):
        items = tuple(_swapped(item, swaps) for item in value)
        if any(a is not b for a, b in zip(items, value, strict=True)):
            return type(value)(*items) if hasattr(value, "_fields") else items
    return value


@contextlib.contextmanager
def _abstractly() -> Iterator[None]:
    token = _ABSTRACT.set(True)
    try:
        yield
    finally:
        _ABSTRACT.reset(token)


def _pending(value: Any) -> bool:
    """A value ``eval_shape`` left without data: abstract, or a tracer of the abstract construction."""
    return isinstance(value, jax.ShapeDtypeStruct | jax.core.Tracer)


def abstract_paths(model: nnx.Module) -> set[tuple[Any, ...]]:
    """Paths of the variables of ``model`` that hold no array yet, and of its plain array attributes likewise
    (a precomputed table set in ``__init__``: ``self.freqs = jnp.outer(...)``). Read outside the caller's
    ``jax.set_mesh``: reading a ref variable (``ref=True``) is jitted, and there refuses one on other devices."""
    with jax.set_mesh(None):
        return {
            tuple(path)
            for path, node in nnx.iter_graph(model)
            if _pending(node.get_value() if isinstance(node, nnx.Variable) else node)
        }


def materialize(
    model: nnx.Module,
    factory: Callable[..., Any],
    kwargs: dict[str, Any],
    mesh: Mesh | None = None,
    *,
    rng_counts: Sequence[tuple[nnx.Variable[Any], np.ndarray[Any, Any]]] = (),
) -> None:
    """Give the abstract variables and array attributes of ``model`` the values a real construction gives them.

    The caller's ``nnx.Rngs`` end where a fresh construction leaves them: advanced by the construction run here,
    else set to ``rng_counts`` (from :func:`construct_abstract`).
    """
    pending = abstract_paths(model)
    if not pending:
        for counter, value in rng_counts:
            counter.set_value(jnp.asarray(value, dtype=counter.get_value().dtype))
        return
    static, nodes = _split_kwargs(kwargs)
    variables = {tuple(path) for path, node in nnx.iter_graph(model) if isinstance(node, nnx.Variable)}

    def build(nodes: dict[str, Any]) -> tuple[nnx.State[Any, Any], dict[tuple[Any, ...], Any]]:
        built = factory(**static, **nodes)
        plain = {tuple(p): node for p, node in nnx.iter_graph(built) if tuple(p) in pending - variables}
        return nnx.state(built, lambda path, _: tuple(path) in pending & variables), plain

    with _under(mesh):
        state, plain = _needed_only(build, nodes) if _PRUNES else nnx.jit(build)(nodes)
    nnx.update(model, state)
    for path, value in plain.items():
        _set_path(model, path, value)


def _needed_only(build: Callable[[Any], R], nodes: dict[str, Any]) -> R:
    """``build(nodes)``, computing only what its outputs (and the updated ``nodes``) depend on.

    The traced construction is pruned of everything else (the initialisers of the weights loaded), then run
    operation by operation as a fresh construction runs, so its results are bit for bit those of one; under
    ``jit``, XLA would compile the whole ``__init__`` first (seconds per dozen layers), on every load. The given
    graph nodes (the caller's ``nnx.Rngs``) end as ``build`` leaves them.
    """
    graph, given = nnx.split(nodes)

    def traced(state: nnx.State[Any, Any]) -> tuple[R, nnx.State[Any, Any]]:
        copies = nnx.merge(graph, state)
        _counted_streams(copies, nodes)  # counted in numpy: a traced count costs JAX a scan of the trace per key
        return build(copies), nnx.state(copies)

    closed, shapes = jax.make_jaxpr(traced, return_shape=True)(given)
    pruned, used = dce_jaxpr(closed.jaxpr, [True] * len(closed.jaxpr.outvars))
    inputs = [leaf for leaf, keep in zip(jax.tree.leaves(given), used, strict=True) if keep]
    outputs = jaxpr_as_fun(ClosedJaxpr(pruned, closed.consts))(*inputs)
    # a constant output (a new stream's count) comes back as numpy or a Python number, as the trace holds it; a
    # hijax variable made in the trace (nnx.var_defaults(hijax=True)) is a leaf of its own, with no dtype
    leaves = jax.tree.leaves(shapes)
    outputs = [
        jnp.asarray(value, dtype=shape.dtype) if isinstance(shape, jax.ShapeDtypeStruct) else value
        for value, shape in zip(outputs, leaves, strict=True)
    ]
    result: tuple[R, nnx.State[Any, Any]] = jax.tree.unflatten(jax.tree.structure(shapes), outputs)
    nnx.update(nodes, result[1])
    return result[0]


def _child(parent: Any, key: Any) -> Any:
    return parent[key] if isinstance(key, int) or isinstance(parent, list | tuple | dict) else getattr(parent, key)


def _at_path(root: Any, path: tuple[Any, ...]) -> Any:
    node = root
    for step in path:
        node = _child(node, step)
    return node


def _set_path(root: Any, path: tuple[Any, ...], value: Any, *, fresh_status: bool = True) -> None:
    """Set the attribute or item at ``path`` (attribute names, list indices, dict keys) below ``root``."""
    *head, key = path
    parent = root
    for step in head:
        parent = _child(parent, step)
    if isinstance(parent, tuple):  # immutable: a new tuple, set in its own parent, as data or static as it was
        items = tuple(value if i == key else item for i, item in enumerate(parent))
        _set_path(root, tuple(head), items, fresh_status=False)
    elif isinstance(key, int) or isinstance(parent, list | dict):
        parent[key] = value
    else:
        object.__setattr__(parent, key, value)  # past the module's own checks: the attribute exists already
        if fresh_status:
            _as_fresh_status(parent, key, value)


def _as_fresh_status(parent: Any, key: str, value: Any) -> None:
    """Record attribute ``key`` of an NNX pytree as data or static as a fresh construction does: built abstractly,
    an array computed in ``__init__`` (a RoPE table) was a tracer, which NNX records as static; the concrete array
    put back is data, in ``nnx.state`` and ``nnx.split`` as in a freshly built model."""
    nodes = getattr(parent, "_pytree__nodes", None)
    if nodes is None or key not in nodes or not getattr(parent, "_pytree__is_pytree", False):
        return
    data = _is_data(value)
    if nodes[key] != data:
        object.__setattr__(parent, "_pytree__nodes", nodes.update({key: data}))
