"""Flax 0.12's ref and hijax variables, flat sharding mappings naming RNG state, and ``from_pretrained`` called on
the mixin itself (round 21)."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx
from flax.nnx.variablelib import is_array_ref
from huggingface_hub import HfApi
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P
from safetensors.numpy import load_file, save_file

from hubmixin_core.errors import HubMixinTypeError
from hubmixin_core.testing import LocalHub
from hubmixin_flax import FlaxModelHubMixin


class RefParam(nnx.Module, FlaxModelHubMixin):
    """A mutable-array variable (``ref=True``): built normally, then loaded."""

    def __init__(self, *, rngs: nnx.Rngs) -> None:
        self.w = nnx.Param(jax.random.normal(rngs.params(), (8, 8)), ref=True)


class RefLayers(nnx.Module, FlaxModelHubMixin):
    """Every variable of its layers a mutable array (``nnx.var_defaults(ref=True)``)."""

    @nnx.var_defaults(ref=True)
    def __init__(self, *, rngs: nnx.Rngs) -> None:
        self.fc = nnx.Linear(8, 8, rngs=rngs)
        self.norm = nnx.LayerNorm(8, rngs=rngs)


def test_a_ref_variable_is_loaded_in_the_dtype_asked_for_and_stays_a_ref(tmp_path: Path) -> None:
    model = RefParam(rngs=nnx.Rngs(0))
    model.save_pretrained(tmp_path)
    loaded = RefParam.from_pretrained(tmp_path, dtype=jnp.bfloat16)
    assert is_array_ref(loaded.w.get_raw_value())
    assert loaded.w[...].dtype == jnp.bfloat16
    np.testing.assert_array_equal(np.asarray(loaded.w[...]), np.asarray(model.w[...].astype(jnp.bfloat16)))


@pytest.mark.parametrize("spec", [P("data", "model"), P("model", None), P()])  # type: ignore[no-untyped-call]
def test_a_ref_variable_is_placed_on_the_sharding_asked_for(tmp_path: Path, mesh: Mesh, spec: P) -> None:
    model = RefParam(rngs=nnx.Rngs(0))
    model.save_pretrained(tmp_path)
    wanted = NamedSharding(mesh, spec)
    loaded = RefParam.from_pretrained(tmp_path, sharding=wanted)
    assert is_array_ref(loaded.w.get_raw_value())
    assert loaded.w[...].sharding.is_equivalent_to(wanted, 2)
    np.testing.assert_array_equal(np.asarray(loaded.w[...]), np.asarray(model.w[...]))


def test_an_annotated_ref_variable_built_under_a_mesh_takes_the_sharding_asked_for(tmp_path: Path, mesh: Mesh) -> None:
    class Annotated(nnx.Module, FlaxModelHubMixin):
        def __init__(self, *, rngs: nnx.Rngs) -> None:
            value = jax.random.normal(rngs.params(), (8, 8))
            self.w = nnx.Param(value, ref=True, out_sharding=("data", "model"))

    with jax.set_mesh(mesh):
        model = Annotated(rngs=nnx.Rngs(0))
    model.save_pretrained(tmp_path)
    wanted = NamedSharding(mesh, P())  # type: ignore[no-untyped-call]
    loaded = Annotated.from_pretrained(tmp_path, sharding=wanted)
    assert is_array_ref(loaded.w.get_raw_value())
    assert loaded.w[...].sharding.is_equivalent_to(wanted, 2)


def test_var_defaults_ref_layers_load_with_dtype_and_sharding_and_missing_weights(tmp_path: Path, mesh: Mesh) -> None:
    model = RefLayers(rngs=nnx.Rngs(0))
    model.save_pretrained(tmp_path)
    columns = NamedSharding(mesh, P(None, "model"))  # type: ignore[no-untyped-call]
    loaded = RefLayers.from_pretrained(tmp_path, dtype=jnp.bfloat16, sharding={"fc.kernel": columns})
    assert loaded.norm.scale is not None
    assert is_array_ref(loaded.fc.kernel.get_raw_value()) and is_array_ref(loaded.norm.scale.get_raw_value())
    assert loaded.fc.kernel[...].dtype == loaded.norm.scale[...].dtype == jnp.bfloat16
    assert loaded.fc.kernel[...].sharding == columns
    tensors = load_file(tmp_path / "model.safetensors")
    del tensors["fc.weight"]  # a weight the file lacks: the model's own, in the dtype and placement asked for
    save_file(tensors, tmp_path / "model.safetensors", metadata={"format": "pt"})
    partial = RefLayers.from_pretrained(tmp_path, dtype=jnp.float16, sharding={"fc.kernel": columns})
    assert is_array_ref(partial.fc.kernel.get_raw_value())
    assert partial.fc.kernel[...].dtype == jnp.float16 and partial.fc.kernel[...].sharding == columns


class HijaxMLP(nnx.Module, FlaxModelHubMixin):
    """docs/flax.md's MLP, its variables hijax (``nnx.var_defaults(hijax=True)``): the Dropout keeps RNG state."""

    @nnx.var_defaults(hijax=True)
    def __init__(self, din: int = 8, *, rngs: nnx.Rngs) -> None:
        self.hidden = nnx.Linear(din, 16, rngs=rngs)
        self.norm = nnx.LayerNorm(16, rngs=rngs)
        self.dropout = nnx.Dropout(0.5, rngs=rngs)
        self.head = nnx.Linear(16, 4, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        return self.head(self.dropout(self.norm(self.hidden(x))))


def test_a_var_defaults_hijax_model_with_dropout_loads_with_a_fresh_constructions_rng_state(tmp_path: Path) -> None:
    model = HijaxMLP(rngs=nnx.Rngs(0))
    model.save_pretrained(tmp_path)
    loaded = HijaxMLP.from_pretrained(tmp_path)
    fresh = HijaxMLP(rngs=nnx.Rngs(0))
    assert loaded.hidden.kernel.hijax and loaded.dropout.rngs is not None and loaded.dropout.rngs.key.hijax
    assert fresh.dropout.rngs is not None
    np.testing.assert_array_equal(
        jax.random.key_data(loaded.dropout.rngs.key.get_value()),
        jax.random.key_data(fresh.dropout.rngs.key.get_value()),
    )
    assert int(loaded.dropout.rngs.count.get_value()) == int(fresh.dropout.rngs.count.get_value())
    x = jnp.ones((2, 8))
    np.testing.assert_array_equal(np.asarray(loaded(x)), np.asarray(model(x)))  # train mode: the same mask too
    other = HijaxMLP.from_pretrained(tmp_path, model_kwargs={"rngs": nnx.Rngs(0)})
    assert other.dropout.rngs is not None and other.dropout.rngs.key.hijax


class WithDropout(nnx.Module, FlaxModelHubMixin):
    def __init__(self, *, rngs: nnx.Rngs) -> None:
        self.hidden = nnx.Linear(8, 16, rngs=rngs)
        self.dropout = nnx.Dropout(0.1, rngs=rngs)
        self.head = nnx.Linear(16, 4, rngs=rngs)


def test_a_flat_sharding_mapping_naming_rng_state_is_taken_as_the_nested_one(tmp_path: Path, mesh: Mesh) -> None:
    WithDropout(rngs=nnx.Rngs(0)).save_pretrained(tmp_path)
    abstract = nnx.eval_shape(lambda: WithDropout(rngs=nnx.Rngs(0)))
    tree = nnx.get_named_sharding(nnx.state(abstract), mesh)
    flat = {".".join(map(str, path)): variable.get_value() for path, variable in nnx.to_flat_state(tree)}
    assert "dropout.rngs.key" in flat
    columns = NamedSharding(mesh, P(None, "model"))  # type: ignore[no-untyped-call]
    loaded = WithDropout.from_pretrained(tmp_path, sharding={**flat, "hidden.kernel": columns})
    assert loaded.hidden.kernel[...].sharding == columns


def test_from_pretrained_on_the_mixin_itself_says_what_to_do_before_fetching_anything(
    local_hub: LocalHub, tmp_path: Path
) -> None:
    repo_id = f"{local_hub.username}/mixin-itself"
    WithDropout(rngs=nnx.Rngs(0)).push_to_hub(repo_id)
    assert HfApi().list_repo_files(repo_id)
    cache = tmp_path / "cache"
    with pytest.raises(HubMixinTypeError, match=r"call from_pretrained on your model class \(class Net\(nnx.Module"):
        FlaxModelHubMixin.from_pretrained(repo_id, cache_dir=cache)
    assert not [p for p in cache.rglob("*") if p.is_file()]


class LogScale(nnx.Param[jax.Array]):
    """A positive scale kept as its log (Flax's hooks): ``get_value`` gives the scale, ``set_value`` takes one."""

    def on_get_value(self, value: jax.Array) -> jax.Array:
        return jnp.exp(value)

    def on_set_value(self, value: jax.Array) -> jax.Array:
        return jnp.log(value)


class LogScaleOwn(nnx.Param[jax.Array]):
    """The same by overriding ``get_value`` and ``set_value``, as Flax advises instead of hooks."""

    def get_value(self, **kwargs: Any) -> jax.Array:
        return jnp.exp(super().get_value(**kwargs))

    def set_value(self, value: jax.Array, **kwargs: Any) -> None:
        super().set_value(jnp.log(value), **kwargs)


def _scaled_model(kind: type[nnx.Param[jax.Array]]) -> type[FlaxModelHubMixin]:
    class Scaled(nnx.Module, FlaxModelHubMixin):
        def __init__(self, *, rngs: nnx.Rngs) -> None:
            self.lin = nnx.Linear(4, 4, rngs=rngs)
            self.scale = kind(jnp.log(jnp.full((4,), 2.0)), ref=True)  # reads as 2.0

    return Scaled


@pytest.mark.filterwarnings("ignore:Variable hooks are deprecated")
@pytest.mark.parametrize("kind", [LogScale, LogScaleOwn])
def test_a_ref_variable_with_its_own_write_path_loads_the_values_saved(
    tmp_path: Path, kind: type[nnx.Param[jax.Array]]
) -> None:
    scaled = _scaled_model(kind)
    model: Any = scaled(rngs=nnx.Rngs(0))
    model.scale.set_value(jnp.array([2.0, 3.0, 5.0, 7.0]))
    model.save_pretrained(tmp_path)
    for dtype in (None, jnp.bfloat16):
        loaded: Any = scaled.from_pretrained(tmp_path, dtype=dtype)
        assert is_array_ref(loaded.scale.get_raw_value())
        np.testing.assert_allclose(np.asarray(loaded.scale.get_value(), np.float32), [2, 3, 5, 7], rtol=1e-2)


class Master(nnx.Param[jax.Array]):
    """A float32 master copy whatever it is given (its write path casts)."""

    def set_value(self, value: jax.Array, **kwargs: Any) -> None:
        super().set_value(jnp.asarray(value, jnp.float32), **kwargs)


def test_a_ref_variable_whose_write_path_keeps_float32_loads_under_dtype(tmp_path: Path) -> None:
    scaled = _scaled_model(Master)
    model: Any = scaled(rngs=nnx.Rngs(0))
    model.save_pretrained(tmp_path)
    loaded: Any = scaled.from_pretrained(tmp_path, dtype=jnp.bfloat16)
    assert is_array_ref(loaded.scale.get_raw_value()) and loaded.scale.get_value().dtype == jnp.float32
    assert loaded.lin.kernel.get_value().dtype == jnp.bfloat16
    rounded = model.scale.get_value().astype(jnp.bfloat16).astype(jnp.float32)  # (read as dtype= asks)
    np.testing.assert_array_equal(np.asarray(loaded.scale.get_value()), np.asarray(rounded))


@pytest.mark.filterwarnings("ignore:Variable hooks are deprecated")
@pytest.mark.parametrize("kind", [LogScale, LogScaleOwn])
def test_a_ref_variable_with_its_own_write_path_the_checkpoint_lacks_keeps_its_own_value(
    tmp_path: Path, kind: type[nnx.Param[jax.Array]]
) -> None:
    class Before(nnx.Module, FlaxModelHubMixin):  # a release without the scale
        def __init__(self, *, rngs: nnx.Rngs) -> None:
            self.lin = nnx.Linear(4, 4, rngs=rngs)

    Before(rngs=nnx.Rngs(0)).save_pretrained(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # (the weight the file lacks)
        kept: Any = _scaled_model(kind).from_pretrained(tmp_path, strict=False)
    assert is_array_ref(kept.scale.get_raw_value())
    np.testing.assert_array_equal(np.asarray(kept.scale.get_raw_value()[...]), np.log(np.full((4,), 2.0, np.float32)))


class StackedBlock(nnx.Module):
    def __init__(self, dim: int, *, rngs: nnx.Rngs) -> None:
        self.linear = nnx.Linear(dim, dim, rngs=rngs)
        self.steps = nnx.Param(jnp.arange(dim, dtype=jnp.int32))


def _stacked_model(ref: bool) -> type[FlaxModelHubMixin]:
    class Scanned(nnx.Module, FlaxModelHubMixin, stacked_layers=["blocks"]):
        """Built normally: its variables are refs, or its ``__init__`` reads a concrete value."""

        @nnx.var_defaults(ref=ref)
        def __init__(self, depth: int = 3, *, rngs: nnx.Rngs) -> None:
            @nnx.split_rngs(splits=depth)
            @nnx.vmap(in_axes=(0,), out_axes=0)
            def create(rngs: nnx.Rngs) -> StackedBlock:
                return StackedBlock(4, rngs=rngs)

            self.blocks = create(rngs)
            self.head = nnx.Linear(4, 2, rngs=rngs)
            self.total = float(np.asarray(self.head.kernel[...]).sum())

    return Scanned


@pytest.mark.parametrize("ref", [False, True])
@pytest.mark.parametrize("stored", [3, 2])  # every layer, or a checkpoint lacking the last (strict=False)
def test_stacked_variables_of_a_model_built_normally_take_the_dtype_asked_for(
    tmp_path: Path, ref: bool, stored: int
) -> None:
    kind = _stacked_model(ref)
    model: Any = kind(depth=stored, rngs=nnx.Rngs(0))
    model.save_pretrained(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # (the layer the file lacks)
        loaded: Any = kind.from_pretrained(tmp_path, dtype=jnp.bfloat16, model_kwargs={"depth": 3}, strict=False)
    kernel, steps = loaded.blocks.linear.kernel, loaded.blocks.steps
    assert is_array_ref(kernel.get_raw_value()) == ref
    assert kernel[...].dtype == loaded.head.kernel[...].dtype == jnp.bfloat16
    assert steps[...].dtype == jnp.int32  # integers as they are
    np.testing.assert_array_equal(
        np.asarray(kernel[...][:stored]), np.asarray(model.blocks.linear.kernel[...].astype(jnp.bfloat16))
    )
