"""A cross-layout tie holding NaN loads strictly; the normal-build fallback gets fresh arguments; a nested-dict
state-shaped sharding leaves the RNG state out."""

from __future__ import annotations

import json
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


class Float8Scaled(nnx.Module, FlaxModelHubMixin):
    """float8 weights with float8_e8m0fnu block scales (2**20 overflows float16) beside a float32 bias."""

    def __init__(self) -> None:
        self.w = nnx.Param(jnp.full((2, 2), 1.5, jnp.float8_e4m3fn))
        self.scale = nnx.Param(jnp.asarray([2.0**20, 1.0]).astype(jnp.float8_e8m0fnu))
        self.bias = nnx.Param(jnp.ones((2,), jnp.float32))


def _header_dtypes(path: Path) -> dict[str, str]:
    raw = path.read_bytes()
    header = json.loads(raw[8 : 8 + int.from_bytes(raw[:8], "little")])
    return {key: value["dtype"] for key, value in header.items() if key != "__metadata__"}


def test_dtype_leaves_float8_alone_on_save_and_load(tmp_path: Path) -> None:
    Float8Scaled().save_pretrained(tmp_path, dtype=jnp.float16)
    assert _header_dtypes(tmp_path / "model.safetensors") == {"w": "F8_E4M3", "scale": "F8_E8M0", "bias": "F16"}
    loaded = Float8Scaled.from_pretrained(tmp_path, dtype=jnp.bfloat16)
    assert loaded.w.get_value().dtype == jnp.float8_e4m3fn and loaded.bias.get_value().dtype == jnp.bfloat16
    scale = loaded.scale.get_value()
    assert scale.dtype == jnp.float8_e8m0fnu
    np.testing.assert_array_equal(np.asarray(scale, np.float32), [2.0**20, 1.0])


def test_an_annotation_naming_its_mesh_keeps_it_under_the_callers_set_mesh(tmp_path: Path) -> None:
    own = jax.make_mesh((4,), ("model",))

    class OwnMesh(nnx.Module, FlaxModelHubMixin):
        def __init__(self, *, rngs: nnx.Rngs) -> None:
            init = nnx.with_partitioning(nnx.initializers.lecun_normal(), (None, "model"), mesh=own)
            self.lin = nnx.Linear(4, 8, kernel_init=init, rngs=rngs)

    saved = OwnMesh(rngs=nnx.Rngs(0))
    saved.save_pretrained(tmp_path)
    with jax.set_mesh(jax.make_mesh((2, 2), ("data", "model"))):  # (the same devices: JAX requires it)
        fresh = OwnMesh(rngs=nnx.Rngs(0)).lin.kernel.get_value()
        loaded = OwnMesh.from_pretrained(tmp_path).lin.kernel.get_value()
    assert loaded.sharding == fresh.sharding == NamedSharding(own, P(None, "model"))  # type: ignore[no-untyped-call]
    np.testing.assert_array_equal(np.asarray(loaded), np.asarray(saved.lin.kernel.get_value()))
