"""Loads QA round 14 found wrong: a model whose ``__init__`` splits its ``Rngs`` (scan over layers), and a class
holding a plain array attribute loaded more than once in a process."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from hubmixin_flax import FlaxModelHubMixin


class Block(nnx.Module):
    def __init__(self, rngs: nnx.Rngs) -> None:
        self.linear = nnx.Linear(4, 4, rngs=rngs)


class Scanned(nnx.Module, FlaxModelHubMixin, stacked_layers=["blocks"]):
    """docs/flax.md's layers stacked by ``nnx.vmap``, then more draws: a head, a Dropout, an unsaved variable."""

    def __init__(self, head: bool = False, *, rngs: nnx.Rngs) -> None:
        @nnx.split_rngs(splits=3)
        @nnx.vmap(in_axes=(0,), out_axes=0)
        def create(rngs: nnx.Rngs) -> Block:
            return Block(rngs)

        self.blocks = create(rngs)
        self.drop = nnx.Dropout(0.5, rngs=rngs)
        self.noise = nnx.Variable(jax.random.normal(rngs.params(), (3,)))
        if head:
            self.head = nnx.Linear(4, 2, rngs=rngs)  # not in the checkpoint: initialised at load


def _flat_state(model: nnx.Module | nnx.Rngs) -> dict[str, np.ndarray[Any, Any]]:
    def plain(value: Any) -> np.ndarray[Any, Any]:
        value = value.get_value() if isinstance(value, nnx.Variable) else value
        if jnp.issubdtype(value.dtype, jax.dtypes.prng_key):
            value = jax.random.key_data(value)
        return np.asarray(value)

    return {str(path): plain(value) for path, value in nnx.to_flat_state(nnx.state(model))}


def _differing(ours: nnx.Module | nnx.Rngs, theirs: nnx.Module | nnx.Rngs) -> list[str]:
    """The paths of the state of either that the other lacks or holds other bytes (dtype aside) at."""
    got, want = _flat_state(ours), _flat_state(theirs)
    return sorted(
        key
        for key in got.keys() | want.keys()
        if key not in got or key not in want or got[key].tobytes() != want[key].tobytes()
    )


def test_a_model_splitting_its_rngs_loads_as_a_fresh_build(tmp_path: Path) -> None:
    # split_rngs backs each counter up and restores it after the vmap: the counts drawn later (the head's
    # initial values, the Dropout's key, the noise) are those of a fresh build, bit for bit.
    with pytest.warns(UserWarning, match="'noise' .* not saved"):
        Scanned(rngs=nnx.Rngs(0)).save_pretrained(tmp_path)
    given, fresh_rngs = nnx.Rngs(params=1, dropout=2), nnx.Rngs(params=1, dropout=2)
    loaded = Scanned.from_pretrained(tmp_path, model_kwargs={"head": True, "rngs": given})
    fresh = Scanned(head=True, rngs=fresh_rngs)
    fresh.blocks = loaded.blocks  # (the saved weights come from Rngs(0))
    assert _differing(loaded, fresh) == _differing(given, fresh_rngs) == []
    x = jnp.ones((1, 8))
    assert np.asarray(loaded.drop(x)).tobytes() == np.asarray(fresh.drop(x)).tobytes()


class Rope(nnx.Module, FlaxModelHubMixin):
    def __init__(self, dim: int = 4, *, rngs: nnx.Rngs) -> None:
        self.proj = nnx.Linear(dim, dim, rngs=rngs)
        self.freqs = jnp.outer(jnp.arange(8.0), jnp.ones(dim // 2))  # a plain attribute (docs/flax.md)


def test_a_plain_array_attribute_loads_every_time(tmp_path: Path) -> None:
    # The abstract construction of such a class is given up for a normal one: the traced table must not be left
    # in JAX's caches, where the next load compared its own with it (UnexpectedTracerError).
    model = Rope(rngs=nnx.Rngs(0))
    model.save_pretrained(tmp_path)
    for _ in range(3):
        loaded = Rope.from_pretrained(tmp_path, strict=True)
        assert isinstance(loaded.freqs, jax.Array) and not isinstance(loaded.freqs, jax.core.Tracer)
        np.testing.assert_array_equal(np.asarray(loaded.freqs), np.asarray(model.freqs))
        assert _differing(loaded, model) == []
