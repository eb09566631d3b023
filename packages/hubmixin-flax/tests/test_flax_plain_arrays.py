"""Arrays a module computes in ``__init__`` without making them variables (a RoPE table, a causal mask, inside
lists, tuples and dicts): not saved, and computed again by ``from_pretrained`` as a fresh construction does."""

from __future__ import annotations

import dataclasses
import functools
import json
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from hubmixin_core import ConfigEncodingWarning
from hubmixin_flax import FlaxModelHubMixin


class Rotary(nnx.Module, FlaxModelHubMixin):
    def __init__(self, dim: int = 8, length: int = 16, *, rngs: nnx.Rngs) -> None:
        self.proj = nnx.Linear(dim, dim, rngs=rngs)
        inverse = 1.0 / (10000 ** (jnp.arange(0, dim, 2) / dim))
        self.freqs = jnp.outer(jnp.arange(float(length)), inverse)  # a plain attribute
        self.mask = nnx.data(jnp.tril(jnp.ones((4, 4))))
        self.tables: list[Any] = nnx.data([jnp.ones(3), (jnp.zeros(2), jnp.arange(4.0))])
        self.named = nnx.data({"shift": jnp.full(2, 7.0)})
        self.pair = nnx.data((jnp.ones(2), jnp.full(2, 3.0)))  # a tuple holding arrays is data when marked

    def __call__(self, x: jax.Array) -> jax.Array:
        extra = self.tables[0].sum() + self.tables[1][1].sum() + self.named["shift"].sum() + self.pair[1].sum()
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
        (loaded.pair[1], model.pair[1]),
    ]
    for ours, theirs in arrays:
        assert isinstance(ours, jax.Array) and not isinstance(ours, jax.core.Tracer)
        np.testing.assert_array_equal(np.asarray(ours), np.asarray(theirs))
    x = jnp.ones((4, 8))
    np.testing.assert_array_equal(np.asarray(loaded(x)), np.asarray(model(x)))
    assert loaded.freqs.shape == (12, 4)  # built from the saved config
    # They are pytree data, as in a fresh construction: the same state, each model's state merges into the
    # other's graph.
    assert sorted(nnx.state(loaded).keys()) == sorted(nnx.state(model).keys())
    assert nnx.graphdef(loaded) == nnx.graphdef(model)  # (nnx.jit's cache: compiled once for both)
    merged = nnx.merge(nnx.graphdef(model), nnx.state(loaded))
    np.testing.assert_array_equal(np.asarray(merged(x)), np.asarray(model(x)))


class Table:
    """A plain helper object (static for NNX) holding arrays ``__init__`` computes."""

    def __init__(self, length: int) -> None:
        self.sin = jnp.sin(jnp.arange(float(length)))


class Sampler:
    """A plain helper object keeping the ``Rngs`` it is given."""

    def __init__(self, rngs: nnx.Rngs) -> None:
        self.rngs = rngs


class HelperHolder(nnx.Module, FlaxModelHubMixin):
    def __init__(self, length: int = 4, *, rngs: nnx.Rngs) -> None:
        self.proj = nnx.Linear(length, length, rngs=rngs)
        self.table = Table(length)
        self.shift = functools.partial(jnp.add, jnp.full((length,), 0.5))
        self.sampler = Sampler(rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        out: jax.Array = self.shift(self.proj(x)) * self.table.sin
        return out


def test_arrays_and_rngs_in_plain_objects_are_real(tmp_path: Path) -> None:
    HelperHolder(rngs=nnx.Rngs(0)).save_pretrained(tmp_path)
    rngs = nnx.Rngs(1)
    loaded = HelperHolder.from_pretrained(tmp_path, model_kwargs={"rngs": rngs})
    assert not isinstance(loaded.table.sin, jax.core.Tracer) and loaded.sampler.rngs is rngs
    loaded.sampler.rngs.params()  # (a copy from the abstract construction cannot draw here)
    x = jnp.ones((2, 4))
    expected = (loaded.proj(x) + 0.5) * jnp.sin(jnp.arange(4.0))
    np.testing.assert_array_equal(np.asarray(loaded(x)), np.asarray(expected))


P: Any = jax.P  # untyped in jax


class QuantizedAtInit(nnx.Module, FlaxModelHubMixin):
    """Quantises an initialised kernel with numpy in ``__init__``: it cannot run abstractly (nnx.eval_shape)."""

    def __init__(self, dim: int = 8, *, rngs: nnx.Rngs) -> None:
        kernel = np.asarray(nnx.initializers.lecun_normal()(rngs.params(), (dim, dim)))
        scale = np.abs(kernel).max(0) / 127
        self.qkernel = nnx.Param(np.round(kernel / scale).astype(np.int8))
        self.scale = nnx.Param(scale.astype(np.float32))


def test_an_init_needing_concrete_arrays_is_built_normally_then_loaded(tmp_path: Path) -> None:
    model = QuantizedAtInit(rngs=nnx.Rngs(1))
    model.save_pretrained(tmp_path)
    loaded = QuantizedAtInit.from_pretrained(tmp_path, strict=True)  # a TracerArrayConversionError before
    assert np.array_equal(np.asarray(loaded.qkernel.get_value()), np.asarray(model.qkernel.get_value()))
    assert np.array_equal(np.asarray(loaded.scale.get_value()), np.asarray(model.scale.get_value()))
    mesh = jax.make_mesh((2, 4), ("data", "model"))
    sharded = QuantizedAtInit.from_pretrained(tmp_path, sharding={"qkernel": jax.NamedSharding(mesh, P(None, "model"))})
    assert sharded.qkernel.get_value().sharding.spec == P(None, "model")
    assert np.array_equal(np.asarray(sharded.qkernel.get_value()), np.asarray(model.qkernel.get_value()))


EMB, OUT, FREE = P(None, "model"), P(("data", "model")), P(P.UNCONSTRAINED, None)


@dataclasses.dataclass
class ShardingConfig:
    emb: jax.P = EMB
    out: jax.P = OUT
    free: jax.P = FREE


class WithShardingConfig(nnx.Module, FlaxModelHubMixin):
    def __init__(self, shd: ShardingConfig, dim: int = 4, *, rngs: nnx.Rngs) -> None:
        self.shd = shd
        self.proj = nnx.Linear(dim, dim, rngs=rngs)


def test_partition_specs_in_a_config_round_trip(tmp_path: Path) -> None:
    model = WithShardingConfig(ShardingConfig(emb=P("data", None)), rngs=nnx.Rngs(0))
    model.save_pretrained(tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["shd"] == {"emb": ["data", None], "out": [["data", "model"]], "free": [{"unconstrained": True}, None]}
    assert WithShardingConfig.from_pretrained(tmp_path).shd == model.shd


class Opaque:
    """A value no coder takes."""


@dataclasses.dataclass
class Inner:
    thing: Any = None


@dataclasses.dataclass
class Outer:
    inner: Inner = dataclasses.field(default_factory=Inner)


class WithOpaque(nnx.Module, FlaxModelHubMixin):
    def __init__(self, cfg: Outer, *, rngs: nnx.Rngs) -> None:
        self.proj = nnx.Linear(2, 2, rngs=rngs)


def test_an_unencodable_part_of_a_nested_config_is_named() -> None:
    with pytest.warns(ConfigEncodingWarning, match=r"'cfg' of type \S+Outer \(at cfg\.inner\.thing: \S+Opaque\)"):
        WithOpaque(Outer(Inner(Opaque())), rngs=nnx.Rngs(0))


class Ema(nnx.Variable[jax.Array]):
    """State of the model's own kind: not a Param, not a BatchStat."""


class WithEma(nnx.Module, FlaxModelHubMixin):
    def __init__(self, *, rngs: nnx.Rngs) -> None:
        self.proj = nnx.Linear(2, 2, rngs=rngs)
        self.ema = Ema(jnp.zeros(2))
        self.dropout = nnx.Dropout(0.1, rngs=rngs)  # RNG state: rebuilt at load, nothing to say


def test_variables_of_other_types_are_named_at_save(tmp_path: Path) -> None:
    with pytest.warns(UserWarning, match=r"variables 'ema' \(Ema\) are not saved") as caught:
        WithEma(rngs=nnx.Rngs(0)).save_pretrained(tmp_path)
    assert len(caught) == 1 and caught[0].filename == __file__


class MutableParam(nnx.Module, FlaxModelHubMixin):
    def __init__(self, *, rngs: nnx.Rngs) -> None:
        self.w = nnx.Param(jax.random.normal(rngs.params(), (4, 4)), ref=True)  # nnx.eval_shape refuses it


def test_a_model_holding_mutable_arrays_is_built_normally_then_loaded(tmp_path: Path) -> None:
    model = MutableParam(rngs=nnx.Rngs(0))
    model.save_pretrained(tmp_path)
    loaded = MutableParam.from_pretrained(tmp_path, model_kwargs={"rngs": nnx.Rngs(5)})  # another init: loaded over
    assert np.array_equal(np.asarray(loaded.w[...]), np.asarray(model.w[...]))
