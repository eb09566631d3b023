"""A model's ``nnx.with_partitioning`` annotations against a mesh: which axis one names that the mesh lacks, and a
build that leaves them unplaced (where ``sharding=`` places every parameter itself)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import jax
from flax import nnx
from jax.sharding import AbstractMesh, Mesh

from hubmixin_flax._walk import dotted

__all__ = ["RngCounters", "annotations_unplaced", "rng_counters", "set_rng_counters", "unfit_annotation"]

RngCounters = list[tuple[nnx.Variable[Any], Any]]
"""The counters of the ``nnx.Rngs`` streams given to ``__init__``, each with its value."""


@contextlib.contextmanager
def annotations_unplaced() -> Iterator[None]:
    """Variables annotated with ``nnx.with_partitioning`` are created unplaced, their annotations kept as metadata,
    as without a mesh, whatever mesh the caller set (an abstract construction takes its shardings from the
    abstract mesh)."""
    with jax.sharding.use_abstract_mesh(AbstractMesh((), ())), nnx.use_eager_sharding(False):  # type: ignore[no-untyped-call]
        yield


def unfit_annotation(model: nnx.Module, mesh: Mesh) -> tuple[str, Any, str] | None:
    """The first variable of ``model`` (built unplaced) whose annotation names an axis ``mesh`` lacks: its dotted
    path, its annotation and that axis. An annotation that names its own mesh (``mesh=``) is placed there."""
    for path, node in nnx.iter_graph(model):
        if not isinstance(node, nnx.Variable):
            continue
        metadata = node.get_metadata()
        if metadata.get("mesh") is not None:
            continue
        spec = next((metadata[k] for k in ("out_sharding", "sharding_names", "sharding") if k in metadata), None)
        for entry in spec if isinstance(spec, tuple) else ():
            for axis in entry if isinstance(entry, tuple) else (entry,):
                if isinstance(axis, str) and axis not in mesh.axis_names:
                    return dotted(tuple(path)), spec, axis
    return None


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
