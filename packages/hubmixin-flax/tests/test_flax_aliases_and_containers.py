"""A variable the model reaches at several paths reads from a checkpoint naming it by any of
them; an annotated model loads with ``sharding=`` a callable; dtype fields of dataclasses held in containers come
back as dtypes."""

from __future__ import annotations

import dataclasses
import json
import logging
import warnings
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx
from flax.typing import Dtype
from flax_models import pspec
from jax.sharding import Mesh, NamedSharding, Sharding
from safetensors.numpy import save_file

from hubmixin_core.errors import HubMixinValueError, WeightsError
from hubmixin_flax import FlaxModelHubMixin

RNG = np.random.default_rng(0)


def _write(directory: Path, tensors: dict[str, np.ndarray]) -> Path:
    """A checkpoint of ``tensors`` without tie metadata (as torch's ``named_parameters()`` give it) and a config."""
    directory.mkdir()
    save_file(tensors, str(directory / "model.safetensors"), metadata={"format": "pt"})
    (directory / "config.json").write_text(json.dumps({}))
    return directory


def _linear(name: str) -> dict[str, np.ndarray]:
    return {f"{name}.weight": RNG.random((4, 4), np.float32), f"{name}.bias": RNG.random(4, np.float32)}


class SharedLayer(nnx.Module, FlaxModelHubMixin):
    """One layer at two paths (T5's shared embedding): NNX names it by the first, ``again``."""

    def __init__(self, *, rngs: nnx.Rngs) -> None:
        self.shared = nnx.Linear(4, 4, rngs=rngs)
        self.again = self.shared
        self.other = nnx.Linear(4, 4, rngs=rngs)


class TiedKernel(nnx.Module, FlaxModelHubMixin):
    """One variable at two paths: ``b.kernel`` is ``a.kernel``."""

    def __init__(self, *, rngs: nnx.Rngs) -> None:
        self.a = nnx.Linear(4, 4, rngs=rngs)
        self.b = nnx.Linear(4, 4, rngs=rngs)
        self.b.kernel = self.a.kernel


def _kernel(model: nnx.Module, name: str) -> np.ndarray:
    layer: nnx.Linear = getattr(model, name)
    return np.asarray(layer.kernel.get_value())


def test_a_shared_layer_reads_a_checkpoint_naming_it_by_its_other_path(tmp_path: Path, mesh: Mesh) -> None:
    tensors = {**_linear("shared"), **_linear("other")}
    directory = _write(tmp_path / "torch", tensors)
    for loaded in (
        SharedLayer.from_pretrained(directory, strict=True),
        SharedLayer.from_pretrained(directory, sharding=mesh),
    ):
        assert loaded.again is loaded.shared
        np.testing.assert_array_equal(_kernel(loaded, "shared"), tensors["shared.weight"].T)
        assert loaded.shared.bias is not None
        np.testing.assert_array_equal(np.asarray(loaded.shared.bias.get_value()), tensors["shared.bias"])


def test_a_tied_variable_reads_a_checkpoint_naming_it_by_its_other_path(tmp_path: Path) -> None:
    a, b = _linear("a"), _linear("b")
    directory = _write(tmp_path / "torch", {"a.bias": a["a.bias"], **b})
    loaded = TiedKernel.from_pretrained(directory, strict=True)
    assert loaded.b.kernel is loaded.a.kernel
    np.testing.assert_array_equal(_kernel(loaded, "a"), b["b.weight"].T)
    loaded.save_pretrained(tmp_path / "again")  # saved once, under the model's name, and read back
    again = TiedKernel.from_pretrained(tmp_path / "again", strict=True)
    np.testing.assert_array_equal(_kernel(again, "a"), b["b.weight"].T)


def test_copies_of_a_shared_layer_under_each_path_load_when_equal(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    shared = _linear("shared")
    copies = {**shared, **{k.replace("shared", "again"): v for k, v in shared.items()}, **_linear("other")}
    loaded = SharedLayer.from_pretrained(_write(tmp_path / "state_dict", copies), strict=True)  # torch.save'd one
    np.testing.assert_array_equal(_kernel(loaded, "again"), shared["shared.weight"].T)
    apart = {**copies, "shared.weight": copies["again.weight"] + 1}  # an untied model's file: other values
    directory = _write(tmp_path / "apart", apart)
    with pytest.raises(WeightsError, match=r"'again.weight', 'shared.weight' are one variable in the model \(tied\)"):
        SharedLayer.from_pretrained(directory, strict=True)
    with caplog.at_level(logging.WARNING, logger="hubmixin_flax"):
        loaded = SharedLayer.from_pretrained(directory)
    assert "'again.weight' is loaded, 'shared.weight' not" in caplog.text
    np.testing.assert_array_equal(_kernel(loaded, "shared"), apart["again.weight"].T)


class Annotated(nnx.Module, FlaxModelHubMixin):
    """Annotated variables (Flax creates them under a mesh only) and RNG state (computed again at load)."""

    def __init__(self, *, rngs: nnx.Rngs) -> None:
        init = nnx.initializers.lecun_normal()
        self.up = nnx.Linear(8, 16, kernel_init=nnx.with_partitioning(init, (None, "model")), rngs=rngs)
        self.drop = nnx.Dropout(0.1, rngs=rngs)
        self.norm = nnx.LayerNorm(16, rngs=rngs)


@pytest.fixture
def annotated(tmp_path: Path, mesh: Mesh) -> Path:
    with jax.set_mesh(mesh):
        Annotated(rngs=nnx.Rngs(0)).save_pretrained(tmp_path / "annotated")
    return tmp_path / "annotated"


def test_an_annotated_model_loads_with_a_callable_giving_named_shardings(annotated: Path, mesh: Mesh) -> None:
    columns = NamedSharding(mesh, pspec(None, "model"))

    def place(path: str) -> Sharding | None:
        return columns if path == "up.kernel" else None

    loaded = Annotated.from_pretrained(annotated, sharding=place, strict=True)
    assert loaded.up.kernel.get_value().sharding == columns
    assert loaded.norm.scale is not None
    assert len(loaded.norm.scale.get_value().sharding.device_set) == 1  # None: the default device
    expected = Annotated.from_pretrained(annotated, sharding=mesh)
    np.testing.assert_array_equal(np.asarray(loaded.up.kernel.get_value()), np.asarray(expected.up.kernel.get_value()))


@pytest.mark.parametrize("sharding", [lambda path: None, lambda path: pspec(), {"up.kernel": pspec(None, "model")}])
def test_an_annotated_model_without_a_mesh_to_build_under_is_a_clear_error(annotated: Path, sharding: object) -> None:
    with pytest.raises(HubMixinValueError, match=r"nnx.with_partitioning.*jax.set_mesh\(mesh\)"):
        Annotated.from_pretrained(annotated, sharding=sharding)  # type: ignore[arg-type]


@dataclasses.dataclass
class LayerConfig:
    features: int = 4
    dtype: Dtype | None = None
    param_dtype: Dtype = jnp.float32


@dataclasses.dataclass
class StackConfig:
    layers: list[LayerConfig] = dataclasses.field(default_factory=list)
    pair: tuple[LayerConfig, LayerConfig] = (LayerConfig(), LayerConfig())
    named: dict[str, LayerConfig] = dataclasses.field(default_factory=dict)


class PerLayer(nnx.Module, FlaxModelHubMixin):
    def __init__(self, config: StackConfig, *, rngs: nnx.Rngs) -> None:
        self.config = config
        self.layers = nnx.List(
            [
                nnx.Linear(c.features, c.features, dtype=c.dtype, param_dtype=c.param_dtype, rngs=rngs)
                for c in config.layers
            ]
        )


class ListArgument(nnx.Module, FlaxModelHubMixin):
    def __init__(self, blocks: list[LayerConfig] | None = None) -> None:
        self.blocks = blocks


def test_dtype_fields_of_dataclasses_in_lists_tuples_and_dicts_come_back_as_dtypes(tmp_path: Path) -> None:
    half = LayerConfig(dtype=jnp.bfloat16, param_dtype=jnp.bfloat16)
    config = StackConfig(layers=[half], pair=(LayerConfig(), half), named={"head": half})
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing to annotate: the fields are
        PerLayer(config, rngs=nnx.Rngs(0)).save_pretrained(tmp_path / "config")
        ListArgument([half]).save_pretrained(tmp_path / "argument")
    loaded = PerLayer.from_pretrained(tmp_path / "config", strict=True)
    assert loaded.config == config
    blocks = ListArgument.from_pretrained(tmp_path / "argument").blocks
    assert blocks == [half]
    for block in (loaded.config.layers[0], loaded.config.pair[1], loaded.config.named["head"], blocks[0]):
        assert isinstance(block.dtype, np.dtype) and block.dtype == jnp.bfloat16
        assert isinstance(block.param_dtype, np.dtype) and block.param_dtype == jnp.bfloat16
    assert isinstance(loaded.config.pair, tuple)
    assert loaded.layers[0].kernel.get_value().dtype == jnp.bfloat16
