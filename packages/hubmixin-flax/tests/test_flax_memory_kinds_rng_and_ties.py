"""Loads QA round 14 found wanting: host-memory shardings, RNG state, tied paths, reads, transforms, class keywords."""

from __future__ import annotations

import collections.abc
from pathlib import Path
from typing import Any, get_args, get_origin

import jax
import numpy as np
import pytest
from flax import nnx
from flax_models import Plain, pspec
from jax.sharding import Mesh, NamedSharding

from hubmixin_core.errors import HubMixinTypeError, HubMixinValueError
from hubmixin_core.weights import Checkpoint
from hubmixin_flax import FlaxModelHubMixin, ShardingSpec


@pytest.mark.parametrize("kind", ["pinned_host", "unpinned_host"])
def test_a_split_sharding_in_host_memory_puts_each_slice_there(tmp_path: Path, mesh: Mesh, kind: str) -> None:
    if kind not in {memory.kind for memory in jax.devices()[0].addressable_memories()}:
        pytest.skip(f"no {kind} memory on {jax.devices()[0].platform}")
    model = Plain(rngs=nnx.Rngs(0))
    model.save_pretrained(tmp_path / "plain")
    offloaded = NamedSharding(mesh, pspec(None, "model"), memory_kind=kind)
    loaded = Plain.from_pretrained(tmp_path / "plain", sharding={"up.kernel": offloaded})
    kernel = loaded.up.kernel.get_value()
    assert kernel.sharding == offloaded
    assert {shard.data.sharding.memory_kind for shard in kernel.addressable_shards} == {kind}
    assert np.asarray(kernel).tobytes() == np.asarray(model.up.kernel.get_value()).tobytes()


class Dropping(nnx.Module, FlaxModelHubMixin):
    """RNG state in every block (a Dropout's stream) and the caller's ``Rngs`` kept."""

    def __init__(self, depth: int = 6, *, rngs: nnx.Rngs) -> None:
        self.linears = nnx.List([nnx.Linear(4, 4, rngs=rngs) for _ in range(depth)])
        self.drops = nnx.List([nnx.Dropout(0.1, rngs=rngs) for _ in range(depth)])
        self.rngs = rngs


def _rng_state(*nodes: Any) -> list[np.ndarray[Any, Any]]:
    found = []
    for node in nodes:
        for _, variable in nnx.iter_graph(node):
            if isinstance(variable, nnx.RngState):
                value = variable.get_value()
                found.append(np.asarray(jax.random.key_data(value) if isinstance(variable, nnx.RngKey) else value))
    return found


def test_rng_state_is_rebuilt_without_compiling_the_constructor(tmp_path: Path) -> None:
    # The RNG state comes from the traced __init__ pruned to it and run as a fresh construction runs (op by op,
    # each op compiled once): a second load compiles nothing, where a jitted __init__ was compiled on every load.
    Dropping(rngs=nnx.Rngs(0)).save_pretrained(tmp_path / "drop")
    Dropping.from_pretrained(tmp_path / "drop", model_kwargs={"rngs": nnx.Rngs(params=1, dropout=2)})
    compiled: list[str] = []

    def listen(event: str, duration_secs: float, **kwargs: str | int) -> None:
        if event.endswith("backend_compile_duration"):
            compiled.append(event)

    given, fresh = nnx.Rngs(params=1, dropout=2), nnx.Rngs(params=1, dropout=2)
    jax.monitoring.register_event_duration_secs_listener(listen)
    try:
        loaded = Dropping.from_pretrained(tmp_path / "drop", model_kwargs={"rngs": given})
    finally:
        jax.monitoring.unregister_event_duration_listener(listen)
    assert compiled == []
    built = Dropping(rngs=fresh)
    want, got = _rng_state(built, fresh), _rng_state(loaded, given)
    assert len(got) == len(want) > 12
    assert all(a.dtype == b.dtype and a.tobytes() == b.tobytes() for a, b in zip(got, want, strict=True))


class Tied(nnx.Module, FlaxModelHubMixin):
    """T5-style sharing: one embedding under two attribute names (the model reads it under its first path)."""

    def __init__(self, vocab: int = 16, dim: int = 8, *, rngs: nnx.Rngs) -> None:
        self.shared = nnx.Embed(vocab, dim, rngs=rngs)
        self.embed_tokens = self.shared


@pytest.mark.parametrize("path", ["shared.embedding", "embed_tokens.embedding"])
def test_a_tied_variable_is_sharded_under_either_of_its_paths(tmp_path: Path, mesh: Mesh, path: str) -> None:
    Tied(rngs=nnx.Rngs(0)).save_pretrained(tmp_path / "tied")
    rows = NamedSharding(mesh, pspec("model", None))
    loaded = Tied.from_pretrained(tmp_path / "tied", sharding={path: rows}, strict=True)
    assert loaded.shared.embedding.get_value().sharding == rows
    assert loaded.shared is loaded.embed_tokens


def test_two_shardings_of_one_tied_variable_are_refused(tmp_path: Path, mesh: Mesh) -> None:
    Tied(rngs=nnx.Rngs(0)).save_pretrained(tmp_path / "tied")
    spec = {
        "shared.embedding": NamedSharding(mesh, pspec("model", None)),
        "embed_tokens.embedding": NamedSharding(mesh, pspec(None, "model")),
    }
    with pytest.raises(HubMixinValueError, match=r"'shared\.embedding' and 'embed_tokens\.embedding', one variable"):
        Tied.from_pretrained(tmp_path / "tied", sharding=spec)


def test_a_tensor_stored_as_the_framework_holds_it_is_read_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Embed and the norms are stored untransposed: the array read is the one placed, not read again.
    Tied(rngs=nnx.Rngs(0)).save_pretrained(tmp_path / "tied")
    reads: list[str] = []
    read, read_slice = Checkpoint.read, Checkpoint.read_slice

    def counted_read(self: Checkpoint, keys: list[str], *args: Any, **kwargs: Any) -> Any:
        reads.extend(keys)
        return read(self, keys, *args, **kwargs)

    def counted_slice(self: Checkpoint, key: str, *args: Any, **kwargs: Any) -> Any:
        reads.append(key)
        return read_slice(self, key, *args, **kwargs)

    monkeypatch.setattr(Checkpoint, "read", counted_read)
    monkeypatch.setattr(Checkpoint, "read_slice", counted_slice)
    Tied.from_pretrained(tmp_path / "tied")
    assert reads == ["embed_tokens.weight"]


def test_a_mapping_typed_with_none_values_is_a_sharding_spec(plain_dir: Path, mesh: Mesh) -> None:
    mapping = next(arg for arg in get_args(ShardingSpec) if get_origin(arg) is collections.abc.Mapping)
    assert type(None) in get_args(get_args(mapping)[1])  # mypy takes dict[str, NamedSharding | None]
    columns = NamedSharding(mesh, pspec(None, "model"))
    spec: dict[str, NamedSharding | None] = {"up.kernel": columns, "down.kernel": None}
    loaded = Plain.from_pretrained(plain_dir, sharding=spec)
    assert loaded.up.kernel.get_value().sharding == columns
    assert len(loaded.down.kernel.get_value().sharding.device_set) == 1


@pytest.fixture
def plain_dir(tmp_path: Path) -> Path:
    Plain(rngs=nnx.Rngs(1)).save_pretrained(tmp_path / "plain")
    return tmp_path / "plain"


@pytest.mark.parametrize("transform", ["jit", "eval_shape"])
def test_a_load_inside_a_transform_says_to_load_outside(plain_dir: Path, mesh: Mesh, transform: str) -> None:
    def load() -> Plain:
        return Plain.from_pretrained(plain_dir, sharding=NamedSharding(mesh, pspec(None, None)))

    with pytest.raises(HubMixinValueError, match=r"Plain\.from_pretrained was called inside a JAX transform.*outside"):
        if transform == "jit":
            nnx.jit(load)()
        else:
            nnx.eval_shape(load)


@pytest.mark.parametrize("value", ["blocks", 3, ["blocks", 1], [None], {"blocks": 1}])
def test_stacked_layers_takes_a_list_of_strings_only(value: Any) -> None:
    with pytest.raises(HubMixinTypeError, match=r"Bad: stacked_layers must be a list of attribute paths \(strings\)"):

        class Bad(nnx.Module, FlaxModelHubMixin, stacked_layers=value):
            pass
