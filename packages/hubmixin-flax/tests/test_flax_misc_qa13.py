"""A model annotated with ``nnx.with_partitioning`` loaded with the default ``sharding=None`` outside a mesh:
the ``HubMixinValueError`` (with its remedy) a mapping without a ``NamedSharding`` gets, not Flax's own error."""

from __future__ import annotations

from pathlib import Path

import jax
import pytest
from flax import nnx
from flax_models import Sharded
from jax.sharding import Mesh, NamedSharding

from hubmixin_core.errors import HubMixinValueError
from hubmixin_flax import FlaxModelHubMixin


@pytest.fixture(scope="module")
def saved(mesh: Mesh, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sharded")
    with jax.set_mesh(mesh):
        Sharded(rngs=nnx.Rngs(0)).save_pretrained(path)
    return path


def test_the_default_sharding_outside_a_mesh_says_how_to_load_it(saved: Path) -> None:
    with pytest.raises(HubMixinValueError) as info:
        Sharded.from_pretrained(saved)
    message = str(info.value)
    assert message.startswith(
        "Sharded has variables annotated with nnx.with_partitioning, which Flax creates under a mesh only, and no "
        "sharding= is given: load it under `with jax.set_mesh(mesh):`, or pass the Mesh (sharding=mesh) or "
        "NamedShardings ("
    )
    assert isinstance(info.value.__cause__, ValueError)


def test_the_remedies_it_names_load_the_model(saved: Path, mesh: Mesh) -> None:
    by_mesh = Sharded.from_pretrained(saved, sharding=mesh)
    placed = by_mesh.up.kernel.get_value().sharding
    assert isinstance(placed, NamedSharding) and placed.mesh == mesh and tuple(placed.spec) == ("data", "model")
    with jax.set_mesh(mesh):
        under = Sharded.from_pretrained(saved)
    assert tuple(under.up.kernel.get_value().sharding.spec) == ("data", "model")


def test_the_docstring_says_so() -> None:
    doc = Sharded.from_pretrained.__doc__ or ""
    assert "loaded outside a mesh with `None`" in " ".join(doc.split())


class RefusesItsMesh(nnx.Module, FlaxModelHubMixin):
    """Its own ``__init__`` refuses an argument with an error that names a mesh (no annotations)."""

    def __init__(self, mesh_axes: int = 2, *, rngs: nnx.Rngs) -> None:
        if 4 % mesh_axes:
            raise ValueError(f"dim=4 must be divisible by mesh_axes={mesh_axes}")
        self.fc = nnx.Linear(4, 4, rngs=rngs)


def test_a_models_own_error_naming_a_mesh_is_its_own(tmp_path: Path) -> None:
    RefusesItsMesh(rngs=nnx.Rngs(0)).save_pretrained(tmp_path)
    with pytest.raises(ValueError, match=r"^dim=4 must be divisible by mesh_axes=3") as info:
        RefusesItsMesh.from_pretrained(tmp_path, model_kwargs={"mesh_axes": 3})
    assert not isinstance(info.value, HubMixinValueError)
