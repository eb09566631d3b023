"""Positive typing cases for hubmixin_flax: checked by mypy --strict and pyright (no errors allowed)."""

from __future__ import annotations

from pathlib import Path
from typing import assert_type

import jax
import jax.numpy as jnp
from flax import nnx
from huggingface_hub import CommitInfo
from jax.sharding import Mesh, NamedSharding, Sharding

from hubmixin_flax import FlaxModelHubMixin, ShardingSpec


class MyFlaxModel(nnx.Module, FlaxModelHubMixin, license="mit"):
    def __init__(self, din: int = 4, dout: int = 2, *, rngs: nnx.Rngs) -> None:
        self.linear = nnx.Linear(din, dout, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        out: jax.Array = self.linear(x)
        return out


class SubModel(MyFlaxModel):
    pass


def place(path: str) -> Sharding | None:
    return None


def check(model: MyFlaxModel, mesh: Mesh, sharding: NamedSharding, spec: ShardingSpec, flag: bool) -> None:
    assert_type(MyFlaxModel.from_pretrained("user/model"), MyFlaxModel)
    assert_type(MyFlaxModel.from_pretrained("u/m", sharding=mesh, dtype=jnp.bfloat16, strict=True), MyFlaxModel)
    assert_type(MyFlaxModel.from_pretrained(Path("dir"), sharding=sharding, dtype="float16"), MyFlaxModel)
    assert_type(MyFlaxModel.from_pretrained("u/m", sharding={"linear.kernel": sharding}), MyFlaxModel)
    assert_type(MyFlaxModel.from_pretrained("u/m", sharding=place, strict=False, dtype=None), MyFlaxModel)
    assert_type(MyFlaxModel.from_pretrained("u/m", sharding=lambda path: None), MyFlaxModel)
    assert_type(MyFlaxModel.from_pretrained("u/m", sharding=spec, model_kwargs={"rngs": nnx.Rngs(1)}), MyFlaxModel)
    assert_type(SubModel.from_pretrained("u/m", revision="main", sharding=None), SubModel)
    assert_type(model.save_pretrained("out", max_shard_size="1GB", dtype=jnp.bfloat16), None)
    assert_type(model.save_pretrained("out", push_to_hub=True, repo_id="u/m", max_shard_size=10_000), CommitInfo)
    assert_type(model.save_pretrained("out", push_to_hub=flag), CommitInfo | None)
    assert_type(model.push_to_hub("u/m", max_shard_size=10_000, dtype=jnp.float16, private=True), CommitInfo)


class SavedTheHuggingFaceHubWay(MyFlaxModel):
    """An override written for huggingface_hub's mixin, unchanged: its signature is the base's, to type checkers."""

    def _save_pretrained(self, save_directory: Path) -> None:
        super()._save_pretrained(save_directory)
        (save_directory / "extra.txt").write_text("written by the library")
