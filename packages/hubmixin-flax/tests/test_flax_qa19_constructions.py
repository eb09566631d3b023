"""Every construction of one load gets its own copy of the config arguments (dicts, lists, dataclasses): the
replay of ``materialize``, the retries under another mesh or unplaced, the normal build after an abstract attempt;
a probe build thrown away leaves the caller's ``nnx.Rngs`` where they were (round 19)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import jax
import numpy as np
import pytest
from flax import nnx
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P
from safetensors.numpy import load_file, save_file

from hubmixin_flax import FlaxModelHubMixin

COLUMNS = nnx.with_partitioning(nnx.initializers.lecun_normal(), (None, "model"))


def assert_same_stream(loaded: nnx.Dropout, fresh: nnx.Dropout) -> None:
    """The Dropout's key and count are a fresh construction's."""
    assert loaded.rngs is not None and fresh.rngs is not None
    np.testing.assert_array_equal(
        jax.random.key_data(loaded.rngs.key.get_value()), jax.random.key_data(fresh.rngs.key.get_value())
    )
    assert int(loaded.rngs.count.get_value()) == int(fresh.rngs.count.get_value())


class PopsWithDropout(nnx.Module, FlaxModelHubMixin):
    """The doc's consuming ``__init__`` with a Dropout: its RNG state is replayed by ``materialize``."""

    def __init__(self, cfg: dict[str, int], *, rngs: nnx.Rngs) -> None:
        width = cfg.pop("width")
        self.hidden = nnx.Linear(8, width, rngs=rngs)
        self.dropout = nnx.Dropout(0.5, rngs=rngs)


def test_the_replay_of_rng_state_gets_the_config_whole(tmp_path: Path) -> None:
    PopsWithDropout({"width": 16}, rngs=nnx.Rngs(0)).save_pretrained(tmp_path / "m", config={"cfg": {"width": 16}})
    loaded = PopsWithDropout.from_pretrained(tmp_path / "m")
    fresh = PopsWithDropout({"width": 16}, rngs=nnx.Rngs(0))
    assert loaded.hidden.kernel.get_value().shape == (8, 16)
    assert_same_stream(loaded.dropout, fresh.dropout)


class Blocks(nnx.Module, FlaxModelHubMixin):
    """Takes its stem width off the list: a replay given the consumed list builds one block fewer."""

    def __init__(self, cfg: dict[str, list[int]], *, rngs: nnx.Rngs) -> None:
        cfg["widths"].pop(0)
        self.blocks = nnx.List([nnx.Linear(8, w, rngs=rngs) for w in cfg["widths"]])
        self.drop = nnx.Dropout(0.5, rngs=rngs)


def test_a_weight_the_file_lacks_keeps_a_fresh_initialisation_with_a_consumed_config(tmp_path: Path) -> None:
    Blocks({"widths": [4, 8, 8]}, rngs=nnx.Rngs(0)).save_pretrained(tmp_path / "m")
    weights = load_file(tmp_path / "m" / "model.safetensors")
    del weights["blocks.1.weight"]
    save_file(weights, tmp_path / "m" / "model.safetensors")
    loaded = Blocks.from_pretrained(tmp_path / "m")
    fresh = Blocks({"widths": [4, 8, 8]}, rngs=nnx.Rngs(0))
    np.testing.assert_array_equal(np.asarray(loaded.blocks[1].kernel.get_value()), fresh.blocks[1].kernel.get_value())
    assert_same_stream(loaded.drop, fresh.drop)


class PopsAnnotated(nnx.Module, FlaxModelHubMixin):
    def __init__(self, cfg: dict[str, int], *, rngs: nnx.Rngs) -> None:
        width = cfg.pop("width")
        self.lin = nnx.Linear(8, width, kernel_init=COLUMNS, rngs=rngs)


@pytest.mark.parametrize("form", ["callable", "other mesh", "other mesh callable"])
def test_the_retries_of_an_annotated_model_get_the_config_whole(form: str, mesh: Mesh, tmp_path: Path) -> None:
    with jax.set_mesh(mesh):
        model = PopsAnnotated({"width": 16}, rngs=nnx.Rngs(0))
    model.save_pretrained(tmp_path / "m", config={"cfg": {"width": 16}})
    other = jax.make_mesh((8,), ("tp",))
    columns = NamedSharding(mesh, P(None, "model"))  # type: ignore[no-untyped-call]
    everywhere = NamedSharding(other, P())  # type: ignore[no-untyped-call]
    sharding: Any = {
        "callable": lambda path: columns if path == "lin.kernel" else None,
        "other mesh": everywhere,
        "other mesh callable": lambda path: everywhere,
    }[form]
    loaded = PopsAnnotated.from_pretrained(tmp_path / "m", sharding=sharding)
    np.testing.assert_array_equal(np.asarray(loaded.lin.kernel.get_value()), np.asarray(model.lin.kernel.get_value()))


@dataclasses.dataclass
class Cfg:
    widths: list[int] = dataclasses.field(default_factory=lambda: [8, 8, 8])
    opts: dict[str, float] = dataclasses.field(default_factory=lambda: {"scale": 2.0})


class ConsumesDataclass(nnx.Module, FlaxModelHubMixin):
    """Consumes its dataclass config, then needs a concrete kernel: built abstractly first, then normally."""

    def __init__(self, cfg: Cfg, *, rngs: nnx.Rngs) -> None:
        cfg.widths.pop(0)
        scale = cfg.opts.pop("scale")
        self.blocks = nnx.List([nnx.Linear(8, w, rngs=rngs) for w in cfg.widths])
        self.peak = float(np.abs(np.asarray(self.blocks[0].kernel.get_value())).max()) * scale


def test_the_normal_build_after_an_abstract_attempt_gets_the_dataclass_config_whole(tmp_path: Path) -> None:
    model = ConsumesDataclass(Cfg(), rngs=nnx.Rngs(0))
    model.save_pretrained(tmp_path / "m", config={"cfg": {"widths": [8, 8, 8], "opts": {"scale": 2.0}}})
    loaded = ConsumesDataclass.from_pretrained(tmp_path / "m", strict=True)
    assert len(loaded.blocks) == 2
    assert loaded.peak == model.peak


def test_the_callers_config_objects_are_not_consumed_and_its_rngs_are_held(tmp_path: Path) -> None:
    ConsumesDataclass(Cfg(), rngs=nnx.Rngs(0)).save_pretrained(tmp_path / "m")
    cfg, rngs = Cfg(), nnx.Rngs(0)
    ConsumesDataclass.from_pretrained(tmp_path / "m", model_kwargs={"cfg": cfg, "rngs": rngs})
    assert cfg == Cfg()
    fresh = nnx.Rngs(0)
    ConsumesDataclass(Cfg(), rngs=fresh)
    assert int(rngs.default.count.get_value()) == int(fresh.default.count.get_value())


CALLS = {"concrete": 0}


class Quantised(nnx.Module, FlaxModelHubMixin):
    """Annotated, and needs its kernel concrete; keeps its rngs."""

    def __init__(self, *, rngs: nnx.Rngs) -> None:
        self.lin = nnx.Linear(8, 16, kernel_init=COLUMNS, rngs=rngs)
        CALLS["concrete"] += 1
        self.scale = nnx.Param(np.abs(np.asarray(self.lin.kernel.get_value())).max(axis=0))
        self.drop = nnx.Dropout(0.5, rngs=rngs)
        self.rngs = rngs


def test_a_probe_for_the_mesh_of_a_callable_leaves_the_callers_rngs_as_a_fresh_construction(
    mesh: Mesh, tmp_path: Path
) -> None:
    with jax.set_mesh(mesh):
        Quantised(rngs=nnx.Rngs(0)).save_pretrained(tmp_path / "m")
        fresh = Quantised(rngs=nnx.Rngs(0))
    columns = NamedSharding(mesh, P(None, "model"))  # type: ignore[no-untyped-call]
    rngs = nnx.Rngs(0)
    loaded = Quantised.from_pretrained(
        tmp_path / "m", sharding=lambda path: columns if path == "lin.kernel" else None, model_kwargs={"rngs": rngs}
    )
    assert loaded.rngs is rngs
    assert int(rngs.default.count.get_value()) == int(fresh.rngs.default.count.get_value())
    assert loaded.lin.kernel.get_value().sharding.is_equivalent_to(columns, 2)
