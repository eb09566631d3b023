"""QA round 23, loads onto a device mesh: ``PartitionSpec`` and logical annotations against a mesh of other axis
names, and loads under the caller's ``jax.set_mesh`` onto other devices (a ``SingleDeviceSharding``, a sub-mesh,
another topology of the same devices, ``ref=True`` variables, the default ``nnx.Rngs(0)``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx
from jax.sharding import AxisType, Mesh, NamedSharding, Sharding, SingleDeviceSharding
from jax.sharding import PartitionSpec as P

from hubmixin_core.errors import HubMixinValueError
from hubmixin_flax import FlaxModelHubMixin

_INIT = nnx.initializers.lecun_normal()
RULES = (("embed", None), ("mlp", "model"))


class PSpecAnnotated(nnx.Module, FlaxModelHubMixin):
    """Annotated with a ``PartitionSpec`` (as ``nnx.with_partitioning`` and JAX code write it), not a tuple."""

    def __init__(self, *, rngs: nnx.Rngs) -> None:
        self.up = nnx.Linear(8, 16, kernel_init=nnx.with_partitioning(_INIT, P(None, "model")), rngs=rngs)  # type: ignore[no-untyped-call, arg-type]


class Logical(nnx.Module, FlaxModelHubMixin):
    """Annotated with logical axis names that its rules map to mesh axes (``embed`` to none, ``mlp`` to model)."""

    def __init__(self, *, rngs: nnx.Rngs) -> None:
        kernel_init = nnx.with_partitioning(_INIT, ("embed", "mlp"), sharding_rules=RULES)
        self.up = nnx.Linear(8, 16, kernel_init=kernel_init, rngs=rngs)


class Mixed(nnx.Module, FlaxModelHubMixin, stacked_layers=["st"]):
    """Unannotated: a transposed kernel (Linear), a layer stored as Flax holds it, a ``ref=True`` variable, RNG
    state (Dropout) and layers stacked with ``nnx.split_rngs`` and ``nnx.vmap``."""

    def __init__(self, *, rngs: nnx.Rngs) -> None:
        self.fc = nnx.Linear(8, 16, rngs=rngs)
        self.norm = nnx.LayerNorm(16, rngs=rngs)
        self.drop = nnx.Dropout(0.5, rngs=rngs)
        self.r = nnx.Param(jnp.arange(8.0), ref=True)

        @nnx.split_rngs(splits=2)
        @nnx.vmap(in_axes=(0,), out_axes=0)
        def make(r: nnx.Rngs) -> nnx.Linear:
            return nnx.Linear(8, 8, rngs=r)

        self.st = make(rngs)


def _meshes(axis_type: AxisType) -> tuple[Mesh, Mesh, Mesh]:
    """The caller's 2x4 mesh, a stage over devices 4 to 7, and the 8 devices reversed as a 4x2 ``("x", "y")``."""
    devices, types = np.array(jax.devices()), (axis_type, axis_type)
    return (
        Mesh(devices.reshape(2, 4), ("data", "model"), axis_types=types),
        Mesh(devices[4:].reshape(1, 4), ("data", "model"), axis_types=types),
        Mesh(devices[::-1].reshape(4, 2), ("x", "y"), axis_types=types),
    )


def _values(model: nnx.Module) -> dict[str, np.ndarray[Any, Any]]:
    with jax.set_mesh(None):
        return {
            ".".join(map(str, path)): np.asarray(v.get_value())
            for path, v in nnx.iter_graph(model)
            if isinstance(v, nnx.Param)
        }


@pytest.fixture(scope="module")
def mixed_dir(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, np.ndarray[Any, Any]]]:
    model = Mixed(rngs=nnx.Rngs(0))
    directory = tmp_path_factory.mktemp("mixed")
    model.save_pretrained(directory)
    return directory, _values(model)


# 1. A PartitionSpec annotation is checked against the mesh as a tuple one is.


def test_pspec_annotation_loads_onto_a_mesh_of_other_axis_names(mesh: Mesh, tmp_path: Path) -> None:
    with jax.set_mesh(mesh):
        saved = PSpecAnnotated(rngs=nnx.Rngs(0))
    saved.save_pretrained(tmp_path)
    tp = jax.make_mesh((8,), ("tp",))
    wanted, replicated = NamedSharding(tp, P(None, "tp")), NamedSharding(tp, P())  # type: ignore[no-untyped-call]
    forms: list[tuple[Any, Sharding]] = [
        (replicated, replicated),  # one Sharding for every parameter
        ({"up.kernel": wanted, "up.bias": None}, wanted),
        (lambda path: wanted if "kernel" in path else None, wanted),
    ]
    for form, expected in forms:
        loaded = PSpecAnnotated.from_pretrained(tmp_path, sharding=form)
        kernel = loaded.up.kernel.get_value()
        assert kernel.sharding == expected
        np.testing.assert_array_equal(np.asarray(kernel), np.asarray(saved.up.kernel.get_value()))


def test_pspec_annotation_naming_an_axis_the_mesh_lacks_is_named(mesh: Mesh, tmp_path: Path) -> None:
    with jax.set_mesh(mesh):
        PSpecAnnotated(rngs=nnx.Rngs(0)).save_pretrained(tmp_path)
    other = jax.make_mesh((2, 4), ("x", "y"))
    with pytest.raises(HubMixinValueError, match=r"'up\.kernel' is annotated P\(None, 'model'\).*axis 'model'"):
        PSpecAnnotated.from_pretrained(tmp_path, sharding=other)
    with jax.set_mesh(other), pytest.raises(HubMixinValueError, match=r"axis 'model' is not one of the mesh of your"):
        PSpecAnnotated.from_pretrained(tmp_path)


# 2. A logical annotation is checked as its rules map it: the mesh axis it lacks is named.


def test_logical_annotation_names_the_mesh_axis_it_maps_to(mesh: Mesh, tmp_path: Path) -> None:
    with jax.set_mesh(mesh):
        Logical(rngs=nnx.Rngs(0)).save_pretrained(tmp_path)
    other = jax.make_mesh((2, 4), ("data", "tp"))
    with pytest.raises(HubMixinValueError, match=r"whose axis 'model' \(its logical axis 'mlp'") as caught:
        Logical.from_pretrained(tmp_path, sharding=other)
    assert "'embed'" not in str(caught.value).split("whose axis")[1]


def test_logical_annotation_mapped_into_the_mesh_loads(mesh: Mesh, tmp_path: Path) -> None:
    with jax.set_mesh(mesh):
        saved = Logical(rngs=nnx.Rngs(0))
    saved.save_pretrained(tmp_path)
    loaded = Logical.from_pretrained(tmp_path, sharding=mesh)
    assert loaded.up.kernel.get_value().sharding == NamedSharding(mesh, P(None, "model"))  # type: ignore[no-untyped-call]


# 3 and 4. Under the caller's jax.set_mesh, a load onto other devices places every variable where asked.


def _targets(stage: Mesh, other: Mesh) -> list[Sharding]:
    return [
        SingleDeviceSharding(jax.devices()[5]),
        NamedSharding(stage, P()),  # type: ignore[no-untyped-call]
        NamedSharding(other, P()),  # type: ignore[no-untyped-call]
    ]


@pytest.mark.parametrize("axis_type", [AxisType.Auto, AxisType.Explicit])
def test_load_under_caller_mesh_onto_other_devices(
    mixed_dir: tuple[Path, dict[str, np.ndarray[Any, Any]]], axis_type: AxisType
) -> None:
    directory, expected = mixed_dir
    caller, stage, other = _meshes(axis_type)
    for target in _targets(stage, other):
        for dtype in (None, jnp.bfloat16):
            with jax.set_mesh(caller):
                loaded = Mixed.from_pretrained(directory, sharding=target, dtype=dtype)
            with jax.set_mesh(None):
                for name in ("fc.kernel", "norm.scale", "r", "st.kernel"):
                    variable = loaded
                    for part in name.split("."):
                        variable = getattr(variable, part)
                    value = variable.get_value()  # type: ignore[attr-defined]
                    assert value.sharding.is_equivalent_to(target, value.ndim), (target, name, value.sharding)
            got = _values(loaded)
            for name, array in expected.items():
                want = array if dtype is None else array.astype(jnp.bfloat16)
                np.testing.assert_array_equal(got[name], want, err_msg=name)


@pytest.mark.parametrize("axis_type", [AxisType.Auto, AxisType.Explicit])
def test_load_under_caller_mesh_with_none_goes_to_the_default_device(
    mixed_dir: tuple[Path, dict[str, np.ndarray[Any, Any]]], axis_type: AxisType
) -> None:
    directory, _ = mixed_dir
    caller, _, _ = _meshes(axis_type)
    default = SingleDeviceSharding(jax.devices()[0])
    with jax.set_mesh(caller):
        loaded = Mixed.from_pretrained(directory, sharding={"fc.bias": NamedSharding(caller, P())})  # type: ignore[no-untyped-call]
    with jax.set_mesh(None):
        for variable in (loaded.fc.kernel, loaded.r, loaded.st.kernel):
            value = variable.get_value()
            assert value.sharding.is_equivalent_to(default, value.ndim), value.sharding


def test_explicit_caller_mesh_onto_a_sharded_other_topology(
    mixed_dir: tuple[Path, dict[str, np.ndarray[Any, Any]]],
) -> None:
    """The default nnx.Rngs(0) is made for the construction's mesh, not typed on the caller's."""
    directory, expected = mixed_dir
    caller, stage, other = _meshes(AxisType.Explicit)
    for on, axis in ((stage, "model"), (other, "y")):
        target = NamedSharding(on, P(None, axis))  # type: ignore[no-untyped-call]
        sharding = {"fc.kernel": target, "norm.scale": NamedSharding(on, P(axis))}  # type: ignore[no-untyped-call]
        with jax.set_mesh(caller):
            loaded = Mixed.from_pretrained(directory, sharding=sharding)
        assert loaded.fc.kernel.get_value().sharding == target
        got = _values(loaded)
        for name, array in expected.items():
            np.testing.assert_array_equal(got[name], array, err_msg=name)


class WithRngState(nnx.Module, FlaxModelHubMixin):
    """No transposed layout, no ref: only the default ``nnx.Rngs(0)`` (held by Dropout) meets the caller's mesh."""

    def __init__(self, *, rngs: nnx.Rngs) -> None:
        self.norm = nnx.LayerNorm(16, rngs=rngs)
        self.drop = nnx.Dropout(0.5, rngs=rngs)


@pytest.mark.parametrize("axis_type", [AxisType.Auto, AxisType.Explicit])
def test_default_rngs_are_made_for_the_construction_mesh(tmp_path: Path, axis_type: AxisType) -> None:
    saved = WithRngState(rngs=nnx.Rngs(0))
    saved.save_pretrained(tmp_path)
    caller, stage, _ = _meshes(axis_type)
    target = NamedSharding(stage, P())  # type: ignore[no-untyped-call]
    with jax.set_mesh(caller):
        loaded = WithRngState.from_pretrained(tmp_path, sharding=target)
    assert loaded.norm.scale is not None and loaded.drop.rngs is not None
    assert loaded.norm.scale.get_value().sharding == target
    assert set(loaded.drop.rngs.key.get_value().devices()) == set(stage.devices.flat)


class HoldsRngs(nnx.Module, FlaxModelHubMixin):
    def __init__(self, *, rngs: nnx.Rngs) -> None:
        self.norm = nnx.LayerNorm(4, rngs=rngs)
        self.rngs = rngs


def test_a_default_rngs_the_model_holds_is_the_callers_once_loaded(tmp_path: Path) -> None:
    HoldsRngs(rngs=nnx.Rngs(0)).save_pretrained(tmp_path)
    held = HoldsRngs.from_pretrained(tmp_path).rngs
    held.params()  # drawn from: a later load given it keeps it, as it keeps any Rngs given
    again = HoldsRngs.from_pretrained(tmp_path, model_kwargs={"rngs": held})
    assert again.rngs is held


class ListAnnotated(nnx.Module, FlaxModelHubMixin):
    """Annotated with a list (Flax takes one as it takes a tuple)."""

    def __init__(self, *, rngs: nnx.Rngs) -> None:
        self.up = nnx.Linear(8, 16, kernel_init=nnx.with_partitioning(_INIT, [None, "model"]), rngs=rngs)  # type: ignore[arg-type]


def test_a_list_annotation_naming_an_axis_the_mesh_lacks_is_named(tmp_path: Path) -> None:
    auto = jax.make_mesh((2, 4), ("data", "model"), axis_types=(AxisType.Auto, AxisType.Auto))
    with jax.set_mesh(auto):
        ListAnnotated(rngs=nnx.Rngs(0)).save_pretrained(tmp_path)
    with pytest.raises(HubMixinValueError, match=r"'up\.kernel' is annotated .*axis 'model'"):
        ListAnnotated.from_pretrained(tmp_path, sharding=jax.make_mesh((2, 4), ("x", "y")))


def test_a_sharding_callable_runs_under_the_callers_mesh(mesh: Mesh, tmp_path: Path) -> None:
    # (reg23f #1 of round 23: called outside it, jax.sharding.get_mesh() was empty)
    with jax.set_mesh(mesh):
        PSpecAnnotated(rngs=nnx.Rngs(0)).save_pretrained(tmp_path)

    def placed(path: str) -> Sharding:
        spec = P(None, "model") if path == "up.kernel" else P()  # type: ignore[no-untyped-call]
        return NamedSharding(jax.sharding.get_mesh(), spec)

    with jax.set_mesh(mesh):
        loaded = PSpecAnnotated.from_pretrained(tmp_path, sharding=placed)
    assert loaded.up.kernel.get_value().sharding == NamedSharding(mesh, P(None, "model"))  # type: ignore[no-untyped-call]
