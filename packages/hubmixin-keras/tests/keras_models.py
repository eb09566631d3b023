"""Small Keras models shared by the hubmixin-keras tests (a few hundred bytes of weights each), and helpers.

The helpers name each variable by its attribute path written out by hand (``blocks.0.dense.kernel``) and give
the canonical tensors the file must hold (``blocks.0.dense.weight``, transposed): an oracle independent of the
package's own walk and adapters.

``python keras_models.py save DIRECTORY load DIRECTORY ...`` is the other side of the cross-backend test (see
``test_keras_backends.py``), run under another ``KERAS_BACKEND``.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import keras
import ml_dtypes
import numpy as np
from keras.src.backend.common import global_state

from hubmixin_keras import KerasModelHubMixin

__all__ = [
    "IDS",
    "IMAGE",
    "Block",
    "Guarded",
    "Mlp",
    "Net",
    "Port",
    "Raising",
    "Scale",
    "assert_same_variables",
    "canonical",
    "dtype_policy",
    "keras_variables",
    "layers_of",
    "make_net",
    "numpy",
    "outputs",
    "pending_variables",
    "randomize",
]

IDS = np.array([[1, 2, 3, 4, 5], [6, 7, 8, 9, 0]], dtype="int32")
"""Token ids for ``Net``: a batch of two sequences of five."""

IMAGE = np.random.default_rng(123).standard_normal((2, 6, 5, 2)).astype("float32")
"""An NHWC image batch for ``Net``."""


class Block(keras.layers.Layer):  # type: ignore[misc]
    """Dense then BatchNormalization (torch's epsilon): in a python list of ``Net`` and ``Port``."""

    def __init__(self, units: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.dense = keras.layers.Dense(units)
        self.norm = keras.layers.BatchNormalization(epsilon=1e-5)

    def call(self, x: Any, training: bool = False) -> Any:
        return self.norm(self.dense(x), training=training)


class Scale(keras.layers.Layer):  # type: ignore[misc]
    """A custom layer whose variables are created in ``__init__``: a float vector and an int32 counter."""

    def __init__(self, units: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.scale = self.add_weight(shape=(units,), initializer="ones", name="scale")
        self.steps = self.add_weight(shape=(), initializer="zeros", dtype="int32", trainable=False, name="steps")

    def call(self, x: Any) -> Any:
        return x * self.scale


class Net(keras.Model, KerasModelHubMixin, license="mit"):  # type: ignore[misc]
    """Embedding, a list of ``Block``, a dict of Dense heads, Conv2D, LayerNormalization, Dropout, ``Scale``."""

    def __init__(self, units: int = 4, depth: int = 2, vocab: int = 10, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.emb = keras.layers.Embedding(vocab, units)
        self.blocks = [Block(units) for _ in range(depth)]
        self.heads = {"left": keras.layers.Dense(3), "right": keras.layers.Dense(2, use_bias=False)}
        self.conv = keras.layers.Conv2D(3, (3, 2), padding="same")
        self.ln = keras.layers.LayerNormalization(epsilon=1e-5)
        self.drop = keras.layers.Dropout(0.5)
        self.scale = Scale(units)

    def call(self, ids: Any, image: Any, training: bool = False) -> tuple[Any, Any, Any]:
        x = keras.ops.mean(self.emb(ids), axis=1)
        for block in self.blocks:
            x = block(x, training=training)
        x = self.scale(self.ln(self.drop(x, training=training)))
        return self.heads["left"](x), self.heads["right"](x), self.conv(image)


class Mlp(keras.Model, KerasModelHubMixin):  # type: ignore[misc]
    """One input, for ``compile`` and ``fit``: a list of ``Block`` and a Dense head."""

    def __init__(self, units: int = 4, depth: int = 2, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.blocks = [Block(units) for _ in range(depth)]
        self.head = keras.layers.Dense(1)

    def call(self, x: Any, training: bool = False) -> Any:
        for block in self.blocks:
            x = block(x, training=training)
        return self.head(x)


class Raising(keras.initializers.Initializer):  # type: ignore[misc]
    """An initializer that must never run: loading a checkpoint gives every variable its value."""

    def __call__(self, shape: Any, dtype: Any = None) -> Any:
        raise AssertionError(f"an initializer ran for a variable of shape {tuple(shape)}")


class Guarded(keras.Model, KerasModelHubMixin):  # type: ignore[misc]
    """``Net``'s layers (same shapes, so jax compiles nothing new); with ``guard=True`` every initializer raises."""

    def __init__(self, units: int = 4, guard: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        init: Any = Raising() if guard else "glorot_uniform"
        one: Any = Raising() if guard else "ones"
        zero: Any = Raising() if guard else "zeros"
        self.emb = keras.layers.Embedding(10, units, embeddings_initializer=init)
        self.conv = keras.layers.Conv2D(3, (3, 2), padding="same", kernel_initializer=init, bias_initializer=zero)
        self.dense = keras.layers.Dense(units, kernel_initializer=init, bias_initializer=zero)
        self.norm = keras.layers.BatchNormalization(
            epsilon=1e-5,
            gamma_initializer=one,
            beta_initializer=zero,
            moving_mean_initializer=zero,
            moving_variance_initializer=one,
        )
        self.ln = keras.layers.LayerNormalization(epsilon=1e-5, gamma_initializer=one, beta_initializer=zero)

    def call(self, ids: Any, image: Any) -> tuple[Any, Any]:
        return self.ln(self.norm(self.dense(keras.ops.mean(self.emb(ids), axis=1)))), self.conv(image)


class Port(keras.Model, KerasModelHubMixin):  # type: ignore[misc]
    """The Keras port of a PyTorch model with the same module tree (see ``test_keras_torch.py``).

    Set to compute what torch computes: VALID padding, torch's epsilons, exact GELU, BatchNorm in inference.
    ``channels`` is the torch model's; Keras infers the input channels. ``bn`` normalises pooled features
    (torch's ``BatchNorm1d``): see ``test_keras_layout.test_norms_over_feature_maps_load_and_run``.
    """

    def __init__(self, channels: int = 5, features: int = 4, vocab: int = 7, depth: int = 2, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.channels = channels
        self.conv = keras.layers.Conv2D(features, (3, 2), padding="valid")
        self.bn = keras.layers.BatchNormalization(epsilon=1e-5)
        self.embed = keras.layers.Embedding(vocab, features)
        self.norm = keras.layers.LayerNormalization(epsilon=1e-5)
        self.blocks = [Block(features) for _ in range(depth)]
        self.fc1 = keras.layers.Dense(2 * features)
        self.fc2 = keras.layers.Dense(vocab)

    def call(self, image: Any, ids: Any) -> Any:
        """``image`` is NHWC (torch's NCHW transposed)."""
        gelu = keras.activations.gelu
        h = keras.ops.mean(gelu(self.conv(image), approximate=False), axis=(1, 2))
        h = self.norm(self.bn(h, training=False) + self.embed(ids))
        for block in self.blocks:
            h = block(h, training=False)
        return self.fc2(gelu(self.fc1(h), approximate=False))


@contextlib.contextmanager
def dtype_policy(policy: str | None) -> Iterator[None]:
    """Construct layers under Keras' global dtype policy ``policy`` (``None``: leave it)."""
    if policy is None:
        yield
        return
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(policy)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


def layers_of(model: Any) -> dict[str, Any]:
    """The leaf layers of a ``Net``, ``Mlp``, ``Guarded`` or ``Port`` by attribute path, written out by hand."""
    found: dict[str, Any] = {}
    for i, block in enumerate(getattr(model, "blocks", [])):
        found[f"blocks.{i}.dense"] = block.dense
        found[f"blocks.{i}.norm"] = block.norm
    if isinstance(model, Net):
        found |= {"emb": model.emb, "heads.left": model.heads["left"], "heads.right": model.heads["right"]}
        found |= {"conv": model.conv, "ln": model.ln, "scale": model.scale}
    elif isinstance(model, Mlp):
        found["head"] = model.head
    elif isinstance(model, Guarded):
        found |= {"emb": model.emb, "conv": model.conv, "dense": model.dense, "norm": model.norm, "ln": model.ln}
    elif isinstance(model, Port):
        found |= {"conv": model.conv, "bn": model.bn, "embed": model.embed, "norm": model.norm}
        found |= {"fc1": model.fc1, "fc2": model.fc2}
    else:
        raise TypeError(type(model))
    return found


def keras_variables(model: Any) -> dict[str, Any]:
    """Every variable of ``model`` by attribute path and Keras name: ``blocks.0.dense.kernel``."""
    return {f"{path}.{v.name}": v for path, layer in layers_of(model).items() for v in layer.weights}


def numpy(value: Any) -> np.ndarray[Any, Any]:
    """A variable or tensor as numpy in its own dtype (backends hand bfloat16 over as float32 or as objects)."""
    dtype = keras.backend.standardize_dtype(value.dtype)
    array = np.asarray(keras.ops.convert_to_numpy(keras.ops.cast(value, "float32") if dtype == "bfloat16" else value))
    return array.astype(ml_dtypes.bfloat16) if dtype == "bfloat16" else array


_NAMES = {
    "gamma": "weight",
    "beta": "bias",
    "moving_mean": "running_mean",
    "moving_variance": "running_var",
    "embeddings": "weight",
    "kernel": "weight",
}


def canonical(model: Any) -> dict[str, np.ndarray[Any, Any]]:
    """The tensors ``model``'s file must hold: torch names, ``[out, in]`` and ``[out, in, kh, kw]`` kernels."""
    tensors: dict[str, np.ndarray[Any, Any]] = {}
    for path, layer in layers_of(model).items():
        for variable in layer.weights:
            value = numpy(variable)
            if isinstance(layer, Scale):
                tensors[f"{path}.{variable.name}"] = value
                continue
            if variable.name == "kernel":
                value = value.T if isinstance(layer, keras.layers.Dense) else value.transpose(3, 2, 0, 1)
            tensors[f"{path}.{_NAMES.get(variable.name, variable.name)}"] = value
    return tensors


def randomize(model: Any, seed: int = 0) -> None:
    """Give every variable a value no initializer gives (variances positive, integers shifted), drawn with numpy."""
    rng = np.random.default_rng(seed)
    for key, variable in sorted(keras_variables(model).items()):
        shape = tuple(variable.shape)
        if "int" in keras.backend.standardize_dtype(variable.dtype):
            value: np.ndarray[Any, Any] = rng.integers(1, 100, shape).astype(variable.dtype)
        else:
            low = 0.5 if key.endswith("variance") else -1.0
            value = rng.uniform(low, 1.5, shape).astype("float32")
        variable.assign(value)


def randomize_weights(model: Any, seed: int = 0) -> None:
    """Give every float32 variable of a built ``model`` (any class) random normal values."""
    rng = np.random.default_rng(seed)
    for variable in model.weights:
        variable.assign(rng.standard_normal(tuple(variable.shape)).astype(np.float32))


def make_net(seed: int = 0, policy: str | None = None, **kwargs: Any) -> Net:
    """A ``Net`` (built by a call) whose variables are then randomized."""
    with dtype_policy(policy):
        model = Net(**kwargs)
        model(IDS, IMAGE)
    randomize(model, seed)
    return model


def outputs(model: Any, *args: Any, **kwargs: Any) -> list[np.ndarray[Any, Any]]:
    """``model(*args, **kwargs)`` as float32 numpy arrays (defaults: ``IDS, IMAGE``)."""
    result = model(*(args or (IDS, IMAGE)), **kwargs)
    results = result if isinstance(result, tuple | list) else [result]
    return [numpy(r).astype("float32") for r in results]


def pending_variables() -> list[Any]:
    """Keras' global list of variables whose initialisation is deferred: the next ``StatelessScope`` to close at
    top level runs their initializers (``keras.src.backend.common.variables.initialize_all_variables``)."""
    return list(global_state.get_global_attribute("uninitialized_variables") or [])


def assert_same_variables(a: Any, b: Any) -> None:
    """Same variables in ``a`` and ``b``: paths, shapes, dtypes and bits."""
    left, right = keras_variables(a), keras_variables(b)
    assert left.keys() == right.keys()
    for key, variable in left.items():
        x, y = numpy(variable), numpy(right[key])
        assert (x.dtype, x.shape) == (y.dtype, y.shape), key
        assert x.tobytes() == y.tobytes(), key


def _main(argv: list[str]) -> None:
    """Commands in pairs, under this process' backend: ``save DIRECTORY`` writes a ``make_net(seed=7)`` and its
    outputs (``outputs.npz``); ``load DIRECTORY`` loads that strictly and writes its outputs to
    ``outputs-<backend>.npz``."""
    backend = keras.backend.backend()
    for command, name in zip(argv[::2], argv[1::2], strict=True):
        directory = Path(name)
        if command == "save":
            net = make_net(seed=7)
            net.save_pretrained(directory)
            np.savez(directory / "outputs.npz", *outputs(net))
        elif command == "load":
            loaded = Net.from_pretrained(directory, strict=True)
            np.savez(directory / f"outputs-{backend}.npz", *outputs(loaded))
        else:
            raise SystemExit(f"unknown command {command!r}")
        print(backend, command, directory, "ok")


if __name__ == "__main__":
    _main(sys.argv[1:])
