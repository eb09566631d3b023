"""Save and load: every saved variable bit-exact (float32, bfloat16, int32), the config, RNG state rebuilt."""

from __future__ import annotations

import json
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx
from flax_models import IDS, Block, Counter, Net, assert_same_variables, persistent
from safetensors import safe_open

from hubmixin_core import ModelHubMixin
from hubmixin_flax import FlaxModelHubMixin


def _file_keys(directory: Path) -> list[str]:
    with safe_open(str(directory / "model.safetensors"), framework="numpy") as f:
        keys: list[str] = f.keys()
    return sorted(keys)


def test_files_config_and_card(saved: Path) -> None:
    assert sorted(p.name for p in saved.iterdir()) == ["README.md", "config.json", "model.safetensors"]
    assert json.loads((saved / "config.json").read_text()) == {"dim": 4, "depth": 2, "vocab": 11}  # no rngs
    readme = (saved / "README.md").read_text()
    assert "flax_model_hub_mixin" in readme
    assert "license: mit" in readme


def test_round_trip_is_bit_exact_in_every_dtype(net: Net, saved: Path) -> None:
    loaded = Net.from_pretrained(saved)  # no rngs given: the mixin supplies them
    assert isinstance(loaded, Net) and isinstance(loaded, ModelHubMixin)
    assert loaded._hub_mixin_config == {"dim": 4, "depth": 2, "vocab": 11}
    assert_same_variables(net, loaded)
    dtypes = {path: variable.get_value().dtype for path, variable in persistent(loaded).items()}
    assert dtypes["blocks.0.linear.kernel"] == jnp.float32
    assert dtypes["bn.mean"] == jnp.float32
    assert dtypes["head.kernel"] == jnp.bfloat16
    assert dtypes["blocks.1.offsets"] == jnp.int32
    assert dtypes["blocks.1.calls"] == jnp.int32
    assert all(isinstance(v.get_value(), jax.Array) for v in persistent(loaded).values())


def test_variable_types_nested_modules_and_lists_are_rebuilt(saved: Path) -> None:
    loaded = Net.from_pretrained(saved, strict=True)
    assert isinstance(loaded.blocks, nnx.List) and len(loaded.blocks) == 2
    assert all(isinstance(block, Block) for block in loaded.blocks)
    assert isinstance(loaded.blocks[1].calls, Counter)
    assert isinstance(loaded.bn.mean, nnx.BatchStat)
    assert isinstance(loaded.blocks[0].offsets, nnx.Param)


def test_loaded_model_computes_what_the_saved_one_does(net: Net, saved: Path) -> None:
    loaded = Net.from_pretrained(saved)
    for ours, theirs in zip(net(IDS), loaded(IDS), strict=True):
        assert ours.dtype == theirs.dtype
        np.testing.assert_array_equal(np.asarray(ours), np.asarray(theirs))


def test_rng_state_is_not_saved(saved: Path) -> None:
    keys = _file_keys(saved)
    block = ["linear.bias", "linear.weight", "norm.bias", "norm.weight", "offsets", "calls"]
    expected = [
        *(f"blocks.{i}.{name}" for i in range(2) for name in block),
        *("bn.bias", "bn.running_mean", "bn.running_var", "bn.weight"),
        *("conv.bias", "conv.weight", "embed.weight", "head.bias", "head.weight"),
    ]
    assert keys == sorted(expected)
    assert not any("rng" in key or key.endswith((".key", ".count")) for key in keys)


def test_loaded_rng_state_is_usable(saved: Path) -> None:
    loaded = Net.from_pretrained(saved)
    rngs = [v for _, v in nnx.iter_graph(loaded) if isinstance(v, nnx.RngState)]
    assert rngs, "Dropout keeps its RNG stream"
    assert all(isinstance(v.get_value(), jax.Array) for v in rngs)
    x = jnp.ones((4, 64))
    first, second = loaded.drop(x, deterministic=False), loaded.drop(x, deterministic=False)
    assert set(np.unique(np.asarray(first)).tolist()) == {0.0, 2.0}  # dropped, or kept and scaled by 1 / 0.5
    assert not np.array_equal(np.asarray(first), np.asarray(second))  # the stream advances
    logits, _ = loaded(IDS, train=True)  # the whole model in train mode
    assert bool(jnp.isfinite(logits.astype(jnp.float32)).all())


def test_rngs_can_be_given_through_model_kwargs(saved: Path) -> None:
    x = jnp.ones((4, 64))
    default = Net.from_pretrained(saved).drop(x, deterministic=False)
    again = Net.from_pretrained(saved).drop(x, deterministic=False)
    seeded = Net.from_pretrained(saved, model_kwargs={"rngs": nnx.Rngs(123)}).drop(x, deterministic=False)
    np.testing.assert_array_equal(np.asarray(default), np.asarray(again))  # nnx.Rngs(0) each time
    assert not np.array_equal(np.asarray(default), np.asarray(seeded))


def test_saving_a_loaded_model_round_trips(net: Net, saved: Path, tmp_path: Path) -> None:
    Net.from_pretrained(saved).save_pretrained(tmp_path / "again")
    assert (tmp_path / "again" / "config.json").read_text() == (saved / "config.json").read_text()
    assert_same_variables(net, Net.from_pretrained(tmp_path / "again", strict=True))


def test_model_kwargs_override_the_config(tmp_path: Path) -> None:
    Net(depth=1, rngs=nnx.Rngs(0)).save_pretrained(tmp_path)
    loaded = Net.from_pretrained(tmp_path, model_kwargs={"depth": 2})
    assert len(loaded.blocks) == 2
    assert loaded._hub_mixin_config == {"dim": 4, "depth": 2, "vocab": 11}


def test_a_non_module_subclass_is_a_type_error(tmp_path: Path) -> None:
    class NotAModule(FlaxModelHubMixin):
        pass

    with pytest.raises(TypeError, match=r"not a flax\.nnx\.Module"):
        NotAModule().save_pretrained(tmp_path / "out")
    assert not (tmp_path / "out").exists()


class Stepped(nnx.Module, FlaxModelHubMixin):
    """A 0-d variable, as step counters are."""

    def __init__(self, *, rngs: nnx.Rngs) -> None:
        self.linear = nnx.Linear(2, 2, rngs=rngs)
        self.step = Counter(jnp.array(7, jnp.int32))


def test_a_scalar_variable_round_trips(tmp_path: Path) -> None:
    model = Stepped(rngs=nnx.Rngs(0))
    model.save_pretrained(tmp_path)
    loaded = Stepped.from_pretrained(tmp_path, strict=True)
    assert_same_variables(model, loaded)
    with safe_open(str(tmp_path / "model.safetensors"), framework="numpy") as f:
        assert f.get_slice("step").get_shape() == []


class HostValues(nnx.Module, FlaxModelHubMixin):
    """Variables holding what NNX takes as given: Python scalars and a float64 numpy array."""

    def __init__(self) -> None:
        self.temperature = nnx.Param(1.5)
        self.steps = nnx.BatchStat(3)
        self.grid = nnx.Param(np.linspace(0.0, 1.0, 4))


def test_python_scalars_and_float64_arrays_are_saved_in_the_dtypes_jax_gives_them(tmp_path: Path) -> None:
    HostValues().save_pretrained(tmp_path)
    with safe_open(str(tmp_path / "model.safetensors"), framework="numpy") as f:
        dtypes = {key: f.get_slice(key).get_dtype() for key in ("grid", "steps", "temperature")}
    assert dtypes == {"grid": "F32", "steps": "I32", "temperature": "F32"}
    loaded = HostValues.from_pretrained(tmp_path, strict=True)  # the model reloads its own checkpoint
    assert loaded.temperature.get_value() == 1.5
    assert loaded.steps.get_value() == 3
    np.testing.assert_array_equal(np.asarray(loaded.grid.get_value()), np.linspace(0.0, 1.0, 4, dtype=np.float32))


class Tied(nnx.Module, FlaxModelHubMixin):
    """Two layers sharing one kernel variable."""

    def __init__(self, dim: int = 3, *, rngs: nnx.Rngs) -> None:
        self.a = nnx.Linear(dim, dim, rngs=rngs)
        self.b = nnx.Linear(dim, dim, rngs=rngs)
        self.b.kernel = self.a.kernel


def test_a_shared_variable_is_saved_once_and_stays_shared(tmp_path: Path) -> None:
    model = Tied(rngs=nnx.Rngs(0))
    model.save_pretrained(tmp_path)
    assert _file_keys(tmp_path) == ["a.bias", "a.weight", "b.bias"]
    loaded = Tied.from_pretrained(tmp_path, strict=True)
    assert loaded.b.kernel is loaded.a.kernel
    assert_same_variables(model, loaded)
