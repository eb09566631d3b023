"""A stacked module below a module holding parameters of its own; runtime arguments known by their annotation;
an annotated model loaded onto a mesh of other axis names."""

from __future__ import annotations

import importlib
import json
import warnings
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import safetensors.numpy
from flax import nnx
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from hubmixin_core.errors import HubMixinValueError, LayoutError
from hubmixin_flax import FlaxModelHubMixin

pytest.importorskip("torch")
pytest.importorskip("hubmixin_torch")

import torch
from torch import nn

from hubmixin_torch import PyTorchModelHubMixin

DIM, DEPTH = 4, 2


class Block(nnx.Module):
    def __init__(self, dim: int, *, rngs: nnx.Rngs) -> None:
        self.linear = nnx.Linear(dim, dim, rngs=rngs)


def _stack(depth: int, rngs: nnx.Rngs, make: Any) -> Any:
    @nnx.split_rngs(splits=depth)
    @nnx.vmap(in_axes=(0,), out_axes=0)
    def create(rngs: nnx.Rngs) -> Any:
        return make(rngs)

    return create(rngs)


class WithPositions(nnx.Module, FlaxModelHubMixin, stacked_layers=["blocks"]):
    """A learned positional embedding held by the model itself, beside its stacked blocks."""

    def __init__(self, dim: int = DIM, depth: int = DEPTH, *, rngs: nnx.Rngs) -> None:
        self.pos = nnx.Param(jax.random.normal(rngs.params(), (3, dim)))
        self.blocks = _stack(depth, rngs, lambda rngs: Block(dim, rngs=rngs))


class Encoder(nnx.Module):
    def __init__(self, dim: int, depth: int, *, rngs: nnx.Rngs) -> None:
        self.scale = nnx.Param(jnp.arange(dim, dtype=jnp.float32))
        self.blocks = _stack(depth, rngs, lambda rngs: Block(dim, rngs=rngs))


class WithEncoder(nnx.Module, FlaxModelHubMixin, stacked_layers=["encoder.blocks"]):
    def __init__(self, dim: int = DIM, depth: int = DEPTH, *, rngs: nnx.Rngs) -> None:
        self.encoder = Encoder(dim, depth, rngs=rngs)


class TorchBlock(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.linear = nn.Linear(dim, dim)


class TorchWithPositions(nn.Module, PyTorchModelHubMixin):
    def __init__(self, dim: int = DIM, depth: int = DEPTH) -> None:
        super().__init__()
        self.pos = nn.Parameter(torch.randn(3, dim))
        self.blocks = nn.ModuleList(TorchBlock(dim) for _ in range(depth))


def _params(model: nnx.Module) -> list[np.ndarray[Any, Any]]:
    return [np.asarray(leaf) for leaf in jax.tree.leaves(nnx.state(model, nnx.Param))]


@pytest.mark.parametrize("cls", [WithPositions, WithEncoder])
def test_a_stacked_module_below_a_module_with_parameters_of_its_own_round_trips(
    cls: type[WithPositions | WithEncoder], tmp_path: Path
) -> None:
    model = cls(rngs=nnx.Rngs(0))
    model.save_pretrained(tmp_path)
    keys = set(safetensors.numpy.load_file(tmp_path / "model.safetensors"))
    prefix = "encoder." if cls is WithEncoder else ""
    own = "encoder.scale" if cls is WithEncoder else "pos"
    assert keys == {own} | {f"{prefix}blocks.{i}.linear.{n}" for i in range(DEPTH) for n in ("weight", "bias")}
    loaded = cls.from_pretrained(tmp_path, strict=True)
    for a, b in zip(_params(loaded), _params(model), strict=True):
        np.testing.assert_array_equal(a, b)


def test_a_torch_module_list_beside_a_parameter_loads_into_the_stack(tmp_path: Path) -> None:
    torch.manual_seed(0)
    source = TorchWithPositions()
    source.save_pretrained(tmp_path)
    loaded = WithPositions.from_pretrained(tmp_path, strict=True)
    np.testing.assert_array_equal(np.asarray(loaded.pos.get_value()), source.pos.detach().numpy())
    second: Any = source.blocks[1]
    np.testing.assert_array_equal(
        np.asarray(loaded.blocks.linear.kernel.get_value())[1], second.linear.weight.detach().numpy().T
    )


class StackedInsideAttention(nnx.Module, FlaxModelHubMixin, stacked_layers=["attn.query"]):
    """A stacked module that a composite layer's adapter maps with its own tensors: still refused."""

    def __init__(self, *, rngs: nnx.Rngs) -> None:
        self.attn = nnx.MultiHeadAttention(2, 4, decode=False, rngs=rngs)
        self.attn.query = _stack(DEPTH, rngs, lambda rngs: nnx.LinearGeneral(4, (2, 2), rngs=rngs))


def test_a_stacked_module_inside_a_composite_layer_s_parts_is_still_refused(tmp_path: Path) -> None:
    with pytest.raises(LayoutError, match=r"stacked_layers=\['attn'\]"):
        StackedInsideAttention(rngs=nnx.Rngs(0)).save_pretrained(tmp_path)


class Annotated(nnx.Module, FlaxModelHubMixin):
    """Annotated for a ``("data", "model")`` mesh; a dropout holds RNG state (made at load, not read)."""

    def __init__(self, d: int = 8, *, rngs: nnx.Rngs) -> None:
        init = nnx.initializers.lecun_normal()
        self.up = nnx.Linear(d, 16, kernel_init=nnx.with_partitioning(init, (None, "model")), rngs=rngs)
        self.norm = nnx.LayerNorm(16, rngs=rngs)
        self.drop = nnx.Dropout(0.1, rngs=rngs)


def _one_axis() -> Mesh:
    return jax.make_mesh((8,), ("x",), axis_types=(jax.sharding.AxisType.Auto,))


@pytest.fixture
def annotated(mesh: Mesh, tmp_path: Path) -> tuple[Annotated, Path]:
    with jax.set_mesh(mesh):
        model = Annotated(rngs=nnx.Rngs(0))
    model.save_pretrained(tmp_path / "annotated")
    return model, tmp_path / "annotated"


@pytest.mark.parametrize("form", ["mapping", "one sharding", "callable"])
def test_explicit_shardings_load_an_annotated_model_onto_a_mesh_of_other_axes(
    annotated: tuple[Annotated, Path], mesh: Mesh, form: str
) -> None:
    model, path = annotated
    one = _one_axis()
    columns, replicated = NamedSharding(one, P(None, "x")), NamedSharding(one, P())  # type: ignore[no-untyped-call]
    sharding: Any = {
        "mapping": {"up.kernel": columns, "norm.scale": replicated},
        "one sharding": replicated,
        "callable": lambda p: columns if p == "up.kernel" else replicated,
    }[form]
    rngs = nnx.Rngs(7)
    loaded = Annotated.from_pretrained(path, sharding=sharding, strict=True, model_kwargs={"rngs": rngs})
    for a, b in zip(_params(loaded), _params(model), strict=True):
        np.testing.assert_array_equal(a, b)
    kernel = loaded.up.kernel.get_value()
    assert kernel.sharding == (replicated if form == "one sharding" else columns)
    fresh_rngs = nnx.Rngs(7)
    with jax.set_mesh(mesh):
        fresh = Annotated(rngs=fresh_rngs)
    assert rngs.default.count.get_value() == fresh_rngs.default.count.get_value()  # drawn as a fresh build draws
    np.testing.assert_array_equal(
        jax.random.key_data(loaded.drop.rngs.key.get_value()),
        jax.random.key_data(fresh.drop.rngs.key.get_value()),
    )


def test_a_missing_annotated_weight_is_initialised_on_the_other_mesh(annotated: tuple[Annotated, Path]) -> None:
    _, path = annotated
    weights = safetensors.numpy.load_file(path / "model.safetensors")
    del weights["up.weight"]
    safetensors.numpy.save_file(weights, path / "model.safetensors", metadata={"format": "pt"})
    columns = NamedSharding(_one_axis(), P(None, "x"))  # type: ignore[no-untyped-call]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        loaded = Annotated.from_pretrained(path, sharding={"up.kernel": columns})
    assert loaded.up.kernel.get_value().sharding == columns
    assert loaded.up.kernel.get_value().shape == (8, 16)


def test_an_annotation_the_mesh_cannot_place_is_named(annotated: tuple[Annotated, Path]) -> None:
    _, path = annotated
    one = _one_axis()
    named = r"variable 'up.kernel' is annotated \(None, 'model'\).*axis 'model' is not one of the {}: \('x',\)"
    with pytest.raises(HubMixinValueError, match=named.format("Mesh given as sharding=")):
        Annotated.from_pretrained(path, sharding=one)
    with jax.set_mesh(one), pytest.raises(HubMixinValueError, match=named.format("mesh of your jax.set_mesh")):
        Annotated.from_pretrained(path)


class OptionalMesh(nnx.Module, FlaxModelHubMixin):
    """The usual JAX pattern: ``mesh=None`` used for sharding constraints where given."""

    def __init__(self, din: int = 4, *, rngs: nnx.Rngs, mesh: Mesh | None = None) -> None:
        self.mesh = mesh
        self.linear = nnx.Linear(din, 4, rngs=rngs)


class OtherRngs(nnx.Module, FlaxModelHubMixin):
    def __init__(self, din: int = 4, rng: nnx.Rngs | None = None) -> None:
        self.rng = rng
        self.linear = nnx.Linear(din, 2, rngs=rng or nnx.Rngs(3))


def test_a_mesh_argument_left_at_none_is_not_saved_and_gets_the_load_s_mesh(mesh: Mesh, tmp_path: Path) -> None:
    OptionalMesh(din=3, rngs=nnx.Rngs(0)).save_pretrained(tmp_path)
    assert json.loads((tmp_path / "config.json").read_text()) == {"din": 3}
    assert OptionalMesh.from_pretrained(tmp_path).mesh is None
    assert OptionalMesh.from_pretrained(tmp_path, sharding=mesh).mesh is mesh
    replicated = NamedSharding(mesh, P())  # type: ignore[no-untyped-call]
    assert OptionalMesh.from_pretrained(tmp_path, sharding=replicated).mesh is mesh
    (tmp_path / "config.json").write_text(json.dumps({"din": 3, "mesh": None}))  # as earlier releases saved it
    assert OptionalMesh.from_pretrained(tmp_path, sharding=mesh).mesh is mesh


def test_an_rngs_argument_of_another_name_left_at_none_stays_none(tmp_path: Path) -> None:
    OtherRngs().save_pretrained(tmp_path)  # None may mean "no dropout": the model loads as it was saved
    assert json.loads((tmp_path / "config.json").read_text()) == {"din": 4, "rng": None}
    assert OtherRngs.from_pretrained(tmp_path, strict=True).rng is None


class DropoutWhenSeeded(nnx.Module, FlaxModelHubMixin):
    def __init__(self, rng: nnx.Rngs | None = None) -> None:
        self.linear = nnx.Linear(3, 3, rngs=nnx.Rngs(0))
        self.dropout = nnx.Dropout(0.5, rngs=rng) if rng is not None else None

    def __call__(self, x: jax.Array) -> jax.Array:
        y = self.linear(x)
        return self.dropout(y) if self.dropout is not None else y


def test_a_model_without_dropout_computes_the_same_after_load(tmp_path: Path) -> None:
    model = DropoutWhenSeeded()
    model.save_pretrained(tmp_path)
    x = jnp.ones((2, 3))
    assert jnp.array_equal(DropoutWhenSeeded.from_pretrained(tmp_path)(x), model(x))


class VariadicRuntime(nnx.Module, FlaxModelHubMixin):
    def __init__(self, din: int = 2, **meshes: Mesh) -> None:
        self.meshes = meshes
        self.linear = nnx.Linear(din, 2, rngs=nnx.Rngs(0))


def test_runtime_typed_keywords_are_not_filled_in(mesh: Mesh, tmp_path: Path) -> None:
    VariadicRuntime().save_pretrained(tmp_path)
    assert VariadicRuntime.from_pretrained(tmp_path, sharding=mesh).meshes == {}


_TYPE_CHECKING_MESH = """
from __future__ import annotations

from typing import TYPE_CHECKING

from flax import nnx

from hubmixin_flax import FlaxModelHubMixin

if TYPE_CHECKING:
    from jax.sharding import Mesh


class CheckedMesh(nnx.Module, FlaxModelHubMixin):
    def __init__(self, din: int = 2, mesh: Mesh | None = None) -> None:
        self.mesh = mesh
        self.linear = nnx.Linear(din, 2, rngs=nnx.Rngs(0))
"""


def test_a_mesh_annotation_imported_for_type_checkers_only_is_recognised(
    mesh: Mesh, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "checked_mesh_model.py").write_text(_TYPE_CHECKING_MESH)
    monkeypatch.syspath_prepend(str(tmp_path))
    cls = importlib.import_module("checked_mesh_model").CheckedMesh
    cls().save_pretrained(tmp_path / "saved")
    assert json.loads((tmp_path / "saved" / "config.json").read_text()) == {"din": 2}
    assert cls.from_pretrained(tmp_path / "saved", sharding=mesh).mesh is mesh
