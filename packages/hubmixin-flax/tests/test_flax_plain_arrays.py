"""Arrays a module computes in ``__init__`` without making them variables (a RoPE table, a causal mask, inside
lists, tuples and dicts): not saved, and computed again by ``from_pretrained`` as a fresh construction does."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from hubmixin_flax import FlaxModelHubMixin


class Rotary(nnx.Module, FlaxModelHubMixin):
    def __init__(self, dim: int = 8, length: int = 16, *, rngs: nnx.Rngs) -> None:
        self.proj = nnx.Linear(dim, dim, rngs=rngs)
        inverse = 1.0 / (10000 ** (jnp.arange(0, dim, 2) / dim))
        self.freqs = jnp.outer(jnp.arange(float(length)), inverse)  # a plain attribute
        self.mask = nnx.data(jnp.tril(jnp.ones((4, 4))))
        self.tables: list[Any] = nnx.data([jnp.ones(3), (jnp.zeros(2), jnp.arange(4.0))])
        self.named = nnx.data({"shift": jnp.full(2, 7.0)})

    def __call__(self, x: jax.Array) -> jax.Array:
        extra = self.tables[0].sum() + self.tables[1][1].sum() + self.named["shift"].sum()
        out: jax.Array = self.mask @ self.proj(x) * jnp.cos(self.freqs[: x.shape[-2]]).repeat(2, -1) + extra
        return out


def test_plain_arrays_are_computed_again_at_load(tmp_path: Path) -> None:
    model = Rotary(length=12, rngs=nnx.Rngs(0))
    model.save_pretrained(tmp_path)
    loaded = Rotary.from_pretrained(tmp_path, strict=True)
    arrays: list[tuple[Any, Any]] = [
        (loaded.freqs, model.freqs),
        (loaded.mask, model.mask),
        (loaded.tables[0], model.tables[0]),
        (loaded.tables[1][0], model.tables[1][0]),
        (loaded.tables[1][1], model.tables[1][1]),
        (loaded.named["shift"], model.named["shift"]),
    ]
    for ours, theirs in arrays:
        assert isinstance(ours, jax.Array) and not isinstance(ours, jax.core.Tracer)
        np.testing.assert_array_equal(np.asarray(ours), np.asarray(theirs))
    x = jnp.ones((4, 8))
    np.testing.assert_array_equal(np.asarray(loaded(x)), np.asarray(model(x)))
    assert loaded.freqs.shape == (12, 4)  # built from the saved config
