"""A cross-layout tie holding NaN loads strictly; the normal-build fallback gets fresh arguments; a nested-dict
state-shaped sharding leaves the RNG state out."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from hubmixin_flax import FlaxModelHubMixin


class Raw(nnx.Module):
    def __init__(self, w: Any) -> None:
        self.w = w


class TiedAcross(nnx.Module, FlaxModelHubMixin):
    """``raw.w`` is ``proj``'s kernel, held outside a Linear: saved under both paths, each in its own layout."""

    def __init__(self, *, rngs: nnx.Rngs) -> None:
        self.proj = nnx.Linear(4, 4, rngs=rngs)
        self.raw = Raw(self.proj.kernel)


def test_a_cross_layout_tie_holding_nan_loads_its_own_checkpoint_strictly(tmp_path: Path) -> None:
    model = TiedAcross(rngs=nnx.Rngs(0))
    model.proj.kernel.set_value(model.proj.kernel.get_value().at[0, 1].set(jnp.nan))
    model.save_pretrained(tmp_path / "m")
    loaded = TiedAcross.from_pretrained(tmp_path / "m", strict=True)
    np.testing.assert_array_equal(np.asarray(loaded.proj.kernel.get_value()), np.asarray(model.proj.kernel.get_value()))
    assert loaded.raw.w is loaded.proj.kernel


class Consuming(nnx.Module, FlaxModelHubMixin):
    """Consumes its config dict, then needs a concrete array: built abstractly first, then normally."""

    def __init__(self, cfg: dict[str, int], *, rngs: nnx.Rngs) -> None:
        width = cfg.pop("width")
        self.lin = nnx.Linear(3, width, rngs=rngs)
        self.init_std = float(np.asarray(self.lin.kernel.get_value()).std())


def test_the_normal_build_after_an_abstract_attempt_gets_the_arguments_whole(tmp_path: Path) -> None:
    model = Consuming({"width": 4}, rngs=nnx.Rngs(0))
    model.save_pretrained(tmp_path / "m")
    loaded = Consuming.from_pretrained(tmp_path / "m", strict=True)
    np.testing.assert_array_equal(np.asarray(loaded.lin.kernel.get_value()), np.asarray(model.lin.kernel.get_value()))


class WithDropout(nnx.Module, FlaxModelHubMixin):
    def __init__(self, *, rngs: nnx.Rngs) -> None:
        self.lin = nnx.Linear(3, 4, rngs=rngs)
        self.drop = nnx.Dropout(0.1, rngs=rngs)


def test_a_nested_dict_sharding_of_the_state_leaves_the_rng_state_out(tmp_path: Path) -> None:
    model = WithDropout(rngs=nnx.Rngs(0))
    model.save_pretrained(tmp_path / "m")
    mesh = Mesh(np.array(jax.devices()[:1]), ("model",))
    replicated = NamedSharding(mesh, P())  # type: ignore[no-untyped-call]
    nested = jax.tree.map(lambda _: replicated, nnx.to_pure_dict(nnx.state(model)))
    assert "rngs" in nested["drop"]
    loaded = WithDropout.from_pretrained(tmp_path / "m", sharding=nested, strict=True)
    np.testing.assert_array_equal(np.asarray(loaded.lin.kernel.get_value()), np.asarray(model.lin.kernel.get_value()))
    assert loaded.lin.kernel.get_value().sharding == replicated
