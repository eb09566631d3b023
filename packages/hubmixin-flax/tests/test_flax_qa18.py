"""An annotated model loaded under a mesh it cannot be built under first is still built abstractly (no initialiser
runs); ``rngs`` given through ``**kwargs`` is supplied at load without being saved."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx
from jax.sharding import Mesh, NamedSharding, Sharding
from jax.sharding import PartitionSpec as P

from hubmixin_core.errors import HubMixinValueError
from hubmixin_flax import FlaxModelHubMixin

_CALLS: list[tuple[int, ...]] = []


def _counted(key: jax.Array, shape: tuple[int, ...], dtype: Any = jnp.float32) -> jax.Array:
    """A normal initialiser that records each run that computes values (not one traced abstractly)."""
    out: jax.Array = nnx.initializers.normal()(key, shape, dtype)
    jax.debug.callback(lambda _: _CALLS.append(shape), out[0, 0])
    return out


class Annotated(nnx.Module, FlaxModelHubMixin):
    """No RNG state: a load fills every variable from the file, so no initialiser has to run."""

    def __init__(self, dim: int = 16, axis: str = "model", *, rngs: nnx.Rngs) -> None:
        self.emb = nnx.Embed(64, dim, embedding_init=_counted, rngs=rngs)
        self.proj = nnx.Linear(dim, dim, kernel_init=nnx.with_partitioning(_counted, (None, axis)), rngs=rngs)


def _mesh(names: tuple[str, str]) -> Mesh:
    return jax.make_mesh((2, 4), names, axis_types=(jax.sharding.AxisType.Auto,) * 2)


def _forms(mesh: Mesh) -> dict[str, Sharding | dict[str, Sharding] | Callable[[str], Sharding]]:
    def split(path: str) -> Sharding:
        return NamedSharding(mesh, P(None, "model") if path == "proj.kernel" else P())  # type: ignore[no-untyped-call]

    paths = ("emb.embedding", "proj.kernel", "proj.bias")
    return {"one": NamedSharding(mesh, P()), "mapping": {p: split(p) for p in paths}, "callable": split}  # type: ignore[no-untyped-call]


def _saved(tmp_path: Path, axes: tuple[str, str], axis: str) -> tuple[Path, Annotated]:
    with jax.set_mesh(_mesh(axes)):
        model = Annotated(axis=axis, rngs=nnx.Rngs(0))
    model.save_pretrained(tmp_path)
    jax.effects_barrier()  # type: ignore[no-untyped-call]
    _CALLS.clear()
    return tmp_path, model


def _check_abstract_load(
    caplog: pytest.LogCaptureFixture, directory: Path, model: Annotated, sharding: Any
) -> Annotated:
    with caplog.at_level(logging.INFO, logger="hubmixin_flax"):
        loaded = Annotated.from_pretrained(directory, sharding=sharding)
    jax.effects_barrier()  # type: ignore[no-untyped-call]
    assert _CALLS == []  # no concrete construction ran an initialiser
    assert "built normally" not in caplog.text
    pairs = [(m.emb.embedding, m.proj.kernel, m.proj.bias) for m in (loaded, model)]
    for got, want in zip(*pairs, strict=True):
        assert np.array_equal(np.asarray(got.get_value()), np.asarray(want.get_value()))
    return loaded


def test_annotated_model_loaded_with_a_callable_alone_is_built_abstractly(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    directory, model = _saved(tmp_path, ("data", "model"), "model")
    mesh = _mesh(("data", "model"))
    loaded = _check_abstract_load(caplog, directory, model, _forms(mesh)["callable"])
    assert loaded.proj.kernel.get_value().sharding == NamedSharding(mesh, P(None, "model"))  # type: ignore[no-untyped-call]


@pytest.mark.parametrize("form", ["one", "mapping", "callable"])
def test_model_annotated_for_other_axes_is_built_abstractly_unplaced(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, form: str
) -> None:
    directory, model = _saved(tmp_path, ("x", "y"), "y")
    serve = _mesh(("data", "model"))
    loaded = _check_abstract_load(caplog, directory, model, _forms(serve)[form])
    want = P() if form == "one" else P(None, "model")  # type: ignore[no-untyped-call]
    assert loaded.proj.kernel.get_value().sharding == NamedSharding(serve, want)


def test_annotated_model_without_a_mesh_is_refused_before_any_initialiser_runs(tmp_path: Path) -> None:
    directory, _ = _saved(tmp_path, ("data", "model"), "model")
    with pytest.raises(HubMixinValueError, match=r"annotated with nnx\.with_partitioning"):
        Annotated.from_pretrained(directory)
    jax.effects_barrier()  # type: ignore[no-untyped-call]
    assert _CALLS == []


class ThroughKwargs(nnx.Module, FlaxModelHubMixin):
    def __init__(self, din: int = 4, **kwargs: Any) -> None:
        self.a = nnx.Linear(din, 3, rngs=kwargs["rngs"])


class KwargsKept(nnx.Module, FlaxModelHubMixin):
    def __init__(self, din: int = 4, **kwargs: Any) -> None:
        self.a = nnx.Linear(din, 3, rngs=nnx.Rngs(1))
        self.given = sorted(kwargs)


def test_rngs_through_kwargs_is_supplied_at_load_and_not_saved(tmp_path: Path) -> None:
    model = ThroughKwargs(din=6, rngs=nnx.Rngs(3))
    model.save_pretrained(tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    assert config == {"din": 6, "_hub_mixin_unsaved": {"rngs": "Rngs"}}  # recorded as not saved, no value
    loaded = ThroughKwargs.from_pretrained(tmp_path, strict=True)
    assert np.array_equal(np.asarray(loaded.a.kernel.get_value()), np.asarray(model.a.kernel.get_value()))
    own = ThroughKwargs.from_pretrained(tmp_path, model_kwargs={"rngs": nnx.Rngs(9)})
    assert own.a.kernel.get_value().shape == (6, 3)
    # hubmixin convert builds the model from config.json alone, without load options
    arguments = ThroughKwargs._hub_model_arguments(config, source="config.json")
    assert arguments["din"] == 6 and isinstance(arguments["rngs"], nnx.Rngs)


def test_kwargs_without_rngs_are_given_none_at_load(tmp_path: Path) -> None:
    KwargsKept(din=5).save_pretrained(tmp_path)
    assert json.loads((tmp_path / "config.json").read_text()) == {"din": 5}
    assert KwargsKept.from_pretrained(tmp_path).given == []
