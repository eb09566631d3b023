"""Missing, unexpected and mis-shaped tensors, and no weights at all: core's errors naming keys and files."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, ClassVar

import jax
import numpy as np
import pytest
from flax import nnx
from flax_models import IDS, Net, persistent
from huggingface_hub import HfApi
from safetensors.numpy import load_file, save_file

from hubmixin_core.errors import (
    HubMixinValueError,
    LayoutError,
    WeightsKeyError,
    WeightsNotFoundError,
    WeightsShapeError,
)
from hubmixin_core.testing import LocalHub
from hubmixin_flax import FlaxModelHubMixin


def _rewrite(file: Path, change: dict[str, np.ndarray[Any, Any] | None]) -> None:
    tensors = load_file(file)
    for key, value in change.items():
        if value is None:
            del tensors[key]
        else:
            tensors[key] = value
    save_file(tensors, file, metadata={"format": "pt"})


def test_missing_and_unexpected_keys_are_named_when_strict(saved: Path) -> None:
    extra = np.zeros(2, np.float32)
    _rewrite(saved / "model.safetensors", {"blocks.0.linear.bias": None, "bn.running_var": None, "extra.w": extra})
    with pytest.raises(WeightsKeyError) as info:
        Net.from_pretrained(saved, strict=True)
    assert sorted(info.value.missing) == ["blocks.0.linear.bias", "bn.running_var"]
    assert info.value.unexpected == ["extra.w"]
    message = str(info.value)
    assert str(saved / "model.safetensors") in message
    assert "'blocks.0.linear.bias'" in message and "'bn.running_var'" in message and "'extra.w'" in message


def test_only_unexpected_keys_fail_when_strict(saved: Path) -> None:
    _rewrite(saved / "model.safetensors", {"blocks.7.linear.weight": np.zeros((4, 4), np.float32)})
    with pytest.raises(WeightsKeyError) as info:
        Net.from_pretrained(saved, strict=True)
    assert (info.value.missing, info.value.unexpected) == ([], ["blocks.7.linear.weight"])


def test_missing_weights_get_the_model_init_and_a_warning(
    net: Net, saved: Path, caplog: pytest.LogCaptureFixture
) -> None:
    extra = np.zeros(2, np.float32)
    change = {"blocks.0.linear.weight": None, "bn.running_var": None, "extra.w": extra}
    _rewrite(saved / "model.safetensors", change)
    with caplog.at_level(logging.WARNING, logger="hubmixin_flax"):
        loaded = Net.from_pretrained(saved)
    assert "2 weights are not in" in caplog.text
    assert "'blocks.0.linear.weight'" in caplog.text and "'bn.running_var'" in caplog.text
    assert "1 tensor of" in caplog.text and "'extra.w'" in caplog.text
    kernel = loaded.blocks[0].linear.kernel.get_value()
    assert isinstance(kernel, jax.Array) and kernel.shape == (4, 4) and kernel.dtype == np.float32
    assert np.isfinite(np.asarray(kernel)).all()
    assert not np.array_equal(np.asarray(kernel), np.asarray(net.blocks[0].linear.kernel.get_value()))
    var = loaded.bn.var.get_value()
    assert isinstance(var, jax.Array) and var.shape == (5,) and var.dtype == np.float32
    ours, theirs = persistent(net), persistent(loaded)
    for path in ours.keys() - {"blocks.0.linear.kernel", "bn.var"}:  # the rest comes from the file
        assert np.asarray(ours[path].get_value()).tobytes() == np.asarray(theirs[path].get_value()).tobytes(), path
    logits, _ = loaded(IDS)  # the model runs with its own initial values
    assert logits.shape == (2, 5, 11)


@pytest.mark.parametrize("strict", [False, True])
def test_a_shape_mismatch_always_raises_naming_key_file_and_shapes(saved: Path, strict: bool) -> None:
    _rewrite(saved / "model.safetensors", {"blocks.1.norm.weight": np.ones(9, np.float32)})
    with pytest.raises(WeightsShapeError) as info:
        Net.from_pretrained(saved, strict=strict)
    assert (info.value.key, info.value.expected, info.value.found) == ("blocks.1.norm.weight", (4,), (9,))
    assert str(saved / "model.safetensors") in str(info.value)
    assert "'blocks.1.norm.weight'" in str(info.value)


def test_a_shape_mismatch_is_reported_in_the_canonical_layout(saved: Path) -> None:
    transposed = np.zeros((4, 11), np.float32)  # a Flax kernel written as is: (in, out) instead of (out, in)
    _rewrite(saved / "model.safetensors", {"head.weight": transposed})
    with pytest.raises(WeightsShapeError) as info:
        Net.from_pretrained(saved)
    assert (info.value.key, info.value.expected, info.value.found) == ("head.weight", (11, 4), (4, 11))


def test_a_shape_mismatch_in_a_shard_names_the_shard(net: Net, tmp_path: Path) -> None:
    net.save_pretrained(tmp_path, max_shard_size=200)
    index = json.loads((tmp_path / "model.safetensors.index.json").read_text())
    shard = tmp_path / index["weight_map"]["conv.weight"]
    _rewrite(shard, {"conv.weight": np.zeros((5, 4, 2), np.float32)})
    with pytest.raises(WeightsShapeError) as info:
        Net.from_pretrained(tmp_path)
    assert (info.value.key, info.value.expected, info.value.found) == ("conv.weight", (5, 4, 3), (5, 4, 2))
    assert str(shard) in str(info.value)


class Counted(nnx.Module, FlaxModelHubMixin):
    """Counts how often its ``__init__`` runs (abstract construction included)."""

    built: ClassVar[int] = 0

    def __init__(self, dim: int = 3, *, rngs: nnx.Rngs) -> None:
        Counted.built += 1
        self.linear = nnx.Linear(dim, dim, rngs=rngs)


def test_no_weights_raises_before_the_model_is_built(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text('{"dim": 3}')
    Counted.built = 0
    with pytest.raises(WeightsNotFoundError, match=r"model\.safetensors"):
        Counted.from_pretrained(tmp_path)
    assert Counted.built == 0


def test_a_hub_repo_without_weights_raises_before_the_model_is_built(local_hub: LocalHub) -> None:
    repo_id = f"{local_hub.username}/no-weights"
    api = HfApi()
    api.create_repo(repo_id)
    api.upload_file(path_or_fileobj=b'{"dim": 3}', path_in_repo="config.json", repo_id=repo_id)
    Counted.built = 0
    with pytest.raises(WeightsNotFoundError):
        Counted.from_pretrained(repo_id)
    assert Counted.built == 0


class StackedAttention(nnx.Module, FlaxModelHubMixin):
    """Layers stacked by ``nnx.vmap`` (scan over layers): each variable carries an extra leading axis."""

    def __init__(self, depth: int = 3, *, rngs: nnx.Rngs) -> None:
        @nnx.split_rngs(splits=depth)
        @nnx.vmap(in_axes=(0,), out_axes=0)
        def create(rngs: nnx.Rngs) -> nnx.MultiHeadAttention:
            return nnx.MultiHeadAttention(2, 8, decode=False, rngs=rngs)

        self.blocks = create(rngs)


class StackedLinear(nnx.Module, FlaxModelHubMixin):
    def __init__(self, depth: int = 3, *, rngs: nnx.Rngs) -> None:
        @nnx.split_rngs(splits=depth)
        @nnx.vmap(in_axes=(0,), out_axes=0)
        def create(rngs: nnx.Rngs) -> nnx.Linear:
            return nnx.Linear(8, 8, rngs=rngs)

        self.blocks = create(rngs)


class Block(nnx.Module):
    def __init__(self, *, rngs: nnx.Rngs) -> None:
        self.linear = nnx.Linear(8, 8, rngs=rngs)


class StackedBlocks(nnx.Module, FlaxModelHubMixin):
    """A block of one layer, stacked: the module to declare is the stacked one (``blocks``), not its layer."""

    def __init__(self, depth: int = 3, *, rngs: nnx.Rngs) -> None:
        @nnx.split_rngs(splits=depth)
        @nnx.vmap(in_axes=(0,), out_axes=0)
        def create(rngs: nnx.Rngs) -> Block:
            return Block(rngs=rngs)

        self.blocks = create(rngs)
        self.head = nnx.Linear(8, 2, rngs=rngs)


@pytest.mark.parametrize(
    ("cls", "layer", "detail"),
    [
        (StackedAttention, "blocks", r"holds '\w+\.kernel' of shape \(3, 8, 2, 4\), with more axes than the 3"),
        (StackedLinear, "blocks", r"holds 'kernel' of shape \(3, 8, 8\), with more axes than the 2 its type"),
        (StackedBlocks, "blocks.linear", r"holds 'kernel' of shape \(3, 8, 8\), with more axes than the 2"),
    ],
)
def test_layers_stacked_by_vmap_are_refused_at_save(
    tmp_path: Path, cls: type[StackedAttention | StackedLinear | StackedBlocks], layer: str, detail: str
) -> None:
    model = cls(rngs=nnx.Rngs(0))
    with pytest.raises(LayoutError, match=rf"layer '{layer}' \(\w+\) {detail}.*stacked_layers=\['blocks'\]"):
        model.save_pretrained(tmp_path / "stacked")
    assert not (tmp_path / "stacked").exists()  # no file that would save but not load


def test_an_abstract_model_is_refused_at_save_naming_a_variable(tmp_path: Path) -> None:
    abstract = nnx.eval_shape(lambda: Net(rngs=nnx.Rngs(0)))
    with pytest.raises(HubMixinValueError, match=r"holds no value .*abstract model"):
        abstract.save_pretrained(tmp_path)
    assert not any(tmp_path.iterdir())
