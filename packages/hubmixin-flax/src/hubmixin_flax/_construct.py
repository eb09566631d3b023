"""Construction without weights: an NNX model built abstractly, and the variables a checkpoint does not hold.

:func:`construct_abstract` runs ``__init__`` under ``nnx.eval_shape`` (nothing allocated, nothing initialised).
:func:`materialize` gives real values to the variables left abstract (RNG state, weights absent from the
checkpoint) by running the constructor under ``jit`` with only those variables as outputs: XLA drops the
initialisation of everything else.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import jax
from flax import nnx
from flax.nnx import graphlib
from jax.sharding import Mesh

__all__ = ["abstract_paths", "construct_abstract", "materialize"]

M = TypeVar("M")


def _split_kwargs(kwargs: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Graph nodes (``nnx.Rngs``, modules) go through the transform as arguments; the rest is closed over."""
    nodes = {k: v for k, v in kwargs.items() if graphlib.is_graph_node(v)}
    return {k: v for k, v in kwargs.items() if k not in nodes}, nodes


@contextlib.contextmanager
def _under(mesh: Mesh | None) -> Iterator[None]:
    if mesh is None:
        yield
    else:
        with jax.set_mesh(mesh):
            yield


def construct_abstract(factory: Callable[..., M], kwargs: dict[str, Any], mesh: Mesh | None = None) -> M:
    """``factory(**kwargs)`` with every variable abstract (a ``ShapeDtypeStruct``), built under ``mesh`` if given."""
    static, nodes = _split_kwargs(kwargs)
    with _under(mesh):
        model: M = nnx.eval_shape(lambda nodes: factory(**static, **nodes), nodes)
    return model


def abstract_paths(model: nnx.Module) -> set[tuple[Any, ...]]:
    """Paths of the variables of ``model`` that hold no array yet."""
    return {
        tuple(path)
        for path, node in nnx.iter_graph(model)
        if isinstance(node, nnx.Variable) and isinstance(node.get_value(), jax.ShapeDtypeStruct)
    }


def materialize(
    model: nnx.Module, factory: Callable[..., Any], kwargs: dict[str, Any], mesh: Mesh | None = None
) -> None:
    """Give the abstract variables of ``model`` the values a real construction would give them."""
    pending = abstract_paths(model)
    if not pending:
        return
    static, nodes = _split_kwargs(kwargs)

    def build(nodes: dict[str, Any]) -> nnx.State[Any, Any]:
        built = factory(**static, **nodes)
        return nnx.state(built, lambda path, _: tuple(path) in pending)

    with _under(mesh):
        state = nnx.jit(build)(nodes)
    nnx.update(model, state)
