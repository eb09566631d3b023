"""A model's ``nnx.with_partitioning`` annotations against a mesh: which axis one names that the mesh lacks, and a
build that leaves them unplaced (where ``sharding=`` places every parameter itself)."""

from __future__ import annotations

import contextlib
import weakref
from collections.abc import Iterator, MutableMapping
from typing import Any

import jax
from flax import nnx
from flax.core import spmd as core_spmd
from jax.sharding import AbstractMesh, Mesh, PartitionSpec

from hubmixin_flax._walk import dotted

__all__ = [
    "RngCounters",
    "UnfitAnnotation",
    "annotations_unplaced",
    "default_rngs",
    "release_default_rngs",
    "remake_default_rngs",
    "rng_counters",
    "set_rng_counters",
    "unfit_annotation",
]

RngCounters = list[tuple[nnx.Variable[Any], Any]]
"""The counters of the ``nnx.Rngs`` streams given to ``__init__``, each with its value."""


@contextlib.contextmanager
def annotations_unplaced() -> Iterator[None]:
    """Variables annotated with ``nnx.with_partitioning`` are created unplaced, their annotations kept as metadata,
    as without a mesh, whatever mesh the caller set (an abstract construction takes its shardings from the
    abstract mesh)."""
    with jax.sharding.use_abstract_mesh(AbstractMesh((), ())), nnx.use_eager_sharding(False):  # type: ignore[no-untyped-call]
        yield


UnfitAnnotation = tuple[str, Any, str, str | None]
"""A variable's dotted path, its annotation, the mesh axis it names that the mesh lacks, and the logical axis
name the sharding rules map to that axis (``None`` where the annotation names the mesh axis itself)."""


def unfit_annotation(model: nnx.Module, mesh: Mesh) -> UnfitAnnotation | None:
    """The first variable of ``model`` (built unplaced) whose annotation (a tuple, list or ``PartitionSpec``) names an
    axis ``mesh`` lacks, its logical names mapped to mesh axes by its ``sharding_rules`` and the caller's
    ``nnx.logical_axis_rules`` as Flax maps them (``nnx.get_partition_spec``). An annotation that names its own
    mesh (``mesh=``) is placed there."""
    context = core_spmd.get_logical_axis_rules()
    for path, node in nnx.iter_graph(model):
        if not isinstance(node, nnx.Variable):
            continue
        metadata = node.get_metadata()
        if metadata.get("mesh") is not None:
            continue
        spec = next((metadata[k] for k in ("out_sharding", "sharding_names", "sharding") if k in metadata), None)
        if not isinstance(spec, tuple | list | PartitionSpec):  # (a PartitionSpec is no tuple in recent JAX)
            continue
        rules = dict(core_spmd.composite_rules(context, metadata.get("sharding_rules", ())))  # type: ignore[no-untyped-call]
        for entry in spec:
            logical = str(entry) if entry and str(entry) in rules else None
            resolved = rules[logical] if logical is not None else entry
            for axis in resolved if isinstance(resolved, tuple | list) else (resolved,):
                if isinstance(axis, str) and axis not in mesh.axis_names:
                    return dotted(tuple(path)), spec, axis, logical
    return None


_DEFAULT_RNGS: weakref.WeakSet[nnx.Rngs] = weakref.WeakSet()
"""The ``nnx.Rngs(0)`` that ``from_pretrained`` gives, not the caller."""


def default_rngs() -> nnx.Rngs:
    """A fresh ``nnx.Rngs(0)`` given by ``from_pretrained``, which :func:`remake_default_rngs` makes again."""
    rngs = nnx.Rngs(0)
    _DEFAULT_RNGS.add(rngs)
    return rngs


def remake_default_rngs(kwargs: MutableMapping[str, Any], mesh: Mesh | None = None) -> None:
    """Replace each :func:`default_rngs` among ``kwargs`` by one made for the construction about to run: under
    ``mesh`` if given, else in the current context. Under the caller's ``jax.set_mesh`` of ``Explicit`` axes, a
    key made there is typed on that mesh, and ``jax.random`` refuses it in a construction under another."""
    with jax.set_mesh(mesh) if mesh is not None else contextlib.nullcontext():
        for name, value in list(kwargs.items()):
            if isinstance(value, nnx.Rngs) and value in _DEFAULT_RNGS:
                kwargs[name] = default_rngs()


def release_default_rngs(kwargs: MutableMapping[str, Any]) -> None:
    """Mark the :func:`default_rngs` among ``kwargs`` as the caller's: the model built may hold them, and a later
    load given them in ``model_kwargs`` keeps them."""
    for value in kwargs.values():
        if isinstance(value, nnx.Rngs):
            _DEFAULT_RNGS.discard(value)


def rng_counters(kwargs: dict[str, Any]) -> RngCounters:
    """The counters of the ``nnx.Rngs`` among ``kwargs`` (in lists, dicts and modules too), with their values."""
    streams = jax.tree.leaves(kwargs, is_leaf=lambda leaf: isinstance(leaf, nnx.Rngs))
    return [
        (node, node.get_value())
        for rngs in streams
        if isinstance(rngs, nnx.Rngs)
        for _, node in nnx.iter_graph(rngs)
        if isinstance(node, nnx.RngCount)
    ]


def set_rng_counters(counters: RngCounters) -> None:
    """Set the counters back to the values :func:`rng_counters` found (a failed construction drew from them)."""
    for counter, value in counters:
        counter.set_value(value)
