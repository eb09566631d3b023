"""Negative typing cases for hubmixin_flax: every line marked `# E: <code>` must be reported by mypy with that code."""

from __future__ import annotations

import jax.numpy as jnp
from jax.sharding import Mesh
from pass_flax import MyFlaxModel


def misspelled_and_mistyped(model: MyFlaxModel, mesh: Mesh) -> None:
    MyFlaxModel.from_pretrained("u/m", shardng=mesh)  # E: call-arg
    MyFlaxModel.from_pretrained("u/m", stict=True)  # E: call-arg
    MyFlaxModel.from_pretrained("u/m", strict="yes")  # E: arg-type
    MyFlaxModel.from_pretrained("u/m", sharding="model")  # E: arg-type
    MyFlaxModel.from_pretrained("u/m", sharding=[mesh])  # E: arg-type
    MyFlaxModel.from_pretrained("u/m", dtype=1.5)  # E: arg-type
    model.save_pretrained("out", max_shard_size=1.5)  # E: call-overload
    model.save_pretrained("out", dtpye=jnp.bfloat16)  # E: call-overload
    model.push_to_hub("u/m", sharding=mesh)  # E: call-arg
    wrong: str = MyFlaxModel.from_pretrained("u/m")  # E: assignment
