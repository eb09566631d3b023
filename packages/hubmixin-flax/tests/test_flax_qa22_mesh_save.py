"""Saving a model sharded over a mesh reads each variable to the host only when the writer reaches its layer, and
leaves no host copy cached on the model's arrays (QA round 22): JAX caches on an array the host copy
``np.asarray`` makes of it (a sharded or accelerator array), for the array's lifetime. A Param of random keys is
refused by name."""

from __future__ import annotations

import tracemalloc
from pathlib import Path
from typing import Any

import jax
import numpy as np
import pytest
from flax import nnx
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from hubmixin_core.errors import WeightsError
from hubmixin_flax import FlaxModelHubMixin

WIDTH, DEPTH = 256, 8


def P(*axes: str | None) -> PartitionSpec:  # jax.sharding.PartitionSpec, typed
    return PartitionSpec(*axes)  # type: ignore[no-untyped-call]


class Deep(nnx.Module, FlaxModelHubMixin):
    def __init__(self, *, rngs: nnx.Rngs) -> None:
        self.layers = nnx.List([nnx.Linear(WIDTH, WIDTH, rngs=rngs) for _ in range(DEPTH)])


class Stacked(nnx.Module, FlaxModelHubMixin, stacked_layers=["blocks"]):
    def __init__(self, *, rngs: nnx.Rngs) -> None:
        @nnx.split_rngs(splits=4)
        @nnx.vmap(in_axes=(0,), out_axes=0)
        def create(rngs: nnx.Rngs) -> nnx.Linear:
            return nnx.Linear(16, 16, rngs=rngs)

        self.blocks = create(rngs)


def _place(model: nnx.Module, sharding: Any) -> list[jax.Array]:
    """Each variable of ``model`` put by ``sharding(array)``; the arrays now held."""
    state = nnx.state(model)
    nnx.update(model, jax.tree.map(lambda x: jax.device_put(x, sharding(x)), state))
    return list(jax.tree.leaves(nnx.state(model)))


def _cached(arrays: list[jax.Array]) -> int:
    return sum(getattr(array, "_npy_value", None) is not None for array in arrays)


def _files(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir()) if p.suffix in (".safetensors", ".json")}


def test_a_sharded_model_is_saved_as_on_one_device_and_keeps_no_host_copy(mesh: Mesh, tmp_path: Path) -> None:
    model = Deep(rngs=nnx.Rngs(0))
    model.save_pretrained(tmp_path / "cpu", max_shard_size="300KB")
    arrays = _place(model, lambda x: NamedSharding(mesh, P("data", "model") if x.ndim == 2 else P("model")))
    assert all(len(array.sharding.device_set) == 8 for array in arrays)
    model.save_pretrained(tmp_path / "mesh", max_shard_size="300KB")
    assert _cached(arrays) == 0
    assert _files(tmp_path / "mesh") == _files(tmp_path / "cpu")


def test_a_sharded_save_holds_about_one_layer_on_the_host(mesh: Mesh, tmp_path: Path) -> None:
    models = [Deep(rngs=nnx.Rngs(0)) for _ in range(2)]
    for model in models:
        _place(model, lambda x: NamedSharding(mesh, P("data", "model") if x.ndim == 2 else P()))
    models[0].save_pretrained(tmp_path / "warm-up")  # (a second save of one model would reuse a cached copy)
    model = models[1]
    kernel = WIDTH * WIDTH * 4
    tracemalloc.start()
    try:
        model.save_pretrained(tmp_path / "net")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # about 3 (a layer gathered, its kernel transposed and made contiguous); 10 when every layer was read first
    assert peak < DEPTH // 2 * kernel, (
        f"{peak / kernel:.1f} kernels on the host at the save's peak (the model: {DEPTH})"
    )


def test_a_stacked_module_on_a_mesh_keeps_no_host_copy(mesh: Mesh, tmp_path: Path) -> None:
    model = Stacked(rngs=nnx.Rngs(0))
    model.save_pretrained(tmp_path / "cpu")
    arrays = _place(model, lambda x: NamedSharding(mesh, P(None, "data", "model") if x.ndim == 3 else P()))
    model.save_pretrained(tmp_path / "mesh")
    assert _cached(arrays) == 0
    assert _files(tmp_path / "mesh") == _files(tmp_path / "cpu")


def test_a_cpu_array_held_whole_is_read_in_place(mesh: Mesh) -> None:
    from hubmixin_flax._host import read_in_place, to_numpy

    single = jax.device_put(np.arange(8.0, dtype=np.float32), jax.devices("cpu")[0])
    replicated = jax.device_put(single, NamedSharding(mesh, P()))
    sharded = jax.device_put(single, NamedSharding(mesh, P("model")))
    assert read_in_place(single) and read_in_place(replicated) and not read_in_place(sharded)
    assert np.shares_memory(to_numpy(single), np.asarray(single))
    np.testing.assert_array_equal(to_numpy(sharded), np.arange(8.0))
    assert _cached([single, replicated, sharded]) == 0


class Wide(nnx.Module, FlaxModelHubMixin):
    def __init__(self) -> None:
        self.w = nnx.Param(jax.numpy.ones((8, 8)))  # float64 where x64 is on


def test_a_64_bit_sharded_variable_made_under_x64_is_saved_as_without_it(mesh: Mesh, tmp_path: Path) -> None:
    with jax.enable_x64(True):
        model = Wide()
        assert model.w.get_value().dtype == np.float64
        _place(model, lambda x: NamedSharding(mesh, P("data", "model")))
    model.save_pretrained(tmp_path / "net")  # (x64 off again: saved as JAX holds it without x64, as on one device)
    header = _files(tmp_path / "net")["model.safetensors"]
    assert b'"F32"' in header and b'"F64"' not in header
    np.testing.assert_array_equal(Wide.from_pretrained(tmp_path / "net", strict=True).w.get_value(), np.ones((8, 8)))


class Keyed(nnx.Module, FlaxModelHubMixin):
    def __init__(self) -> None:
        self.keys = nnx.Param(jax.random.split(jax.random.key(0), 8))
        self.weight = nnx.Param(jax.numpy.ones((8, 4)))


def test_a_param_of_random_keys_is_refused_by_name_on_one_device_or_sharded(mesh: Mesh, tmp_path: Path) -> None:
    model = Keyed()
    for sharding in (None, NamedSharding(mesh, P("model"))):
        if sharding is not None:
            model.keys.set_value(jax.device_put(model.keys.get_value(), sharding))
        with pytest.raises(WeightsError, match=r"variable 'keys' holds random keys \(dtype key<fry>\).*key_data"):
            model.save_pretrained(tmp_path / "keyed")
        assert not (tmp_path / "keyed").exists()


class StackedKeys(nnx.Module, FlaxModelHubMixin, stacked_layers=["blocks"]):
    def __init__(self) -> None:
        @nnx.vmap(in_axes=0, out_axes=0)
        def create(seed: jax.Array) -> nnx.Module:
            block = nnx.Module()
            block.k = nnx.Param(jax.random.key(0))  # type: ignore[attr-defined]
            return block

        self.blocks = create(jax.numpy.arange(3))


def test_a_stacked_param_of_random_keys_is_refused_by_name(tmp_path: Path) -> None:
    with pytest.raises(WeightsError, match=r"variable 'blocks\.k' holds random keys"):
        StackedKeys().save_pretrained(tmp_path / "stacked")
    assert not (tmp_path / "stacked").exists()
