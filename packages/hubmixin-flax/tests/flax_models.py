"""Small NNX models shared by the hubmixin-flax tests (a few hundred bytes of weights each), and helpers."""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx
from jax.sharding import PartitionSpec

from hubmixin_flax import FlaxModelHubMixin

__all__ = [
    "IDS",
    "Block",
    "Counter",
    "Net",
    "Plain",
    "Port",
    "Sharded",
    "assert_same_variables",
    "make_net",
    "persistent",
    "pspec",
    "randomize",
]


IDS = jnp.array([[1, 2, 3, 4, 5], [6, 7, 8, 9, 10]])
"""Token ids for ``Net``: a batch of two sequences of five."""


class Counter(nnx.BatchStat[jax.Array]):
    """A custom persistent variable type (int32): saved and loaded like any ``nnx.BatchStat``."""


class Block(nnx.Module):
    """Linear, LayerNorm, an int32 ``nnx.Param`` and a custom int32 variable."""

    def __init__(self, dim: int, *, rngs: nnx.Rngs) -> None:
        self.linear = nnx.Linear(dim, dim, rngs=rngs)
        self.norm = nnx.LayerNorm(dim, rngs=rngs)
        self.offsets = nnx.Param(jnp.arange(dim, dtype=jnp.int32))
        self.calls = Counter(jnp.zeros((2,), jnp.int32))

    def __call__(self, x: jax.Array) -> jax.Array:
        offsets: jax.Array = self.offsets[...]
        out: jax.Array = self.norm(self.linear(x)) + offsets.astype(x.dtype)
        return out


class Net(nnx.Module, FlaxModelHubMixin, license="mit"):
    """Embed, Dropout (RNG state), an ``nnx.List`` of blocks, a 1-D Conv, BatchNorm and a bfloat16 head."""

    def __init__(self, dim: int = 4, depth: int = 2, vocab: int = 11, *, rngs: nnx.Rngs) -> None:
        self.embed = nnx.Embed(vocab, dim, rngs=rngs)
        self.drop = nnx.Dropout(0.5, rngs=rngs)
        self.blocks = nnx.List([Block(dim, rngs=rngs) for _ in range(depth)])
        self.conv = nnx.Conv(dim, 5, kernel_size=(3,), rngs=rngs)  # kernel (k=3, in=dim, out=5)
        self.bn = nnx.BatchNorm(5, rngs=rngs)
        self.head = nnx.Linear(dim, vocab, param_dtype=jnp.bfloat16, dtype=jnp.bfloat16, rngs=rngs)

    def __call__(self, ids: jax.Array, *, train: bool = False) -> tuple[jax.Array, jax.Array]:
        h: jax.Array = self.drop(self.embed(ids), deterministic=not train)
        for block in self.blocks:
            h = block(h)
        features: jax.Array = self.bn(self.conv(h), use_running_average=not train)
        logits: jax.Array = self.head(h)
        return logits, features


class Port(nnx.Module, FlaxModelHubMixin):
    """The Flax port of a PyTorch model with the same module tree (see test_flax_torch.py).

    Set to compute what torch computes: VALID padding, torch's norm epsilons, exact GELU, BatchNorm in eval mode.
    """

    def __init__(self, channels: int = 5, features: int = 4, vocab: int = 7, *, rngs: nnx.Rngs) -> None:
        self.conv = nnx.Conv(channels, features, kernel_size=(3, 2), padding="VALID", rngs=rngs)
        self.bn = nnx.BatchNorm(features, use_running_average=True, epsilon=1e-5, rngs=rngs)
        self.embed = nnx.Embed(vocab, features, rngs=rngs)
        self.norm = nnx.LayerNorm(features, epsilon=1e-5, rngs=rngs)
        self.fc1 = nnx.Linear(features, 2 * features, rngs=rngs)
        self.fc2 = nnx.Linear(2 * features, vocab, rngs=rngs)

    def __call__(self, image: jax.Array, ids: jax.Array) -> jax.Array:
        """``image`` is NHWC (torch's NCHW transposed)."""
        h = nnx.gelu(self.bn(self.conv(image)), approximate=False).mean(axis=(1, 2))
        h = self.norm(h + self.embed(ids))
        out: jax.Array = self.fc2(nnx.gelu(self.fc1(h), approximate=False))
        return out


_INIT = nnx.initializers.lecun_normal()
_BIAS = nnx.initializers.normal(0.5)


def _dense(din: int, dout: int, names: tuple[str, str] | None, rngs: nnx.Rngs) -> nnx.Linear:
    if names is None:
        return nnx.Linear(din, dout, kernel_init=_INIT, bias_init=_BIAS, rngs=rngs)
    return nnx.Linear(
        din,
        dout,
        kernel_init=nnx.with_partitioning(_INIT, names),
        bias_init=nnx.with_partitioning(_BIAS, names[1:]),
        rngs=rngs,
    )


class Sharded(nnx.Module, FlaxModelHubMixin):
    """Annotated with ``nnx.with_partitioning`` for a ``("data", "model")`` mesh; ``norm`` is not annotated."""

    def __init__(self, din: int = 8, hidden: int = 16, *, rngs: nnx.Rngs) -> None:
        self.up = _dense(din, hidden, ("data", "model"), rngs)
        self.down = _dense(hidden, din, ("model", "data"), rngs)
        self.norm = nnx.LayerNorm(din, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        out: jax.Array = self.norm(self.down(nnx.relu(self.up(x))))
        return out


class Plain(nnx.Module, FlaxModelHubMixin):
    """``Sharded`` without annotations: built anywhere, placed by the ``sharding=`` argument alone."""

    def __init__(self, din: int = 8, hidden: int = 16, *, rngs: nnx.Rngs) -> None:
        self.up = _dense(din, hidden, None, rngs)
        self.down = _dense(hidden, din, None, rngs)
        self.norm = nnx.LayerNorm(din, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        out: jax.Array = self.norm(self.down(nnx.relu(self.up(x))))
        return out


def pspec(*names: str | None) -> PartitionSpec:
    """``PartitionSpec(*names)``, typed (jax leaves its constructor unannotated)."""
    return PartitionSpec(*names)  # type: ignore[no-untyped-call]


def persistent(model: nnx.Module) -> dict[str, nnx.Variable[Any]]:
    """The ``nnx.Param`` and ``nnx.BatchStat`` variables of ``model`` by dotted path (``blocks.0.linear.kernel``)."""
    return {
        ".".join(map(str, path)): node
        for path, node in nnx.iter_graph(model)
        if isinstance(node, nnx.Param | nnx.BatchStat)
    }


def randomize(model: nnx.Module, seed: int = 0) -> None:
    """Give every saved variable a value that no initialiser gives (variances positive, integers shifted).

    Drawn with numpy: jax's random functions would compile once per shape.
    """
    rng = np.random.default_rng(seed)
    for variable in persistent(model).values():
        value = np.asarray(variable.get_value())
        if np.issubdtype(value.dtype, np.integer):
            new = value + rng.integers(1, 100, value.shape, dtype=value.dtype)
        else:
            low = 0.5 if isinstance(variable, nnx.BatchStat) else -1.0
            new = rng.uniform(low, 1.5, value.shape).astype(value.dtype)
        variable.set_value(jnp.asarray(new))


def make_net(seed: int = 0, **kwargs: int) -> Net:
    """A ``Net`` built with ``nnx.Rngs(seed)`` whose saved variables are then randomized."""
    model = Net(**kwargs, rngs=nnx.Rngs(seed))
    randomize(model, seed + 1)
    return model


def assert_same_variables(a: nnx.Module, b: nnx.Module) -> None:
    """Same saved variables in ``a`` and ``b``: paths, types, shapes, dtypes and bits."""
    left, right = persistent(a), persistent(b)
    assert left.keys() == right.keys()
    for path, variable in left.items():
        x, y = np.asarray(variable.get_value()), np.asarray(right[path].get_value())
        assert type(variable) is type(right[path]), path
        assert (x.dtype, x.shape) == (y.dtype, y.shape), path
        assert x.tobytes() == y.tobytes(), path


class Noisy(nnx.Module, FlaxModelHubMixin):
    """Holds RNG state besides its parameters: a dropout's stream and a recurrent layer's."""

    def __init__(self, features: int = 3, *, rngs: nnx.Rngs) -> None:
        self.fc = nnx.Linear(features, features, rngs=rngs)
        self.drop = nnx.Dropout(0.1, rngs=rngs)
        self.rnn = nnx.RNN(nnx.GRUCell(features, features, rngs=rngs), rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        out: jax.Array = self.rnn(self.drop(self.fc(x)))
        return out


@dataclasses.dataclass
class Sizes:
    """A dataclass config."""

    din: int = 4
    dout: int = 3


class Configured(nnx.Module, FlaxModelHubMixin):
    """Takes its sizes as one dataclass argument."""

    def __init__(self, config: Sizes, *, rngs: nnx.Rngs) -> None:
        self.fc = nnx.Linear(config.din, config.dout, rngs=rngs)


class SeesConfig(nnx.Module, FlaxModelHubMixin):
    """Its _from_pretrained takes the loaded config, as huggingface_hub's overrides do."""

    def __init__(self, din: int = 2, dout: int = 3, *, rngs: nnx.Rngs) -> None:
        self.lin = nnx.Linear(din, dout, rngs=rngs)

    @classmethod
    def _from_pretrained(cls, *, model_id: str, config: Any = None, **kwargs: Any) -> SeesConfig:
        return super()._from_pretrained(model_id=model_id, **kwargs)
