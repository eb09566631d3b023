"""``typing.get_type_hints`` resolves the Flax methods' annotations (``ShardingSpec``'s recursive alias too), as
run-time readers of a signature (pydantic, jsonargparse, typer, beartype) need."""

from __future__ import annotations

import typing
from collections.abc import Callable, Mapping
from typing import Any

import pytest
from flax import nnx
from jax.sharding import PartitionSpec, Sharding

from hubmixin_flax import FlaxModelHubMixin, ShardingSpec


class _Net(nnx.Module, FlaxModelHubMixin):
    def __init__(self, dim: int = 2, *, rngs: nnx.Rngs) -> None:
        self.lin = nnx.Linear(dim, dim, rngs=rngs)


def _user_function(spec: ShardingSpec) -> None:  # user code annotated with the exported alias
    pass


_FUNCTIONS = {
    "from_pretrained": FlaxModelHubMixin.from_pretrained,
    "_from_pretrained": FlaxModelHubMixin._from_pretrained,
    "save_pretrained": FlaxModelHubMixin.save_pretrained,
    "push_to_hub": FlaxModelHubMixin.push_to_hub,
    "subclass.from_pretrained": _Net.from_pretrained,
    "subclass._from_pretrained": _Net._from_pretrained,
    "user_function": _user_function,
}


@pytest.mark.parametrize("function", _FUNCTIONS.values(), ids=_FUNCTIONS.keys())
def test_get_type_hints_resolves(function: Callable[..., Any]) -> None:
    hints = typing.get_type_hints(function)
    assert hints


def test_the_state_shaped_tree_resolves_to_its_leaves() -> None:
    sharding = typing.get_type_hints(FlaxModelHubMixin.from_pretrained)["sharding"]
    mappings = [a for a in typing.get_args(sharding) if typing.get_origin(a) is Mapping]
    leaves = {leaf for mapping in mappings for leaf in typing.get_args(typing.get_args(mapping)[1])}
    assert {Sharding, PartitionSpec, type(None)} <= leaves
    assert any(typing.get_origin(leaf) is nnx.Variable for leaf in leaves)
