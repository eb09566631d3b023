"""Loading straight onto a 2x4 mesh of CPU devices: a Mesh, a mapping, a callable or a single Sharding."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx
from flax_models import Net, Plain, Sharded, persistent, pspec
from jax.sharding import Mesh, NamedSharding, Sharding, SingleDeviceSharding
from safetensors.numpy import load_file, save_file

from hubmixin_core.errors import HubMixinTypeError, HubMixinValueError
from hubmixin_flax import FlaxModelHubMixin

PATHS = ["down.bias", "down.kernel", "norm.bias", "norm.scale", "up.bias", "up.kernel"]


def _arrays(model: nnx.Module) -> dict[str, jax.Array]:
    return {path: variable.get_value() for path, variable in persistent(model).items()}


def _assert_same_values(saved: nnx.Module, loaded: nnx.Module, dtype: Any = None) -> None:
    want, got = _arrays(saved), _arrays(loaded)
    assert sorted(got) == PATHS
    for path, array in got.items():
        expected = np.asarray(want[path]) if dtype is None else np.asarray(want[path].astype(dtype))
        assert np.asarray(array).dtype == expected.dtype, path
        assert np.asarray(array).tobytes() == expected.tobytes(), path


def _assert_sharding(array: jax.Array, expected: Sharding, path: str) -> None:
    assert array.sharding == expected, f"{path}: {array.sharding} != {expected}"
    assert array.sharding.is_equivalent_to(expected, array.ndim), path


@pytest.fixture(scope="module")
def sharded(mesh: Mesh) -> Sharded:
    """The annotated model, built under the mesh (as its annotations require)."""
    with jax.set_mesh(mesh):
        return Sharded(rngs=nnx.Rngs(0))


@pytest.fixture
def sharded_dir(sharded: Sharded, tmp_path: Path) -> Path:
    sharded.save_pretrained(tmp_path / "sharded")
    return tmp_path / "sharded"


@pytest.fixture(scope="module")
def plain() -> Plain:
    return Plain(rngs=nnx.Rngs(1))


@pytest.fixture
def plain_dir(plain: Plain, tmp_path: Path) -> Path:
    plain.save_pretrained(tmp_path / "plain")
    return tmp_path / "plain"


ANNOTATIONS = {
    "up.kernel": pspec("data", "model"),
    "up.bias": pspec("model"),
    "down.kernel": pspec("model", "data"),
    "down.bias": pspec("data"),
}


def test_the_saved_model_is_sharded_by_its_annotations(sharded: Sharded, mesh: Mesh) -> None:
    # A check of the fixture: the annotations do what the tests below expect of them.
    arrays = _arrays(sharded)
    for path, spec in ANNOTATIONS.items():
        _assert_sharding(arrays[path], NamedSharding(mesh, spec), path)


@pytest.mark.parametrize("dtype", [None, jnp.bfloat16])
def test_a_mesh_places_each_parameter_by_its_annotation(
    sharded: Sharded, sharded_dir: Path, mesh: Mesh, dtype: Any
) -> None:
    loaded = Sharded.from_pretrained(sharded_dir, sharding=mesh, strict=True, dtype=dtype)
    arrays = _arrays(loaded)
    for path, array in arrays.items():
        spec = ANNOTATIONS.get(path)
        if spec is None:  # not annotated: replicated over the mesh
            assert array.sharding.is_fully_replicated, path
            assert array.sharding.is_equivalent_to(NamedSharding(mesh, pspec()), array.ndim), path
            assert isinstance(array.sharding, NamedSharding) and array.sharding.mesh == mesh, path
        else:
            _assert_sharding(array, NamedSharding(mesh, spec), path)
    up = arrays["up.kernel"]
    assert {shard.data.shape for shard in up.addressable_shards} == {(4, 4)}  # (8, 16) over (2, 4)
    assert {shard.device for shard in up.addressable_shards} == set(mesh.devices.flat)
    _assert_same_values(sharded, loaded, dtype)


def test_a_mapping_places_each_listed_path(plain: Plain, plain_dir: Path, mesh: Mesh) -> None:
    spec: dict[str, Sharding] = {
        "up.kernel": NamedSharding(mesh, pspec("data", "model")),
        "up.bias": NamedSharding(mesh, pspec("model")),
        "down.kernel": NamedSharding(mesh, pspec(None, "data")),
        "norm.scale": SingleDeviceSharding(jax.devices()[5]),
    }
    loaded = Plain.from_pretrained(plain_dir, sharding=spec, strict=True)
    default = SingleDeviceSharding(jax.devices()[0])
    for path, array in _arrays(loaded).items():
        _assert_sharding(array, spec.get(path, default), path)  # paths left out: the default device
    _assert_same_values(plain, loaded)


def test_under_the_callers_mesh_paths_a_mapping_leaves_out_go_to_the_default_device(
    plain: Plain, plain_dir: Path, mesh: Mesh
) -> None:
    spec = {"up.kernel": NamedSharding(mesh, pspec(None, "model"))}
    default = SingleDeviceSharding(jax.devices()[0])
    with jax.set_mesh(mesh):  # transposed kernels (down.kernel) too, not replicated over the mesh
        loaded = Plain.from_pretrained(plain_dir, sharding=spec, strict=True)
    for path, array in _arrays(loaded).items():
        _assert_sharding(array, spec.get(path, default), path)
    _assert_same_values(plain, loaded)
    weights = load_file(plain_dir / "model.safetensors")
    del weights["down.weight"]
    save_file(weights, plain_dir / "model.safetensors", metadata={"format": "pt"})
    with jax.set_mesh(mesh):  # a weight the file lacks, initialised under the mesh, as well
        partial = Plain.from_pretrained(plain_dir, sharding=spec)
    _assert_sharding(partial.down.kernel.get_value(), default, "down.kernel")


def test_a_callable_is_asked_for_every_path(plain: Plain, plain_dir: Path, mesh: Mesh) -> None:
    asked: list[str] = []

    def place(path: str) -> Sharding | None:
        asked.append(path)
        if path.endswith("bias"):
            return NamedSharding(mesh, pspec("model"))
        if path.endswith("kernel"):
            return NamedSharding(mesh, pspec(None, "model"))
        return None  # norm.scale: the default device

    loaded = Plain.from_pretrained(plain_dir, sharding=place, strict=True)
    assert sorted(set(asked)) == PATHS
    asked.clear()
    for path, array in _arrays(loaded).items():
        expected = place(path) or SingleDeviceSharding(jax.devices()[0])
        _assert_sharding(array, expected, path)
    _assert_same_values(plain, loaded)


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda mesh: NamedSharding(mesh, pspec("data")), id="split-axis-0"),
        pytest.param(lambda mesh: NamedSharding(mesh, pspec()), id="replicated"),
        pytest.param(lambda mesh: SingleDeviceSharding(jax.devices()[3]), id="device-3"),
    ],
)
def test_a_single_sharding_places_every_parameter(plain: Plain, plain_dir: Path, mesh: Mesh, make: Any) -> None:
    sharding: Sharding = make(mesh)
    loaded = Plain.from_pretrained(plain_dir, sharding=sharding, strict=True)
    for path, array in _arrays(loaded).items():
        _assert_sharding(array, sharding, path)
    _assert_same_values(plain, loaded)


def test_an_annotated_model_under_its_mesh_takes_a_single_sharding(
    sharded: Sharded, sharded_dir: Path, mesh: Mesh
) -> None:
    sharding = NamedSharding(mesh, pspec("data"))
    with jax.set_mesh(mesh):
        loaded = Sharded.from_pretrained(sharded_dir, sharding=sharding, strict=True)
    for path, array in _arrays(loaded).items():
        _assert_sharding(array, sharding, path)
    _assert_same_values(sharded, loaded)


def test_an_annotated_model_takes_a_named_sharding_without_a_mesh_context(
    sharded: Sharded, sharded_dir: Path, mesh: Mesh
) -> None:
    sharding = NamedSharding(mesh, pspec("data"))
    loaded = Sharded.from_pretrained(sharded_dir, sharding=sharding, strict=True)
    for path, array in _arrays(loaded).items():
        _assert_sharding(array, sharding, path)


def test_a_missing_weight_follows_its_annotation(
    sharded_dir: Path, mesh: Mesh, caplog: pytest.LogCaptureFixture
) -> None:
    tensors = load_file(sharded_dir / "model.safetensors")
    del tensors["up.weight"]
    save_file(tensors, sharded_dir / "model.safetensors", metadata={"format": "pt"})
    with caplog.at_level(logging.WARNING, logger="hubmixin_flax"):
        loaded = Sharded.from_pretrained(sharded_dir, sharding=mesh)
    assert "'up.weight'" in caplog.text
    kernel = loaded.up.kernel.get_value()
    assert isinstance(kernel, jax.Array) and kernel.shape == (8, 16)
    _assert_sharding(kernel, NamedSharding(mesh, pspec("data", "model")), "up.kernel")


def test_transposed_layouts_are_read_by_slice(net: Net, saved: Path, mesh: Mesh) -> None:
    # Conv (k, in, out) from (out, in, k), Linear (in, out) from (out, in): each device's slice of the
    # framework layout is read through the transposition; int32 variables stay int32 under dtype=.
    spec: dict[str, Sharding] = {
        "conv.kernel": NamedSharding(mesh, pspec(None, "data", None)),
        "embed.embedding": NamedSharding(mesh, pspec(None, "model")),
        "blocks.0.linear.kernel": NamedSharding(mesh, pspec("data", "model")),
        "blocks.1.offsets": NamedSharding(mesh, pspec("model")),
        "head.kernel": NamedSharding(mesh, pspec("model", None)),
    }
    loaded = Net.from_pretrained(saved, sharding=spec, strict=True, dtype=jnp.bfloat16)
    ours, theirs = persistent(net), persistent(loaded)
    for path, sharding in spec.items():
        array = theirs[path].get_value()
        _assert_sharding(array, sharding, path)
        before = np.asarray(ours[path].get_value())
        expected = before if np.issubdtype(before.dtype, np.integer) else before.astype(jnp.bfloat16)
        assert np.asarray(array).dtype == expected.dtype, path
        assert np.asarray(array).tobytes() == expected.tobytes(), path


def test_under_the_callers_mesh_parameters_follow_their_annotations(
    sharded: Sharded, sharded_dir: Path, mesh: Mesh
) -> None:
    with jax.set_mesh(mesh):  # no sharding=: placed as a fresh construction here places them
        loaded = Sharded.from_pretrained(sharded_dir, strict=True)
        fresh = Sharded(rngs=nnx.Rngs(3))
    arrays, built = _arrays(loaded), _arrays(fresh)
    for path, array in arrays.items():
        spec = ANNOTATIONS.get(path)
        if spec is not None:
            _assert_sharding(array, NamedSharding(mesh, spec), path)
        assert array.sharding.is_equivalent_to(built[path].sharding, array.ndim), path
    _assert_same_values(sharded, loaded)


def test_a_sharding_that_does_not_fit_names_the_variable(plain_dir: Path, mesh: Mesh) -> None:
    too_many_axes = NamedSharding(mesh, pspec(None, "model"))  # norm.scale and the biases have one dimension
    with pytest.raises(
        HubMixinValueError, match=r"variable 'up\.bias' of shape \(\d+,\) cannot be placed.*its spec has 2 entries, the"
    ):
        Plain.from_pretrained(plain_dir, sharding={"up.kernel": too_many_axes, "up.bias": too_many_axes})


def test_a_mapping_naming_no_variable_is_refused(plain_dir: Path, mesh: Mesh) -> None:
    spec = {"up.weight": NamedSharding(mesh, pspec("data", "model"))}  # the checkpoint's name, not the variable's
    with pytest.raises(
        HubMixinValueError, match=r"names no variable of the model at 'up\.weight' \(did you mean 'up\.kernel'"
    ):
        Plain.from_pretrained(plain_dir, sharding=spec)


def test_a_partition_spec_in_a_mapping_is_placed_on_the_callers_mesh(plain: Plain, plain_dir: Path, mesh: Mesh) -> None:
    with jax.set_mesh(mesh):  # as jax.device_put takes a PartitionSpec there
        loaded = Plain.from_pretrained(plain_dir, sharding={"up.kernel": pspec("data", "model")}, strict=True)
    _assert_sharding(_arrays(loaded)["up.kernel"], NamedSharding(mesh, pspec("data", "model")), "up.kernel")
    with pytest.raises(HubMixinTypeError, match=r"sharding for 'up\.kernel' is .*PartitionSpec, and no mesh is set"):
        Plain.from_pretrained(plain_dir, sharding={"up.kernel": pspec("data", "model")})
    with pytest.raises(HubMixinTypeError, match=r"sharding for 'up\.bias' must be a jax\.sharding\.Sharding.*got str"):
        Plain.from_pretrained(plain_dir, sharding=lambda path: "model" if path == "up.bias" else None)  # type: ignore[arg-type,return-value]


class Stack(nnx.Module, FlaxModelHubMixin):
    def __init__(self, *, rngs: nnx.Rngs) -> None:
        self.seq = nnx.Sequential(nnx.Linear(8, 8, rngs=rngs), nnx.relu, nnx.Sequential(nnx.Linear(8, 8, rngs=rngs)))


def test_a_mapping_takes_the_paths_nnx_prints_for_a_sequential_s_layers(tmp_path: Path, mesh: Mesh) -> None:
    model = Stack(rngs=nnx.Rngs(0))
    model.save_pretrained(tmp_path)
    nnx_paths = [".".join(map(str, path)) for path, _ in nnx.to_flat_state(nnx.state(model, nnx.Param))]
    assert "seq.layers.2.layers.0.kernel" in nnx_paths
    place = NamedSharding(mesh, pspec(None, "model"))
    loaded = Stack.from_pretrained(tmp_path, sharding={"seq.layers.2.layers.0.kernel": place}, strict=True)
    inner: Any = loaded.seq.layers[2]
    _assert_sharding(inner.layers[0].kernel.get_value(), place, "seq.2.0.kernel")
    before: Any = model.seq.layers[2]
    np.testing.assert_array_equal(
        np.asarray(inner.layers[0].kernel.get_value()), np.asarray(before.layers[0].kernel.get_value())
    )
