"""What a fresh construction holds, ``from_pretrained`` holds too: the objects given in ``model_kwargs`` (the
caller's ``nnx.Rngs``, a module given as a runtime argument), not copies, and the numpy arrays ``__init__``
computed, in their own dtypes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from hubmixin_flax import FlaxModelHubMixin


class Noisy(nnx.Module, FlaxModelHubMixin):
    """Keeps its ``Rngs`` to draw noise at call time, and numpy tables computed in ``__init__``."""

    def __init__(self, dim: int = 4, *, rngs: nnx.Rngs) -> None:
        self.linear = nnx.Linear(dim, dim, rngs=rngs)
        self.rngs = rngs
        self.freqs = 1.0 / (10000.0 ** (np.arange(0, dim, 2) / dim))  # float64
        self.perm = np.array([3, 1, 0, 2])  # int64

    def noise(self) -> jax.Array:
        return jax.random.normal(self.rngs.noise(), (2,))


def test_the_callers_rngs_and_numpy_tables_are_kept(tmp_path: Path) -> None:
    Noisy(rngs=nnx.Rngs(0)).save_pretrained(tmp_path)
    rngs = nnx.Rngs(params=0, noise=1)

    loaded = Noisy.from_pretrained(tmp_path, model_kwargs={"rngs": rngs})

    assert loaded.rngs is rngs
    assert not np.array_equal(np.asarray(loaded.noise()), np.asarray(jax.random.normal(rngs.noise(), (2,))))
    fresh = Noisy(rngs=nnx.Rngs(0))
    for name in ("freqs", "perm"):
        ours, theirs = getattr(loaded, name), getattr(fresh, name)
        assert type(ours) is np.ndarray and ours.dtype == theirs.dtype, name
        np.testing.assert_array_equal(ours, theirs)


class Head(nnx.Module, FlaxModelHubMixin, runtime_args=["backbone"]):
    def __init__(self, backbone: nnx.Module, dim: int = 4, *, rngs: nnx.Rngs) -> None:
        self.backbone = backbone
        self.head = nnx.Linear(dim, 2, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        out: jax.Array = self.head(self.backbone(x))
        return out


def test_a_module_given_at_load_is_the_one_loaded_into(tmp_path: Path) -> None:
    saved_backbone = nnx.Linear(4, 4, rngs=nnx.Rngs(1))
    model = Head(saved_backbone, rngs=nnx.Rngs(0))
    model.save_pretrained(tmp_path)
    backbone = nnx.Linear(4, 4, rngs=nnx.Rngs(2))

    loaded = Head.from_pretrained(tmp_path, model_kwargs={"backbone": backbone}, strict=True)

    assert loaded.backbone is backbone
    np.testing.assert_array_equal(np.asarray(backbone.kernel[...]), np.asarray(saved_backbone.kernel[...]))
    x = jnp.ones((1, 4))
    np.testing.assert_array_equal(np.asarray(loaded(x)), np.asarray(model(x)))


class Keeper(nnx.Module):
    def __init__(self, *, rngs: nnx.Rngs) -> None:
        self.linear = nnx.Linear(4, 4, rngs=rngs)
        self.rngs = rngs


class TwoKeepers(nnx.Module, FlaxModelHubMixin, runtime_args=["shared"]):
    """Keeps its ``Rngs`` in two layers, and one given module under two names."""

    def __init__(self, shared: nnx.Module, *, rngs: nnx.Rngs) -> None:
        self.left, self.right = Keeper(rngs=rngs), Keeper(rngs=rngs)
        self.rngs = rngs
        self.enc = shared
        self.dec = shared


def test_objects_held_in_several_places_stay_one(tmp_path: Path) -> None:
    TwoKeepers(nnx.Linear(4, 4, rngs=nnx.Rngs(1)), rngs=nnx.Rngs(0)).save_pretrained(tmp_path)
    rngs, shared = nnx.Rngs(3), nnx.Linear(4, 4, rngs=nnx.Rngs(2))

    loaded = TwoKeepers.from_pretrained(tmp_path, model_kwargs={"rngs": rngs, "shared": shared}, strict=True)

    assert loaded.left.rngs is rngs and loaded.right.rngs is rngs and loaded.rngs is rngs
    assert loaded.enc is shared and loaded.dec is shared


class Stages(nnx.Module, FlaxModelHubMixin, runtime_args=["stages", "parts"]):
    """Given modules in a list and in a dict."""

    def __init__(self, stages: Sequence[nnx.Module], parts: Mapping[str, nnx.Module], *, rngs: nnx.Rngs) -> None:
        self.stages = nnx.List(stages)
        self.encoder = parts["encoder"]
        self.head = nnx.Linear(4, 2, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        for stage in self.stages:
            x = stage(x)
        out: jax.Array = self.head(self.encoder(x))
        return out


def test_modules_given_in_a_list_or_a_dict_are_the_ones_loaded_into(tmp_path: Path) -> None:
    def linears(seed: int) -> list[nnx.Linear]:
        return [nnx.Linear(4, 4, rngs=nnx.Rngs(seed + i)) for i in range(3)]

    saved = linears(10)
    model = Stages(saved[:2], {"encoder": saved[2]}, rngs=nnx.Rngs(0))
    model.save_pretrained(tmp_path)
    given = linears(20)

    kwargs = {"stages": given[:2], "parts": {"encoder": given[2]}}
    loaded = Stages.from_pretrained(tmp_path, model_kwargs=kwargs, strict=True)

    assert len(loaded.stages) == 2 and all(a is b for a, b in zip(loaded.stages, given[:2], strict=True))
    assert loaded.encoder is given[2]
    for ours, theirs in zip(given, saved, strict=True):
        np.testing.assert_array_equal(np.asarray(ours.kernel[...]), np.asarray(theirs.kernel[...]))
    x = jnp.ones((1, 4))
    np.testing.assert_array_equal(np.asarray(loaded(x)), np.asarray(model(x)))


class Plain(nnx.Module, FlaxModelHubMixin):
    """Every variable in the checkpoint: nothing left to initialise at load."""

    def __init__(self, dim: int = 4, *, rngs: nnx.Rngs) -> None:
        self.first = nnx.Linear(dim, dim, rngs=rngs)
        self.second = nnx.Linear(dim, 2, rngs=rngs)


@pytest.mark.parametrize("model_class", [Plain, Noisy])
def test_the_callers_rngs_end_where_a_fresh_construction_leaves_them(
    model_class: type[Plain | Noisy], tmp_path: Path
) -> None:
    model_class(rngs=nnx.Rngs(0)).save_pretrained(tmp_path)
    fresh, given = nnx.Rngs(params=3, noise=4), nnx.Rngs(params=3, noise=4)
    model_class(rngs=fresh)

    model_class.from_pretrained(tmp_path, model_kwargs={"rngs": given})

    for stream in ("params", "noise"):
        assert int(getattr(given, stream).count[...]) == int(getattr(fresh, stream).count[...]), stream
        np.testing.assert_array_equal(jax.random.key_data(given[stream]()), jax.random.key_data(fresh[stream]()))


_CONCRETE_INITS: list[bool] = []


def _probe_init(key: jax.Array, shape: Sequence[int], dtype: jnp.dtype = jnp.float32) -> jax.Array:
    """lecun_normal, recording whether it ran on a concrete key (a real initialisation) or under tracing."""
    _CONCRETE_INITS.append(not isinstance(key, jax.core.Tracer))
    out: jax.Array = nnx.initializers.lecun_normal()(key, shape, dtype)
    return out


class KeepsRngs(nnx.Module, FlaxModelHubMixin):
    def __init__(self, dim: int = 4, *, rngs: nnx.Rngs) -> None:
        self.linear = nnx.Linear(dim, dim, kernel_init=_probe_init, rngs=rngs)
        self.rngs = rngs  # kept for dropout or sampling at call time


class GivenBackbone(nnx.Module, FlaxModelHubMixin, runtime_args=["backbone"]):
    def __init__(self, backbone: nnx.Linear, *, rngs: nnx.Rngs) -> None:
        self.backbone = backbone
        self.head = nnx.Linear(4, 2, kernel_init=_probe_init, rngs=rngs)


def test_models_keeping_given_objects_are_built_without_initialising(tmp_path: Path) -> None:
    KeepsRngs(rngs=nnx.Rngs(0)).save_pretrained(tmp_path / "rngs")
    GivenBackbone(nnx.Linear(4, 4, rngs=nnx.Rngs(1)), rngs=nnx.Rngs(0)).save_pretrained(tmp_path / "given")
    _CONCRETE_INITS.clear()
    kept = KeepsRngs.from_pretrained(tmp_path / "rngs")
    backbone = nnx.Linear(4, 4, rngs=nnx.Rngs(2))
    given = GivenBackbone.from_pretrained(tmp_path / "given", model_kwargs={"backbone": backbone})
    assert _CONCRETE_INITS and not any(_CONCRETE_INITS)  # traced by eval_shape only: nothing initialised for real
    assert isinstance(kept.rngs, nnx.Rngs) and given.backbone is backbone


class RngsBase(nnx.Module, FlaxModelHubMixin):
    def __init__(self, dim: int = 4, *, rngs: nnx.Rngs) -> None:
        self.lin = nnx.Linear(dim, 2, rngs=rngs)


class RngsThroughKwargs(RngsBase):
    """Gives its base ``rngs`` (and ``dim``) through ``**kwargs``."""

    def __init__(self, scale: float = 1.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.scale = scale


def test_rngs_given_through_kwargs_are_supplied_at_load(tmp_path: Path) -> None:
    RngsThroughKwargs(scale=2.0, dim=3, rngs=nnx.Rngs(0)).save_pretrained(tmp_path)
    loaded = RngsThroughKwargs.from_pretrained(tmp_path)
    assert loaded.scale == 2.0 and loaded.lin.kernel[...].shape == (3, 2)


class RngNamedOtherwise(nnx.Module, FlaxModelHubMixin):
    def __init__(self, dim: int = 4, *, rng: nnx.Rngs) -> None:
        self.lin = nnx.Linear(dim, 2, rngs=rng)


def test_an_rngs_argument_of_another_name_is_the_runs_own(tmp_path: Path, recwarn: pytest.WarningsRecorder) -> None:
    model = RngNamedOtherwise(dim=3, rng=nnx.Rngs(0))
    model.save_pretrained(tmp_path)
    assert not recwarn.list  # not an argument to encode
    loaded = RngNamedOtherwise.from_pretrained(tmp_path, strict=True)
    np.testing.assert_array_equal(np.asarray(loaded.lin.kernel[...]), np.asarray(model.lin.kernel[...]))
