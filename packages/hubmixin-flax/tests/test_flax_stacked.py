"""Modules built by ``nnx.vmap`` (scan over layers), named in ``stacked_layers``: saved as torch's ``nn.ModuleList``."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import safetensors.numpy
from flax import nnx
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from hubmixin_core.errors import HubMixinTypeError, HubMixinValueError, LayoutError, WeightsKeyError
from hubmixin_core.typing import ClassKeywords
from hubmixin_flax import FlaxModelHubMixin
from hubmixin_flax._impl import FlaxClassKeywords, FlaxHubMixinBase

pytest.importorskip("torch")
pytest.importorskip("hubmixin_torch")

import safetensors.torch
import torch
from torch import nn

from hubmixin_torch import PyTorchModelHubMixin

DIM, DEPTH = 8, 3


class Block(nnx.Module):
    def __init__(self, dim: int, *, rngs: nnx.Rngs) -> None:
        self.linear = nnx.Linear(dim, dim, rngs=rngs)
        self.norm = nnx.LayerNorm(dim, epsilon=1e-5, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        out: jax.Array = self.norm(nnx.relu(self.linear(x)))
        return out


def _stack(depth: int, rngs: nnx.Rngs, make: Any) -> Any:
    @nnx.split_rngs(splits=depth)
    @nnx.vmap(in_axes=(0,), out_axes=0)
    def create(rngs: nnx.Rngs) -> Any:
        return make(rngs)

    return create(rngs)


class Scanned(nnx.Module, FlaxModelHubMixin, stacked_layers=["blocks"]):
    """``depth`` blocks built by ``nnx.vmap`` and run by ``nnx.scan``, then a head."""

    def __init__(self, dim: int = DIM, depth: int = DEPTH, *, rngs: nnx.Rngs) -> None:
        self.blocks = _stack(depth, rngs, lambda rngs: Block(dim, rngs=rngs))
        self.head = nnx.Linear(dim, 2, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        @nnx.scan(in_axes=(0, nnx.Carry), out_axes=nnx.Carry)
        def forward(block: Block, x: jax.Array) -> jax.Array:
            return block(x)

        out: jax.Array = self.head(forward(self.blocks, x))
        return out


class TorchBlock(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.linear = nn.Linear(dim, dim)
        self.norm = nn.LayerNorm(dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.norm(torch.relu(self.linear(x)))
        return out


class TorchScanned(nn.Module, PyTorchModelHubMixin):
    """The PyTorch port: an ``nn.ModuleList`` of the blocks."""

    def __init__(self, dim: int = DIM, depth: int = DEPTH) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(TorchBlock(dim) for _ in range(depth))
        self.head = nn.Linear(dim, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            x = block(x)
        out: torch.Tensor = self.head(x)
        return out


def _inputs() -> np.ndarray[Any, np.dtype[np.float32]]:
    return np.random.default_rng(0).standard_normal((5, DIM)).astype(np.float32)


def _trained_torch() -> TorchScanned:
    torch.manual_seed(0)
    model = TorchScanned()
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(torch.randn_like(parameter) * 0.1)
    return model.eval()


def _kernel(model: Scanned) -> np.ndarray[Any, Any]:
    return np.asarray(model.blocks.linear.kernel.get_value())


def test_stacked_module_round_trips_as_one_layer_per_index(tmp_path: Path) -> None:
    model = Scanned(rngs=nnx.Rngs(0))
    model.save_pretrained(tmp_path / "scan")
    stored = safetensors.numpy.load_file(tmp_path / "scan" / "model.safetensors")
    tensors = ("linear.weight", "linear.bias", "norm.weight", "norm.bias")
    names = {f"blocks.{i}.{tensor}" for i in range(DEPTH) for tensor in tensors}
    assert set(stored) == names | {"head.weight", "head.bias"}
    for i in range(DEPTH):  # layer i of the stack, in torch's layout
        assert np.array_equal(stored[f"blocks.{i}.linear.weight"], _kernel(model)[i].T)
        assert np.array_equal(stored[f"blocks.{i}.norm.weight"], np.asarray(model.blocks.norm.scale.get_value())[i])
    loaded = Scanned.from_pretrained(tmp_path / "scan")
    for (path, ours), (_, theirs) in zip(
        nnx.iter_graph(nnx.state(model)), nnx.iter_graph(nnx.state(loaded)), strict=True
    ):
        if isinstance(ours, nnx.Variable):
            assert np.array_equal(np.asarray(ours.get_value()), np.asarray(theirs.get_value())), path
    x = jnp.asarray(_inputs())
    assert np.array_equal(np.asarray(loaded(x)), np.asarray(model(x)))


def test_torch_module_list_and_flax_scan_read_each_other(tmp_path: Path) -> None:
    port = _trained_torch()
    port.save_pretrained(tmp_path / "torch")
    flax_model = Scanned.from_pretrained(tmp_path / "torch")
    x = _inputs()
    expected = port(torch.from_numpy(x)).detach().numpy()
    np.testing.assert_allclose(np.asarray(flax_model(jnp.asarray(x))), expected, atol=1e-5)
    flax_model.save_pretrained(tmp_path / "flax")
    back = TorchScanned.from_pretrained(tmp_path / "flax")
    assert all(torch.equal(a, b) for a, b in zip(back.state_dict().values(), port.state_dict().values(), strict=True))


def test_stacked_variables_land_on_the_requested_sharding(tmp_path: Path, mesh: Mesh) -> None:
    model = Scanned(rngs=nnx.Rngs(0))
    model.save_pretrained(tmp_path / "scan")
    kernel_sharding = NamedSharding(mesh, P(None, "data", "model"))  # type: ignore[no-untyped-call]
    replicated = NamedSharding(mesh, P())  # type: ignore[no-untyped-call]
    loaded = Scanned.from_pretrained(
        tmp_path / "scan", sharding={"blocks.linear.kernel": kernel_sharding, "head.kernel": replicated}
    )
    assert loaded.blocks.linear.kernel.get_value().sharding == kernel_sharding
    assert np.array_equal(_kernel(loaded), _kernel(model))


def test_a_callers_spec_shorter_than_a_stacked_variable_is_taken_as_given(tmp_path: Path, mesh: Mesh) -> None:
    model = Scanned(rngs=nnx.Rngs(0))
    model.save_pretrained(tmp_path / "scan")
    features = NamedSharding(mesh, P(None, "model"))  # type: ignore[no-untyped-call]
    loaded = Scanned.from_pretrained(tmp_path / "scan", sharding=lambda path: features if "blocks" in path else None)
    kernel = loaded.blocks.linear.kernel.get_value()  # (layers, in, out): "in" over "model", as jax.device_put does
    assert kernel.sharding.is_equivalent_to(jax.device_put(kernel, features).sharding, kernel.ndim)
    assert kernel.sharding.spec == features.spec
    assert np.array_equal(_kernel(loaded), _kernel(model))


def test_stacked_load_casts_and_keeps_own_values_for_missing_layers(tmp_path: Path) -> None:
    port = _trained_torch()
    state = {k: v for k, v in port.state_dict().items() if k != "blocks.1.linear.weight"}
    (tmp_path / "partial").mkdir()
    safetensors.torch.save_file(state, tmp_path / "partial" / "model.safetensors", metadata={"format": "pt"})
    loaded = Scanned.from_pretrained(tmp_path / "partial", dtype=jnp.bfloat16)
    kernel = _kernel(loaded)
    assert kernel.dtype == jnp.bfloat16
    own = _kernel(Scanned(rngs=nnx.Rngs(0)))
    for i in range(DEPTH):
        block = port.blocks[i]
        assert isinstance(block, TorchBlock)
        expected = own[i] if i == 1 else block.linear.weight.detach().numpy().T
        assert np.array_equal(kernel[i], expected.astype(jnp.bfloat16)), i
    with pytest.raises(WeightsKeyError, match=r"blocks\.1\.linear\.weight"):
        Scanned.from_pretrained(tmp_path / "partial", strict=True)


class StackedAttention(nnx.Module, FlaxModelHubMixin, stacked_layers=["layers"]):
    """The vmapped module is a built-in layer itself, one whose adapter is composite."""

    def __init__(self, depth: int = DEPTH, *, rngs: nnx.Rngs) -> None:
        self.layers = _stack(depth, rngs, lambda rngs: nnx.MultiHeadAttention(2, 8, decode=False, rngs=rngs))


def test_a_stacked_attention_layer_is_saved_per_layer(tmp_path: Path) -> None:
    model = StackedAttention(rngs=nnx.Rngs(0))
    model.save_pretrained(tmp_path / "att")
    stored = safetensors.numpy.load_file(tmp_path / "att" / "model.safetensors")
    assert {name.split(".")[1] for name in stored} == {"0", "1", "2"}
    assert stored["layers.2.in_proj_weight"].shape == (24, 8)
    loaded = StackedAttention.from_pretrained(tmp_path / "att")
    assert np.array_equal(
        np.asarray(loaded.layers.query.kernel.get_value()), np.asarray(model.layers.query.kernel.get_value())
    )


class ConvBlock(nnx.Module):
    def __init__(self, *, rngs: nnx.Rngs) -> None:
        self.conv = nnx.Conv(4, 4, (3,), padding=1, rngs=rngs)
        self.up = nnx.ConvTranspose(4, 4, (2, 2), padding="VALID", transpose_kernel=True, rngs=rngs)


class StackedConvs(nnx.Module, FlaxModelHubMixin, stacked_layers=["blocks"]):
    def __init__(self, *, rngs: nnx.Rngs) -> None:
        self.blocks = _stack(DEPTH, rngs, lambda rngs: ConvBlock(rngs=rngs))


class TorchConvBlock(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv1d(4, 4, 3, padding=1)
        self.up = nn.ConvTranspose2d(4, 4, 2)


class TorchConvs(nn.Module, PyTorchModelHubMixin):
    def __init__(self) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(TorchConvBlock() for _ in range(DEPTH))


def test_stacked_convolutions_round_trip_and_read_torch_module_lists(tmp_path: Path) -> None:
    model = StackedConvs(rngs=nnx.Rngs(0))
    model.save_pretrained(tmp_path / "flax")
    loaded = StackedConvs.from_pretrained(tmp_path / "flax", strict=True)
    for name in ("conv", "up"):
        ours, theirs = getattr(model.blocks, name).kernel.get_value(), getattr(loaded.blocks, name).kernel.get_value()
        assert np.array_equal(np.asarray(ours), np.asarray(theirs)), name
    port = TorchConvs.from_pretrained(tmp_path / "flax", strict=True)  # the file is torch's layout
    port.save_pretrained(tmp_path / "torch")
    from_torch = StackedConvs.from_pretrained(tmp_path / "torch", strict=True)
    for layer, block in enumerate(port.blocks):
        conv = np.asarray(from_torch.blocks.conv.kernel.get_value())[layer]
        assert isinstance(block, TorchConvBlock)
        np.testing.assert_array_equal(conv, block.conv.weight.detach().numpy().transpose(2, 1, 0))
    assert np.array_equal(np.asarray(from_torch.blocks.up.kernel.get_value()), np.asarray(model.blocks.up.kernel[...]))


class Undeclared(nnx.Module, FlaxModelHubMixin):
    def __init__(self, depth: int = DEPTH, *, rngs: nnx.Rngs) -> None:
        self.encoder = nnx.Dict(blocks=_stack(depth, rngs, lambda rngs: Block(DIM, rngs=rngs)))
        self.head = nnx.Linear(DIM, 2, rngs=rngs)


def test_an_undeclared_stacked_module_is_refused_naming_it(tmp_path: Path) -> None:
    hint = r"holds 'kernel' of shape \(3, 8, 8\).*stacked_layers=\['encoder\.blocks'\]"
    with pytest.raises(LayoutError, match=rf"layer 'encoder\.blocks\.linear' \(Linear\) {hint}"):
        Undeclared(rngs=nnx.Rngs(0)).save_pretrained(tmp_path / "undeclared")
    assert not (tmp_path / "undeclared").exists()
    Scanned(rngs=nnx.Rngs(0)).save_pretrained(tmp_path / "scan")
    with pytest.raises(LayoutError, match=hint):
        Undeclared.from_pretrained(tmp_path / "scan")


class InSequential(nnx.Module, FlaxModelHubMixin, stacked_layers=["seq.0"]):
    """A stacked module inside an ``nnx.Sequential``, named by index as its checkpoint keys name it."""

    def __init__(self, *, rngs: nnx.Rngs) -> None:
        self.seq = nnx.Sequential(
            _stack(DEPTH, rngs, lambda rngs: Block(DIM, rngs=rngs)), nnx.Linear(DIM, 2, rngs=rngs)
        )


def test_stacked_layers_names_a_sequential_s_layer_by_index(tmp_path: Path) -> None:
    model = InSequential(rngs=nnx.Rngs(0))
    model.save_pretrained(tmp_path)
    keys = set(safetensors.numpy.load_file(tmp_path / "model.safetensors"))
    assert {f"seq.0.{i}.linear.weight" for i in range(DEPTH)} | {"seq.1.weight"} <= keys
    loaded = InSequential.from_pretrained(tmp_path, strict=True)
    stacks: list[Any] = [loaded.seq.layers[0], model.seq.layers[0]]
    kernel, saved = (np.asarray(stack.linear.kernel.get_value()) for stack in stacks)
    assert kernel.shape == (DEPTH, DIM, DIM)
    assert np.array_equal(kernel, saved)


class Experts(nnx.Module):
    def __init__(self, *, rngs: nnx.Rngs) -> None:
        self.up = nnx.Linear(DIM, 2 * DIM, rngs=rngs)


class MoEBlock(nnx.Module):
    def __init__(self, *, rngs: nnx.Rngs) -> None:
        self.experts = _stack(2, rngs, lambda rngs: Experts(rngs=rngs))  # up.kernel: (experts, in, out)


class NestedStacks(nnx.Module, FlaxModelHubMixin, stacked_layers=["layers"]):
    """Vmapped experts inside scanned layers: up.kernel is (layers, experts, in, out)."""

    def __init__(self, *, rngs: nnx.Rngs) -> None:
        self.layers = _stack(DEPTH, rngs, lambda rngs: MoEBlock(rngs=rngs))


class NestedStacksDeclared(NestedStacks, stacked_layers=["layers.experts"]):
    pass


@pytest.mark.parametrize("cls", [NestedStacks, NestedStacksDeclared])
def test_a_stack_nested_in_a_stacked_module_is_refused_naming_it(cls: type[NestedStacks], tmp_path: Path) -> None:
    expected = (
        r"layer 'layers\.0\.experts\.up' \(Linear\) of a module named in stacked_layers holds 'kernel' of shape "
        r"\(3, 2, 8, 16\), 2 axes more than the 2 its type gives it: .* Nested stacks are not supported"
    )
    with pytest.raises(LayoutError, match=expected):
        cls(rngs=nnx.Rngs(0)).save_pretrained(tmp_path / "saved")
    (tmp_path / "other").mkdir()
    safetensors.numpy.save_file(
        {"layers.0.experts.0.up.weight": np.zeros((16, 8), np.float32)}, tmp_path / "other" / "model.safetensors"
    )
    with pytest.raises(LayoutError, match=expected):
        cls.from_pretrained(tmp_path / "other")


def test_stacked_layers_must_name_modules_of_the_model(tmp_path: Path) -> None:
    class Misspelled(Scanned, stacked_layers=["blokcs"]):
        pass

    with pytest.raises(HubMixinValueError, match=r"no module of the model at 'blokcs' \(did you mean 'blocks'\?\)"):
        Misspelled(rngs=nnx.Rngs(0)).save_pretrained(tmp_path / "x")
    with pytest.raises(HubMixinTypeError, match="stacked_layers must be a list"):

        class Text(nnx.Module, FlaxModelHubMixin, stacked_layers="blocks"):
            pass


class AnnotatedBlock(nnx.Module):
    def __init__(self, *, rngs: nnx.Rngs) -> None:
        init = nnx.with_partitioning(nnx.initializers.lecun_normal(), (None, "model"))
        self.linear = nnx.Linear(DIM, DIM, kernel_init=init, rngs=rngs)


class AnnotatedScan(nnx.Module, FlaxModelHubMixin, stacked_layers=["blocks"]):
    """Layers annotated for one layer, stacked by a plain ``nnx.vmap`` (no ``transform_metadata``)."""

    def __init__(self, *, rngs: nnx.Rngs) -> None:
        self.blocks = _stack(DEPTH, rngs, lambda rngs: AnnotatedBlock(rngs=rngs))


def test_a_one_layer_annotation_gets_the_layer_axis_in_front(tmp_path: Path, mesh: Mesh) -> None:
    with jax.set_mesh(mesh):
        model = AnnotatedScan(rngs=nnx.Rngs(0))
    model.save_pretrained(tmp_path / "scan")
    loaded = AnnotatedScan.from_pretrained(tmp_path / "scan", sharding=mesh)  # depth 3: the layer axis cannot split
    kernel = loaded.blocks.linear.kernel.get_value()
    built = model.blocks.linear.kernel.get_value()
    assert kernel.sharding.is_equivalent_to(built.sharding, kernel.ndim)  # as Flax's own construction places it
    assert kernel.sharding.is_equivalent_to(NamedSharding(mesh, P(None, None, "model")), kernel.ndim)  # type: ignore[no-untyped-call]
    assert np.array_equal(np.asarray(kernel), np.asarray(built))


def test_a_declared_module_that_is_not_stacked_is_named(tmp_path: Path) -> None:
    class NotStacked(Scanned, stacked_layers=["head"]):
        pass

    with pytest.raises(LayoutError, match=r"names 'head', but its layer 'head' \(Linear\) holds 'kernel' of shape"):
        NotStacked(rngs=nnx.Rngs(0)).save_pretrained(tmp_path / "x")


def test_the_class_keywords_mypy_checks_are_those_taken() -> None:
    hook = FlaxHubMixinBase._hub_flax_init_subclass
    taken = {p.name for p in inspect.signature(hook).parameters.values() if p.kind is inspect.Parameter.KEYWORD_ONLY}
    assert taken == set(FlaxClassKeywords.__optional_keys__) - set(ClassKeywords.__optional_keys__)
