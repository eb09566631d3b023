"""Where each parameter of a loaded model goes: the ``sharding=`` argument of ``from_pretrained``."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeAlias

from jax.sharding import Mesh, NamedSharding, PartitionSpec, Sharding

from hubmixin_core.errors import HubMixinTypeError

__all__ = ["ShardingSpec", "mesh_of", "resolve_sharding"]

ShardingSpec: TypeAlias = Sharding | Mesh | Mapping[str, Sharding] | Callable[[str], Sharding | None]
"""A ``Sharding`` for every parameter, a ``Mesh`` (the model's annotations), a mapping or a callable of the path."""


def mesh_of(spec: ShardingSpec | None) -> Mesh | None:
    """The mesh the model is built under: the ``Mesh`` given, or that of the ``NamedSharding`` (s) given.

    Built under it, a model annotated with ``nnx.with_partitioning`` can be constructed at all (Flax requires a
    mesh for annotated variables); with a callable, the caller's own ``jax.set_mesh`` context applies.
    """
    if isinstance(spec, Mesh):
        return spec
    if isinstance(spec, NamedSharding) and isinstance(spec.mesh, Mesh):
        return spec.mesh
    if isinstance(spec, Mapping):
        for sharding in spec.values():
            if isinstance(sharding, NamedSharding) and isinstance(sharding.mesh, Mesh):
                return sharding.mesh
    return None


def resolve_sharding(spec: ShardingSpec | None, path: str, abstract: Any) -> Sharding | None:
    """The sharding of the parameter at ``path``, whose abstract value (``ShapeDtypeStruct``) is ``abstract``.

    With a ``Mesh``, the partition spec the model's own ``nnx.with_partitioning`` annotation gave the abstract
    value (built under that mesh) is placed on it; a parameter without one is replicated.
    """
    if spec is None:
        return None
    if isinstance(spec, Mesh):
        annotated = getattr(abstract, "sharding", None)
        partition = annotated.spec if isinstance(annotated, NamedSharding) else PartitionSpec()  # type: ignore[no-untyped-call]
        return NamedSharding(spec, partition)
    if isinstance(spec, Sharding):
        return spec
    if isinstance(spec, Mapping):
        return spec.get(path)
    if callable(spec):
        return spec(path)
    raise HubMixinTypeError(f"sharding must be a Sharding, a Mesh, a mapping or a callable, got {type(spec).__name__}")
