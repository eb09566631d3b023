"""An ``__init__`` argument holding a ``jax.sharding.Mesh`` belongs to the run: never saved, given again at load
(``sharding=`` a mesh gives it), and asked for by name where it is required."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import jax
import numpy as np
import pytest
from flax import nnx
from jax.sharding import Mesh

from hubmixin_core.errors import ConfigError
from hubmixin_flax import FlaxModelHubMixin


class NeedsMesh(nnx.Module, FlaxModelHubMixin):
    def __init__(self, d: int = 4, *, mesh: Mesh, rngs: nnx.Rngs) -> None:
        self.mesh = mesh
        self.linear = nnx.Linear(d, d, rngs=rngs)


class MaybeMesh(nnx.Module, FlaxModelHubMixin):
    def __init__(self, d: int = 4, mesh: Mesh | None = None, *, rngs: nnx.Rngs) -> None:
        self.mesh = mesh
        self.linear = nnx.Linear(d, d, rngs=rngs)


class DeclaredMesh(nnx.Module, FlaxModelHubMixin, runtime_args=["mesh"]):
    def __init__(self, d: int = 4, *, mesh: Mesh, rngs: nnx.Rngs) -> None:
        self.mesh = mesh
        self.linear = nnx.Linear(d, d, rngs=rngs)


def _same_weights(a: nnx.Module, b: nnx.Module) -> None:
    for x, y in zip(jax.tree.leaves(nnx.state(a, nnx.Param)), jax.tree.leaves(nnx.state(b, nnx.Param)), strict=True):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


def test_a_mesh_is_never_saved_and_is_asked_for_by_name(mesh: Mesh, tmp_path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no advice to declare a coder for Mesh
        model = NeedsMesh(d=3, mesh=mesh, rngs=nnx.Rngs(0))
        model.save_pretrained(tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    assert "mesh" not in config and config["d"] == 3
    with pytest.raises(
        ConfigError, match=r"'mesh' \(a Mesh\): it belongs to the run.*sharding=.*model_kwargs=\{'mesh': \.\.\.\}"
    ):
        NeedsMesh.from_pretrained(tmp_path)
    given = NeedsMesh.from_pretrained(tmp_path, model_kwargs={"mesh": mesh})
    assert given.mesh is mesh
    _same_weights(given, model)


def test_the_mesh_given_as_sharding_fills_the_argument(mesh: Mesh, tmp_path: Path) -> None:
    model = NeedsMesh(d=4, mesh=mesh, rngs=nnx.Rngs(1))
    model.save_pretrained(tmp_path)
    loaded = NeedsMesh.from_pretrained(tmp_path, sharding=mesh)
    assert loaded.mesh is mesh
    _same_weights(loaded, model)


def test_an_optional_mesh_takes_its_default_or_the_sharding_mesh(mesh: Mesh, tmp_path: Path) -> None:
    MaybeMesh(d=3, mesh=mesh, rngs=nnx.Rngs(0)).save_pretrained(tmp_path)
    assert MaybeMesh.from_pretrained(tmp_path).mesh is None
    assert MaybeMesh.from_pretrained(tmp_path, sharding=mesh).mesh is mesh


def test_a_declared_runtime_mesh_is_filled_by_sharding_or_asked_for(mesh: Mesh, tmp_path: Path) -> None:
    DeclaredMesh(d=3, mesh=mesh, rngs=nnx.Rngs(0)).save_pretrained(tmp_path)
    with pytest.raises(ConfigError, match=r"without \['mesh'\]: the class declares them runtime_args"):
        DeclaredMesh.from_pretrained(tmp_path)
    assert DeclaredMesh.from_pretrained(tmp_path, sharding=mesh).mesh is mesh
