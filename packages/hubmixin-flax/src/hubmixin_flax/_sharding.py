"""Where each parameter of a loaded model goes: the ``sharding=`` argument of ``from_pretrained``."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, ForwardRef, TypeAlias

import jax
from flax import nnx
from jax.sharding import Mesh, NamedSharding, PartitionSpec, Sharding

from hubmixin_core.errors import HubMixinTypeError
from hubmixin_flax._walk import PERSISTENT

__all__ = [
    "ShardingSpec",
    "flat_sharding",
    "mesh_of",
    "outside_caller_mesh",
    "resolve_sharding",
    "state_shaped",
    "without_unsaved_state",
]

if TYPE_CHECKING:
    ShardingTree: TypeAlias = Mapping[Any, "Sharding | PartitionSpec | nnx.Variable[Any] | ShardingTree | None"]
    """A mapping from parameter path, or shaped like the model's state (``nnx.get_named_sharding``, nested dicts;
    an ``nnx.List``'s items under int keys)."""
else:  # the same, its forward ref bound to this module: get_type_hints evaluates a bare one in the globals of the
    # annotated function's module (the generated methods', a user's), which lack these names
    ShardingTree = Mapping[
        Any, ForwardRef("Sharding | PartitionSpec | nnx.Variable[Any] | ShardingTree | None", module=__name__)
    ]

ShardingSpec: TypeAlias = (
    Sharding
    | Mesh
    | Mapping[str, Sharding | PartitionSpec | None]
    | ShardingTree
    | Callable[[str], Sharding | PartitionSpec | None]
)
"""A ``Sharding`` for every parameter, a ``Mesh`` (the model's annotations), a mapping or a callable of the path
(``None`` from either: where JAX puts a new array)."""


def flat_sharding(spec: ShardingSpec | None) -> ShardingSpec | None:
    """``spec`` with a state-shaped mapping (``nnx.get_named_sharding(nnx.state(model), mesh)``, an ``nnx.State``;
    or nested dicts, ``{"hidden": {"kernel": ...}}``) flattened to dotted paths (``hidden.kernel``), each
    ``nnx.Variable`` leaf to its value; the shardings of state a checkpoint does not hold (RNG streams) are left
    out. Anything else as it is."""
    return _flat(spec) if isinstance(spec, Mapping) else spec


def state_shaped(spec: ShardingSpec | None) -> bool:
    """Whether ``spec`` is a mapping shaped like the model's state (nested, or of ``nnx.Variable`` leaves)."""
    return isinstance(spec, Mapping) and any(isinstance(v, Mapping | nnx.Variable) for v in spec.values())


def without_unsaved_state(flat: Mapping[str, Any], model: nnx.Module) -> Mapping[str, Any]:
    """A flattened sharding mapping less the paths of ``model``'s state a checkpoint does not hold (RNG streams,
    plain ``nnx.Variable`` s), which Flax's own sharding trees name (``nnx.get_named_sharding`` of the state, as
    nested dicts or flattened to dotted paths)."""
    unsaved = {
        ".".join(map(str, path))
        for path, node in nnx.iter_graph(model)
        if isinstance(node, nnx.Variable) and not isinstance(node, PERSISTENT)
    }
    return {path: value for path, value in flat.items() if path not in unsaved}


def _flat(spec: Mapping[Any, Any]) -> Mapping[str, Any]:
    if not state_shaped(spec):
        return spec
    flat: dict[str, Any] = {}
    _flatten(spec, "", flat)
    return flat


def _flatten(tree: Mapping[Any, Any], prefix: str, into: dict[str, Any]) -> None:
    for key, value in tree.items():
        path = f"{prefix}{key}"
        if isinstance(value, Mapping):
            _flatten(value, f"{path}.", into)
        elif not isinstance(value, nnx.Variable):
            into[path] = value
        elif isinstance(value, PERSISTENT):
            into[path] = value.get_value()


def mesh_of(spec: ShardingSpec | None) -> Mesh | None:
    """The mesh the model is built under: the ``Mesh`` given, or that of the ``NamedSharding`` (s) given.

    Built under it, a model annotated with ``nnx.with_partitioning`` can be constructed at all (Flax requires a
    mesh for annotated variables); with a callable, the caller's own ``jax.set_mesh`` context applies (else
    ``from_pretrained`` builds such a model under the mesh of the first ``NamedSharding`` the callable gives).
    """
    if isinstance(spec, Mesh):
        return spec
    if isinstance(spec, NamedSharding) and isinstance(spec.mesh, Mesh):
        return spec.mesh
    if isinstance(spec, Mapping):
        for sharding in _flat(spec).values():
            if isinstance(sharding, NamedSharding) and isinstance(sharding.mesh, Mesh):
                return sharding.mesh
    return None


_CALLER_MESH: ContextVar[tuple[Mesh | None] | None] = ContextVar("hubmixin_flax_caller_mesh", default=None)
"""The caller's mesh, inside :func:`outside_caller_mesh`."""


@contextlib.contextmanager
def outside_caller_mesh() -> Iterator[Mesh | None]:
    """Run outside the caller's ``jax.set_mesh`` (yielding its mesh), where a sharding still resolves against it.

    A loaded array may be on other devices than that mesh's (a ``SingleDeviceSharding``, a sub-mesh, the default
    device), and JAX's jitted ops on it (a transpose, a cast, a ref's read) refuse it under that mesh, or put
    their result there."""
    ambient = _ambient_mesh()
    token = _CALLER_MESH.set((ambient,))
    try:
        with jax.set_mesh(None):
            yield ambient
    finally:
        _CALLER_MESH.reset(token)


@contextlib.contextmanager
def in_caller_mesh() -> Iterator[None]:
    """Inside :func:`outside_caller_mesh`, the caller's ``jax.set_mesh`` again (for the caller's own code called
    back: a ``sharding=`` callable); elsewhere, nothing changes."""
    held = _CALLER_MESH.get()
    if held is None or held[0] is None:
        yield
        return
    with jax.set_mesh(held[0]):
        yield


def _ambient_mesh() -> Mesh | None:
    """The concrete mesh of the caller's ``jax.set_mesh`` context, if any."""
    held = _CALLER_MESH.get()
    if held is not None:
        return held[0]
    get_mesh = getattr(jax.sharding, "get_mesh", None)
    mesh = get_mesh() if get_mesh is not None else None
    return mesh if isinstance(mesh, Mesh) and not mesh.empty else None


def resolve_sharding(spec: ShardingSpec | None, path: str, abstract: Any) -> Sharding | None:
    """The sharding of the parameter at ``path``, whose abstract value (``ShapeDtypeStruct``) is ``abstract``.

    With a ``Mesh``, the partition spec the model's own ``nnx.with_partitioning`` annotation gave the abstract
    value (built under that mesh) is placed on it; a parameter without one is replicated. Without ``spec``, an
    annotated parameter built under the caller's ``jax.set_mesh`` goes where its annotation says (as in a fresh
    construction there), one whose annotation names its own mesh onto that mesh; any other gets ``None``, and JAX
    places it as it places a new array there (replicated).
    """
    if spec is None:  # where a fresh construction puts it: by its annotation under the caller's jax.set_mesh
        annotated, ambient = getattr(abstract, "sharding", None), _ambient_mesh()
        if isinstance(annotated, NamedSharding) and isinstance(annotated.mesh, Mesh) and not annotated.mesh.empty:
            return annotated  # its own mesh (nnx.with_partitioning(..., mesh=mesh), __init__'s jax.set_mesh) wins
        if isinstance(annotated, NamedSharding) and ambient is not None:
            return NamedSharding(ambient, annotated.spec)
        return None
    if isinstance(spec, Mesh):
        annotated = getattr(abstract, "sharding", None)
        partition = annotated.spec if isinstance(annotated, NamedSharding) else PartitionSpec()  # type: ignore[no-untyped-call]
        return NamedSharding(spec, partition)
    if isinstance(spec, Sharding):
        return spec
    if isinstance(spec, Mapping):
        return _placed(spec.get(path), path)
    if callable(spec):
        with in_caller_mesh():  # (the caller's code: it may read the mesh it was written under)
            given = spec(path)
        return _placed(given, path)
    raise HubMixinTypeError(f"sharding must be a Sharding, a Mesh, a mapping or a callable, got {type(spec).__name__}")


def _placed(found: object, path: str) -> Sharding | None:
    """What a ``sharding=`` mapping or callable gave for ``path``, checked: a ``Sharding`` or ``None``; a
    ``PartitionSpec`` on the caller's ``jax.set_mesh`` mesh (as ``jax.device_put`` takes it there)."""
    if found is None or isinstance(found, Sharding):
        return found
    if isinstance(found, PartitionSpec):
        ambient = _ambient_mesh()
        if ambient is not None:
            return NamedSharding(ambient, found)
        raise HubMixinTypeError(
            f"sharding for {path!r} is {found}, a PartitionSpec, and no mesh is set: give "
            f"NamedSharding(mesh, {found}), or load under jax.set_mesh(mesh)"
        )
    raise HubMixinTypeError(
        f"sharding for {path!r} must be a jax.sharding.Sharding (NamedSharding(mesh, PartitionSpec(...))) or None, "
        f"got {type(found).__name__} {found!r:.60}"
    )
