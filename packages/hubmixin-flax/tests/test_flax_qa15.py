"""QA round 15: ``__init__`` s that cannot run abstractly, loads under transforms, annotations naming their own
mesh, state-shaped ``sharding=``, ties across layouts, stacked "did you mean" hints, and torch's int64 buffers."""

from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx
from flax_models import Plain, Sharded, pspec
from jax.sharding import Mesh, NamedSharding
from safetensors import safe_open

from hubmixin_core.errors import HubMixinValueError, WeightsDtypeError, WeightsError
from hubmixin_flax import FlaxModelHubMixin

pytest.importorskip("torch")
pytest.importorskip("hubmixin_torch")

import torch
from torch import nn

from hubmixin_torch import PyTorchModelHubMixin

_INIT = nnx.initializers.lecun_normal()


class SetsMesh(nnx.Module, FlaxModelHubMixin):
    """Creates its annotated parameters under ``jax.set_mesh`` of the run's mesh, in ``__init__``."""

    def __init__(self, mesh: Mesh, dim: int = 8, *, rngs: nnx.Rngs) -> None:
        with jax.set_mesh(mesh):
            self.up = nnx.Linear(dim, dim, kernel_init=nnx.with_partitioning(_INIT, (None, "model")), rngs=rngs)


class ReadsMesh(nnx.Module, FlaxModelHubMixin):
    """Sized by the mesh ``jax.sharding.get_mesh()`` gives, which refuses a trace."""

    def __init__(self, dim: int = 8, *, rngs: nnx.Rngs) -> None:
        self.lin = nnx.Linear(dim, dim * jax.sharding.get_mesh().shape["model"], rngs=rngs)


class PlacesLikeKernel(nnx.Module, FlaxModelHubMixin):
    """Reads a parameter's ``.sharding``, which a tracer does not have."""

    def __init__(self, dim: int = 8, *, rngs: nnx.Rngs) -> None:
        self.lin = nnx.Linear(dim, dim, rngs=rngs)
        self.buf = nnx.BatchStat(jax.device_put(jnp.ones((dim,)), self.lin.kernel.get_value().sharding))


def test_an_init_calling_set_mesh_is_built_normally_and_loaded(mesh: Mesh, tmp_path: Path) -> None:
    model = SetsMesh(mesh, rngs=nnx.Rngs(1))
    model.save_pretrained(tmp_path)
    for kwargs in ({"sharding": mesh}, {"model_kwargs": {"mesh": mesh}}):
        loaded = SetsMesh.from_pretrained(tmp_path, strict=True, **kwargs)
        kernel = loaded.up.kernel.get_value()
        assert kernel.sharding == NamedSharding(mesh, pspec(None, "model"))
        np.testing.assert_array_equal(np.asarray(kernel), np.asarray(model.up.kernel.get_value()))


def test_an_init_reading_the_mesh_or_a_sharding_is_built_normally_and_loaded(mesh: Mesh, tmp_path: Path) -> None:
    with jax.set_mesh(mesh):
        reads = ReadsMesh(rngs=nnx.Rngs(1))
        reads.save_pretrained(tmp_path / "reads")
    loaded = ReadsMesh.from_pretrained(tmp_path / "reads", sharding=mesh, strict=True)
    np.testing.assert_array_equal(np.asarray(loaded.lin.kernel.get_value()), np.asarray(reads.lin.kernel.get_value()))
    places = PlacesLikeKernel(rngs=nnx.Rngs(1))
    places.save_pretrained(tmp_path / "places")
    again = PlacesLikeKernel.from_pretrained(tmp_path / "places", strict=True)
    np.testing.assert_array_equal(np.asarray(again.lin.kernel.get_value()), np.asarray(places.lin.kernel.get_value()))


@pytest.mark.parametrize("transform", ["jax.vmap", "jax.grad", "nnx.vmap"])
def test_a_load_inside_a_transform_tracing_its_inputs_only_is_refused(saved: Path, transform: str) -> None:
    from flax_models import Net

    def load(x: jax.Array) -> jax.Array:
        Net.from_pretrained(saved)
        return x.sum()

    run = {"jax.vmap": jax.vmap(load), "jax.grad": jax.grad(load), "nnx.vmap": nnx.vmap(load)}[transform]
    with pytest.raises(HubMixinValueError, match=r"Net\.from_pretrained was called inside a JAX transform"):
        run(jnp.ones((2, 3)))


class OwnMesh(nnx.Module, FlaxModelHubMixin):
    """Annotated with the mesh itself (``nnx.with_partitioning(..., mesh=)``): built sharded without a context."""

    mesh: Mesh | None = None

    def __init__(self, dim: int = 8, *, rngs: nnx.Rngs) -> None:
        init = nnx.with_partitioning(_INIT, (None, "model"), mesh=type(self).mesh)
        self.lin = nnx.Linear(dim, dim, kernel_init=init, rngs=rngs)


@pytest.mark.parametrize("axes", [jax.sharding.AxisType.Auto, jax.sharding.AxisType.Explicit])
def test_an_annotation_naming_its_mesh_places_the_variable_there_without_sharding(
    tmp_path: Path, axes: jax.sharding.AxisType
) -> None:
    OwnMesh.mesh = mesh = jax.make_mesh((2, 4), ("data", "model"), axis_types=(axes, axes))
    fresh = OwnMesh(rngs=nnx.Rngs(1))
    fresh.save_pretrained(tmp_path)
    loaded = OwnMesh.from_pretrained(tmp_path, strict=True)
    assert loaded.lin.kernel.get_value().sharding == fresh.lin.kernel.get_value().sharding
    assert loaded.lin.kernel.get_value().sharding == NamedSharding(mesh, pspec(None, "model"))


@pytest.mark.parametrize("cls", [Sharded, Plain])
def test_a_state_shaped_sharding_is_taken_as_its_dotted_paths(mesh: Mesh, tmp_path: Path, cls: type[Plain]) -> None:
    with jax.set_mesh(mesh):
        cls(rngs=nnx.Rngs(0)).save_pretrained(tmp_path)
        abstract = nnx.eval_shape(lambda: cls(rngs=nnx.Rngs(0)))
    columns = NamedSharding(mesh, pspec(None, "model"))
    by_state = nnx.get_named_sharding(nnx.state(abstract), mesh)
    loaded = cls.from_pretrained(tmp_path, sharding=by_state)
    assert loaded.up.kernel.get_value().sharding == nnx.to_pure_dict(by_state)["up"]["kernel"]
    nested = {"up": {"kernel": columns, "bias": NamedSharding(mesh, pspec())}}
    assert cls.from_pretrained(tmp_path, sharding=nested).up.kernel.get_value().sharding == columns


class Decoder(nnx.Module):
    def __init__(self, w: nnx.Param[jax.Array]) -> None:
        self.w = w  # the encoder's kernel, [din, hidden]


class TiedAE(nnx.Module, FlaxModelHubMixin):
    """An autoencoder whose decoder holds the encoder's kernel as a raw parameter: a tie across layouts."""

    def __init__(self, din: int = 8, hidden: int = 4, *, rngs: nnx.Rngs) -> None:
        self.encoder = nnx.Linear(din, hidden, use_bias=False, rngs=rngs)
        self.decoder = Decoder(self.encoder.kernel)


class TorchDecoder(nn.Module):
    def __init__(self, din: int, hidden: int) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.zeros(din, hidden))


class TorchAE(nn.Module, PyTorchModelHubMixin):
    """The same module tree in torch, untied."""

    def __init__(self, din: int = 8, hidden: int = 4) -> None:
        super().__init__()
        self.encoder = nn.Linear(din, hidden, bias=False)
        self.decoder = TorchDecoder(din, hidden)


def test_a_tie_across_layouts_is_saved_under_each_path_in_its_layout(tmp_path: Path) -> None:
    model = TiedAE(rngs=nnx.Rngs(1))
    model.save_pretrained(tmp_path)
    kernel = np.asarray(model.encoder.kernel.get_value())
    with safe_open(tmp_path / "model.safetensors", "np") as f:
        np.testing.assert_array_equal(f.get_tensor("decoder.w"), kernel)
        np.testing.assert_array_equal(f.get_tensor("encoder.weight"), kernel.T)
    port = TorchAE.from_pretrained(tmp_path, strict=True)
    np.testing.assert_array_equal(port.encoder.weight.detach().numpy(), kernel.T)
    np.testing.assert_array_equal(port.decoder.w.detach().numpy(), kernel)
    again = TiedAE.from_pretrained(tmp_path, strict=True)
    np.testing.assert_array_equal(np.asarray(again.encoder.kernel.get_value()), kernel)
    assert again.decoder.w is again.encoder.kernel


def test_the_torch_originals_checkpoint_loads_into_the_tied_port(tmp_path: Path) -> None:
    original = TorchAE()
    with torch.no_grad():
        original.decoder.w.copy_(original.encoder.weight.T)
    original.save_pretrained(tmp_path / "same")
    loaded = TiedAE.from_pretrained(tmp_path / "same", strict=True)
    np.testing.assert_array_equal(np.asarray(loaded.encoder.kernel.get_value()), original.decoder.w.detach().numpy())
    with torch.no_grad():
        original.encoder.weight.add_(1.0)
    original.save_pretrained(tmp_path / "apart")
    tied = r"'decoder\.w', 'encoder\.weight' are one variable in the model \(tied, 'encoder\.weight' in another"
    with pytest.raises(WeightsError, match=tied):
        TiedAE.from_pretrained(tmp_path / "apart", strict=True)


class Block(nnx.Module):
    def __init__(self, dim: int, *, rngs: nnx.Rngs) -> None:
        self.linear = nnx.Linear(dim, dim, rngs=rngs)


class Scanned(nnx.Module, FlaxModelHubMixin, stacked_layers=["blocks"]):
    def __init__(self, dim: int = 8, depth: int = 2, *, rngs: nnx.Rngs) -> None:
        @nnx.split_rngs(splits=depth)
        @nnx.vmap(in_axes=(0,), out_axes=0)
        def create(rngs: nnx.Rngs) -> Block:
            return Block(dim, rngs=rngs)

        self.blocks = create(rngs)


@pytest.mark.parametrize(
    ("key", "hint"),
    [
        ("blocks.linear.weight", "(did you mean 'blocks.linear.kernel'?)"),
        (
            "blocks.0.linear.weight",
            "(did you mean 'blocks.linear.kernel'? A stacked variable is named once, without the layer index.)",
        ),
        (
            "blocks.1.linear.kernel",
            "(did you mean 'blocks.linear.kernel'? A stacked variable is named once, without the layer index.)",
        ),
    ],
)
def test_a_stacked_layers_checkpoint_name_points_to_the_stacked_variable(
    mesh: Mesh, tmp_path: Path, key: str, hint: str
) -> None:
    Scanned(rngs=nnx.Rngs(0)).save_pretrained(tmp_path)
    with pytest.raises(HubMixinValueError) as info:
        Scanned.from_pretrained(tmp_path, sharding={key: NamedSharding(mesh, pspec())})
    assert str(info.value) == f"sharding names no variable of the model at {key!r} {hint}"


class TorchPositions(nn.Module, PyTorchModelHubMixin):
    def __init__(self, start: int = 0) -> None:
        super().__init__()
        self.emb = nn.Embedding(5, 4)
        self.register_buffer("position_ids", torch.arange(start, start + 5)[None])


class FlaxPositions(nnx.Module, FlaxModelHubMixin):
    def __init__(self, *, rngs: nnx.Rngs) -> None:
        self.emb = nnx.Embed(5, 4, rngs=rngs)
        self.position_ids = nnx.BatchStat(jnp.zeros((1, 5), dtype=jnp.int32))


def test_an_int64_buffer_loads_strictly_into_int32_when_its_values_fit(tmp_path: Path) -> None:
    TorchPositions(start=3).save_pretrained(tmp_path / "fits")
    loaded = FlaxPositions.from_pretrained(tmp_path / "fits", strict=True)
    value = loaded.position_ids.get_value()
    assert value.dtype == jnp.int32
    np.testing.assert_array_equal(np.asarray(value), np.arange(3, 8)[None])
    TorchPositions(start=2**31 - 2).save_pretrained(tmp_path / "wide")
    for strict in (True, False):
        with pytest.raises(WeightsDtypeError, match=r"'position_ids' has dtype I64, the model expects I32 \(its valu"):
            FlaxPositions.from_pretrained(tmp_path / "wide", strict=strict)
