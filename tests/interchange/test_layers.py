"""Per-layer-type layout adapters of hubmixin-flax and hubmixin-keras, checked numerically against torch's layers.

For each case a torch layer with random weights and the matching NNX or Keras layer: the adapter gives the latter
the torch layer's canonical tensors and both compute the same outputs on one input (atol 1e-5); the reverse
(the framework's tensors, canonical, into a torch layer, strict); a bit-exact round trip on arrays and the same
mapping on shapes. End to end: ``from_pretrained(strict=True)`` of a torch model's directory, torch's of the
framework's, and the framework's of its own (bit-exact).

Inputs are channels-last and batch-first, torch's permuted where it wants channels first. Attention and
recurrent layers keep their variables in sub-layers: their adapters are composite, and a model using them loads
only if the walk hands a composite layer its sub-layers' variables; until it does, their end-to-end tests skip
(their adapters are still checked directly). Keras runs under this process' backend (jax by default);
:func:`test_keras_on_other_backends` reruns the Keras tests under the other two, in subprocesses.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import jax
import jax.numpy as jnp
import keras
import numpy as np
import pytest
import torch
from backends import BACKENDS, run_per_backend
from flax import nnx
from torch import nn

from hubmixin_core.errors import LayoutError
from hubmixin_core.weights import LayoutRegistry, TensorInfo, dtype_name
from hubmixin_flax import LAYOUTS as FLAX_LAYOUTS
from hubmixin_flax import FlaxModelHubMixin
from hubmixin_flax._walk import layer_variables
from hubmixin_keras import LAYOUTS as KERAS_LAYOUTS
from hubmixin_keras import KerasModelHubMixin
from hubmixin_keras._layout import parts_of
from hubmixin_keras._walk import own_variables
from hubmixin_torch import PyTorchModelHubMixin

Array = np.ndarray[Any, Any]
Tensors = list[torch.Tensor]
M = TypeVar("M", bound=nn.Module)
ROOT = Path(__file__).resolve().parents[2]
CHILD = "HUBMIXIN_INTERCHANGE_KERAS_CHILD"
ATOL = 1e-5


def _random(module: M, seed: int = 0) -> M:
    """``module`` with every parameter uniform in [-0.5, 0.5), in eval mode."""
    torch.manual_seed(seed)
    with torch.no_grad():
        for parameter in module.parameters():
            parameter.uniform_(-0.5, 0.5)
    return module.eval()


def _gru() -> nn.Module:
    """A torch GRU whose ``b_hn`` (the last third of ``bias_hh_l0``) is zero, as NNX's GRUCell can hold it."""
    gru = _random(nn.GRU(3, 4, batch_first=True))
    with torch.no_grad():
        gru.get_parameter("bias_hh_l0")[8:] = 0
    return gru


class _Separable(nn.Module):
    """Depthwise then pointwise convolutions, as a Keras separable convolution computes."""

    def __init__(self, depthwise: nn.Module, pointwise: nn.Module) -> None:
        super().__init__()
        self.depthwise, self.pointwise = depthwise, pointwise

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.pointwise(self.depthwise(x))
        return out


def _nhwc(module: nn.Module, xs: Tensors) -> torch.Tensor:
    out: torch.Tensor = module(xs[0].permute(0, 3, 1, 2)).permute(0, 2, 3, 1)
    return out


def _nlc(module: nn.Module, xs: Tensors) -> torch.Tensor:
    out: torch.Tensor = module(xs[0].transpose(1, 2)).transpose(1, 2)
    return out


def _plain(module: nn.Module, xs: Tensors) -> torch.Tensor:
    out: torch.Tensor = module(xs[0])
    return out


def _attend(module: nn.Module, xs: Tensors) -> torch.Tensor:
    out: torch.Tensor = module(xs[0], xs[1], xs[1], need_weights=False)[0]
    return out


def _recur(module: nn.Module, xs: Tensors) -> torch.Tensor:
    out: torch.Tensor = module(xs[0])[0]
    return out


@dataclass(frozen=True)
class Torch:
    """A torch layer with random weights, its inputs' shapes (channels last) and how torch calls it."""

    make: Callable[[], nn.Module]
    shapes: tuple[tuple[int, ...], ...]
    call: Callable[[nn.Module, Tensors], torch.Tensor]


IMAGE, SIGNAL = (2, 5, 6, 3), (2, 7, 3)
TORCH: dict[str, Torch] = {
    "conv_transpose": Torch(lambda: _random(nn.ConvTranspose2d(3, 4, (2, 3), stride=2)), (IMAGE,), _nhwc),
    "conv_transpose_padded": Torch(
        lambda: _random(nn.ConvTranspose2d(3, 4, 3, stride=2, padding=1, output_padding=1)), (IMAGE,), _nhwc
    ),
    "conv_transpose_1d": Torch(lambda: _random(nn.ConvTranspose1d(3, 4, 3, stride=2)), (SIGNAL,), _nlc),
    "grouped_conv": Torch(lambda: _random(nn.Conv2d(4, 6, 3, groups=2)), ((2, 5, 6, 4),), _nhwc),
    "depthwise_conv": Torch(lambda: _random(nn.Conv2d(3, 6, (2, 3), groups=3)), (IMAGE,), _nhwc),
    "depthwise_conv_1d": Torch(lambda: _random(nn.Conv1d(3, 6, 3, groups=3)), (SIGNAL,), _nlc),
    "separable_conv": Torch(
        lambda: _random(_Separable(nn.Conv2d(3, 6, (2, 3), groups=3, bias=False), nn.Conv2d(6, 5, 1))), (IMAGE,), _nhwc
    ),
    "separable_conv_1d": Torch(
        lambda: _random(_Separable(nn.Conv1d(3, 3, 3, groups=3, bias=False), nn.Conv1d(3, 4, 1))), (SIGNAL,), _nlc
    ),
    "group_norm": Torch(lambda: _random(nn.GroupNorm(2, 6)), ((2, 5, 6),), _nlc),
    "rms_norm": Torch(lambda: _random(nn.RMSNorm(6, eps=1e-5)), ((2, 5, 6),), _plain),
    "attention": Torch(lambda: _random(nn.MultiheadAttention(8, 2, batch_first=True)), ((2, 3, 8), (2, 5, 8)), _attend),
    "attention_kdim": Torch(
        lambda: _random(nn.MultiheadAttention(8, 2, kdim=6, vdim=6, batch_first=True)), ((2, 3, 8), (2, 5, 6)), _attend
    ),
    "lstm": Torch(lambda: _random(nn.LSTM(3, 4, batch_first=True)), ((2, 5, 3),), _recur),
    "gru": Torch(lambda: _random(nn.GRU(3, 4, batch_first=True)), ((2, 5, 3),), _recur),
    "stacked_lstm": Torch(lambda: _random(nn.LSTM(3, 4, num_layers=3, batch_first=True)), ((2, 5, 3),), _recur),
    "stacked_gru": Torch(lambda: _random(nn.GRU(3, 4, num_layers=2, batch_first=True)), ((2, 5, 3),), _recur),
    "gru_no_b_hn": Torch(_gru, ((2, 5, 3),), _recur),
    "simple_rnn": Torch(lambda: _random(nn.RNN(3, 4, batch_first=True)), ((2, 5, 3),), _recur),
}
"""Torch layers by case name; a case's Flax and Keras layers compute what its torch layer computes."""


def _rngs() -> nnx.Rngs:
    return nnx.Rngs(0)


FLAX_LAYERS: dict[str, Callable[[], nnx.Module]] = {
    "conv_transpose": lambda: nnx.ConvTranspose(3, 4, (2, 3), strides=2, padding="VALID", rngs=_rngs()),
    "conv_transpose_padded": lambda: nnx.ConvTranspose(  # torch padding p: (k-1-p, k-1-p+output_padding)
        3, 4, (3, 3), strides=2, padding=((1, 2), (1, 2)), transpose_kernel=True, rngs=_rngs()
    ),
    "conv_transpose_1d": lambda: nnx.ConvTranspose(3, 4, (3,), strides=2, padding="VALID", rngs=_rngs()),
    "grouped_conv": lambda: nnx.Conv(4, 6, (3, 3), feature_group_count=2, padding="VALID", rngs=_rngs()),
    "depthwise_conv": lambda: nnx.Conv(3, 6, (2, 3), feature_group_count=3, padding="VALID", rngs=_rngs()),
    "group_norm": lambda: nnx.GroupNorm(6, num_groups=2, epsilon=1e-5, rngs=_rngs()),
    "rms_norm": lambda: nnx.RMSNorm(6, epsilon=1e-5, rngs=_rngs()),
    "attention": lambda: nnx.MultiHeadAttention(2, 8, decode=False, rngs=_rngs()),
    "attention_kdim": lambda: nnx.MultiHeadAttention(2, 8, in_kv_features=6, decode=False, rngs=_rngs()),
    "lstm": lambda: nnx.RNN(nnx.LSTMCell(3, 4, rngs=_rngs())),
    "optimized_lstm": lambda: nnx.RNN(nnx.OptimizedLSTMCell(3, 4, rngs=_rngs())),
    "gru_no_b_hn": lambda: nnx.RNN(nnx.GRUCell(3, 4, rngs=_rngs())),
    "simple_rnn": lambda: nnx.RNN(nnx.SimpleCell(3, 4, rngs=_rngs())),
}
KERAS_LAYERS: dict[str, Callable[[], Any]] = {
    "conv_transpose": lambda: keras.layers.Conv2DTranspose(4, (2, 3), strides=2),
    "conv_transpose_1d": lambda: keras.layers.Conv1DTranspose(4, 3, strides=2),
    "depthwise_conv": lambda: keras.layers.DepthwiseConv2D((2, 3), depth_multiplier=2),
    "depthwise_conv_1d": lambda: keras.layers.DepthwiseConv1D(3, depth_multiplier=2),
    "separable_conv": lambda: keras.layers.SeparableConv2D(5, (2, 3), depth_multiplier=2),
    "separable_conv_1d": lambda: keras.layers.SeparableConv1D(4, 3),
    "group_norm": lambda: keras.layers.GroupNormalization(groups=2, epsilon=1e-5),
    "rms_norm": lambda: keras.layers.RMSNormalization(epsilon=1e-5),
    "attention": lambda: keras.layers.MultiHeadAttention(2, 4),
    "attention_kdim": lambda: keras.layers.MultiHeadAttention(2, 4),
    "lstm": lambda: keras.layers.LSTM(4, return_sequences=True),
    "gru": lambda: keras.layers.GRU(4, return_sequences=True),
    "stacked_lstm": lambda: keras.layers.RNN(
        keras.layers.StackedRNNCells([keras.layers.LSTMCell(4) for _ in range(3)]), return_sequences=True
    ),
    "stacked_gru": lambda: keras.layers.RNN(
        keras.layers.StackedRNNCells([keras.layers.GRUCell(4) for _ in range(2)]), return_sequences=True
    ),
    "simple_rnn": lambda: keras.layers.SimpleRNN(4, return_sequences=True),
    "gru_reset_before": lambda: keras.layers.GRU(4, return_sequences=True, reset_after=False),  # no torch twin
}
TORCH["optimized_lstm"] = TORCH["lstm"]
COMPOSITE = {
    "attention",
    "attention_kdim",
    "lstm",
    "optimized_lstm",
    "gru",
    "gru_no_b_hn",
    "simple_rnn",
    "stacked_lstm",
    "stacked_gru",
}
"""Cases whose framework layer keeps its variables in sub-layers."""


class TorchOne(nn.Module, PyTorchModelHubMixin):
    """One torch layer of ``TORCH`` at ``layer``."""

    def __init__(self, case: str) -> None:
        super().__init__()
        self.layer = TORCH[case].make()


class FlaxOne(nnx.Module, FlaxModelHubMixin):
    """One NNX layer of ``FLAX_LAYERS`` at ``layer``."""

    def __init__(self, case: str, *, rngs: nnx.Rngs) -> None:
        self.layer = FLAX_LAYERS[case]()

    def __call__(self, *xs: Any) -> Any:
        return self.layer(*xs)


class KerasOne(keras.Model, KerasModelHubMixin):  # type: ignore[misc]
    """One Keras layer of ``KERAS_LAYERS`` at ``layer``."""

    def __init__(self, case: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.layer = KERAS_LAYERS[case]()

    def call(self, x: Any, context: Any = None) -> Any:
        return self.layer(x) if context is None else self.layer(x, context)


def _abstract(factory: Callable[[], nnx.Module]) -> Any:
    """``factory()`` built without running its initialisers (the tests set every parameter), RNG state zero."""
    module = nnx.eval_shape(factory)
    for _, node in nnx.iter_graph(module):
        if isinstance(node, nnx.Variable) and isinstance(value := node.get_value(), jax.ShapeDtypeStruct):
            node.set_value(jax.random.key(0) if isinstance(node, nnx.RngKey) else jnp.zeros(value.shape, value.dtype))
    return module


def _flax_variables(layer: Any) -> dict[str, Any]:
    """A layer's persistent variables by path relative to it (``query.kernel``), as a composite layer's group."""
    return {
        ".".join(map(str, path)): node
        for path, node in nnx.iter_graph(layer)
        if isinstance(node, nnx.Param | nnx.BatchStat)
    }


def _keras_variables(layer: Any) -> dict[str, Any]:
    """A layer's own variables and those of its adapter's parts (``cell.kernel``), as a composite layer's group."""
    found = {v.name: v for v in [*layer._trainable_variables, *layer._non_trainable_variables]}
    for prefix, part in parts_of(layer).items():
        found.update((f"{prefix}.{name}", v) for name, v in _keras_variables(part).items())
    return found


def _flax_write(variable: Any, array: Array) -> None:
    variable.set_value(jnp.asarray(array))


def _keras_write(variable: Any, array: Array) -> None:
    variable.assign(array)


def _flax_run(layer: Any, xs: list[Array]) -> Array:
    return np.asarray(layer(*(jnp.asarray(x) for x in xs)))


def _keras_run(layer: Any, xs: list[Array]) -> Array:
    return np.asarray(keras.ops.convert_to_numpy(layer(*xs)))


@functools.cache
def _flax_walk_has_composites() -> bool:
    return [group.path for group in layer_variables(FlaxOne("attention", rngs=_rngs()))] == ["layer"]


@functools.cache
def _keras_walk_has_composites() -> bool:
    lstm = keras.layers.LSTM(2)
    lstm.build((None, None, 3))
    return "cell.kernel" in own_variables(lstm)


@dataclass(frozen=True)
class Framework:
    """What the tests need of one framework."""

    name: str
    layers: dict[str, Callable[[], Any]]
    layouts: LayoutRegistry
    model: Any
    variables: Callable[[Any], dict[str, Any]]
    write: Callable[[Any, Array], None]
    run: Callable[[Any, list[Array]], Array]
    walk_has_composites: Callable[[], bool]

    def read(self, variable: Any) -> Array:
        value = variable.get_value() if self.name == "flax" else keras.ops.convert_to_numpy(variable.value)
        return np.array(value)  # a writable copy (torch.from_numpy warns on read-only arrays)

    def layer(self, case: str) -> Any:
        """The case's layer (an NNX one with abstract parameters: the tests set them all)."""
        return _abstract(FLAX_LAYERS[case]) if self.name == "flax" else KERAS_LAYERS[case]()

    def make(self, case: str) -> Any:
        """A model holding the case's layer (an NNX one with abstract parameters)."""
        return _abstract(lambda: FlaxOne(case, rngs=_rngs())) if self.name == "flax" else KerasOne(case)

    def randomize(self, layer: Any, seed: int) -> None:
        rng = np.random.default_rng(seed)
        for variable in self.variables(layer).values():
            shape = tuple(int(d) for d in variable.shape)
            self.write(variable, rng.uniform(-0.5, 0.5, shape).astype(np.float32))


FLAX = Framework(
    "flax", FLAX_LAYERS, FLAX_LAYOUTS, FlaxOne, _flax_variables, _flax_write, _flax_run, _flax_walk_has_composites
)
KERAS = Framework(
    "keras",
    KERAS_LAYERS,
    KERAS_LAYOUTS,
    KerasOne,
    _keras_variables,
    _keras_write,
    _keras_run,
    _keras_walk_has_composites,
)
CASES = [pytest.param(fw, case, id=f"{fw.name}-{case}") for fw in (FLAX, KERAS) for case in fw.layers if case in TORCH]


def _inputs(case: str) -> list[Array]:
    rng = np.random.default_rng(1)
    return [rng.standard_normal(shape).astype(np.float32) for shape in TORCH[case].shapes]


def _torch_run(module: nn.Module, case: str, xs: list[Array]) -> Array:
    with torch.no_grad():
        return TORCH[case].call(module.eval(), [torch.from_numpy(x) for x in xs]).numpy()


def _state(module: nn.Module) -> dict[str, Array]:
    return {name: tensor.detach().numpy() for name, tensor in module.state_dict().items()}


def _infos(tensors: dict[str, Array]) -> dict[str, TensorInfo]:
    return {name: TensorInfo(tuple(a.shape), dtype_name(a.dtype)) for name, a in tensors.items()}


@pytest.mark.parametrize(("fw", "case"), CASES)
def test_adapter_matches_torch_both_ways(fw: Framework, case: str) -> None:
    xs = _inputs(case)
    reference, layer = TORCH[case].make(), fw.layer(case)
    if fw is KERAS:
        fw.run(layer, xs)  # builds it
    adapter, variables = fw.layouts.find(layer), fw.variables(layer)
    arrays = adapter.from_canonical(layer, "layer", _state(reference))
    assert arrays.keys() == variables.keys()
    for name, array in arrays.items():
        assert array.shape == tuple(variables[name].shape), name
        fw.write(variables[name], array)
    np.testing.assert_allclose(fw.run(layer, xs), _torch_run(reference, case, xs), rtol=0, atol=ATOL)

    fw.randomize(layer, seed=2)
    ours = {name: fw.read(variable) for name, variable in variables.items()}
    canonical = adapter.to_canonical(layer, "layer", ours)
    other = TORCH[case].make()
    other.load_state_dict({name: torch.from_numpy(array) for name, array in canonical.items()}, strict=True)
    np.testing.assert_allclose(_torch_run(other, case, xs), fw.run(layer, xs), rtol=0, atol=ATOL)

    back = adapter.from_canonical(layer, "layer", canonical)
    assert back.keys() == ours.keys()
    for name, array in ours.items():
        np.testing.assert_array_equal(back[name], array, err_msg=name)
    on_shapes = adapter.to_canonical(layer, "layer", _infos(ours))
    assert on_shapes == _infos(canonical)
    assert adapter.from_canonical(layer, "layer", on_shapes) == _infos(ours)


@pytest.mark.parametrize(("fw", "case"), CASES)
def test_from_pretrained_reads_torch_and_torch_reads_ours(fw: Framework, case: str, tmp_path: Path) -> None:
    if case in COMPOSITE and not fw.walk_has_composites():
        pytest.skip(f"the {fw.name} walk does not group a composite layer's sub-layer variables yet")
    xs = _inputs(case)
    reference = TorchOne(case)
    reference.save_pretrained(tmp_path / "torch")
    loaded = fw.model.from_pretrained(tmp_path / "torch", strict=True)
    np.testing.assert_allclose(fw.run(loaded, xs), _torch_run(reference.layer, case, xs), rtol=0, atol=ATOL)

    ours = fw.make(case)
    if fw is KERAS:
        fw.run(ours, xs)  # builds it
    fw.randomize(ours.layer, seed=3)
    ours.save_pretrained(tmp_path / "ours")
    theirs = TorchOne.from_pretrained(tmp_path / "ours", strict=True)
    np.testing.assert_allclose(_torch_run(theirs.layer, case, xs), fw.run(ours, xs), rtol=0, atol=ATOL)

    again = fw.model.from_pretrained(tmp_path / "ours", strict=True)
    mine, yours = fw.variables(ours.layer), fw.variables(again.layer)
    assert mine.keys() == yours.keys()
    for name, variable in mine.items():
        np.testing.assert_array_equal(fw.read(yours[name]), fw.read(variable), err_msg=name)


def test_flax_gru_refuses_a_torch_b_hn_it_cannot_hold(tmp_path: Path) -> None:
    reference = TorchOne("gru")  # b_hn not zero
    layer = FLAX.layer("gru_no_b_hn")
    adapter = FLAX_LAYOUTS.find(layer)
    state = _state(reference.layer)
    assert adapter.from_canonical(layer, "encoder.rnn", _infos(state)).keys() == _flax_variables(layer).keys()
    with pytest.raises(LayoutError, match=r"^encoder\.rnn: GRUCell cannot hold torch\.nn\.GRU's b_hn"):
        adapter.from_canonical(layer, "encoder.rnn", state)
    if _flax_walk_has_composites():
        reference.save_pretrained(tmp_path)
        (tmp_path / "config.json").write_text('{"case": "gru_no_b_hn"}')
        with pytest.raises(LayoutError, match=r"^layer: GRUCell cannot hold"):
            FlaxOne.from_pretrained(tmp_path, strict=True)


def test_keras_gru_without_reset_after_keeps_keras_names(tmp_path: Path) -> None:
    """``reset_after=False`` has no torch layout: saved under Keras' names, it reads back bit-exact."""
    xs = _inputs("gru")
    ours = KerasOne("gru_reset_before")
    ours(*xs)
    KERAS.randomize(ours.layer, seed=4)
    gru = ours.layer
    tensors = {name: KERAS.read(variable) for name, variable in _keras_variables(gru).items()}
    assert sorted(KERAS_LAYOUTS.find(gru).to_canonical(gru, "gru", tensors)) == ["bias", "kernel", "recurrent_kernel"]
    ours.save_pretrained(tmp_path)
    again = KerasOne.from_pretrained(tmp_path, strict=True)
    np.testing.assert_array_equal(KERAS.run(again, xs), KERAS.run(ours, xs))


@pytest.mark.skipif(os.environ.get(CHILD) == "1", reason="run by test_keras_on_other_backends itself")
def test_keras_on_other_backends() -> None:
    """This file's Keras tests under the two other Keras backends, in two subprocesses run side by side.

    Each runs on one thread (see :data:`backends.ONE_THREAD`).
    """
    others = [backend for backend in BACKENDS if backend != keras.backend.backend()]
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(Path(__file__).resolve())]
    failed = run_per_backend([*command, "-k", "keras and not other_backends"], others, cwd=ROOT, env={CHILD: "1"})
    assert not failed, "\n\n".join(f"KERAS_BACKEND={b}:\n{out}" for b, out in failed.items())
