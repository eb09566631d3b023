"""The interchange matrix's reference architectures, written the same way in PyTorch, Flax NNX and Keras 3.

Each architecture has one class per framework with the same module tree (attribute names) and the same
``__init__`` arguments, so a checkpoint saved by one loads into the others with no extra code. Inputs are
channels-last and batch-first; the torch CNN permutes to channels-first itself. Settings that change results are
set alike everywhere: norm epsilons 1e-5, exact GELU, "same" padding for stride-1 3x3 convolutions.
"""

from __future__ import annotations

from typing import Any

import huggingface_hub
import jax.numpy as jnp
import keras
import numpy as np
import torch
from flax import nnx
from torch import nn

from hubmixin_flax import FlaxModelHubMixin
from hubmixin_keras import KerasModelHubMixin
from hubmixin_torch import PyTorchModelHubMixin

Array = np.ndarray[Any, Any]

ARCHITECTURES = ("mlp", "cnn", "transformer", "recurrent")


def inputs(architecture: str) -> Array:
    """The fixed input every framework's model of ``architecture`` is run on."""
    rng = np.random.default_rng(7)
    if architecture == "transformer":
        return rng.integers(0, 11, size=(2, 5)).astype(np.int32)
    shape = {"mlp": (4, 6), "cnn": (2, 8, 8, 3), "recurrent": (2, 5, 3)}[architecture]
    return rng.standard_normal(shape).astype(np.float32)


# PyTorch


class MLP(nn.Module):
    def __init__(self, d_in: int = 6, hidden: int = 16, d_out: int = 3) -> None:
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(d_in, hidden), nn.Linear(hidden, d_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.fc2(torch.relu(self.fc1(x)))
        return out


class CNN(nn.Module):
    def __init__(self, channels: int = 3, width: int = 8, classes: int = 5) -> None:
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(channels, width, 3, padding=1), nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, 2 * width, 3, padding=1, groups=2)
        self.bn2 = nn.BatchNorm2d(2 * width)
        self.head = nn.Linear(2 * width, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.bn1(self.conv1(x.permute(0, 3, 1, 2))))
        x = torch.relu(self.bn2(self.conv2(nn.functional.max_pool2d(x, 2))))
        out: torch.Tensor = self.head(x.mean((2, 3)))
        return out


class TorchMLP(MLP, PyTorchModelHubMixin):
    pass


class TorchCNN(CNN, PyTorchModelHubMixin):
    pass


class HubMLP(MLP, huggingface_hub.PyTorchModelHubMixin):
    """The MLP under huggingface_hub's own mixin: its checkpoints are the wider Hub's."""


class HubCNN(CNN, huggingface_hub.PyTorchModelHubMixin):
    """The CNN under huggingface_hub's own mixin."""


class TorchTransformer(nn.Module, PyTorchModelHubMixin):
    def __init__(self, vocab: int = 11, dim: int = 8, heads: int = 2) -> None:
        super().__init__()
        self.embed, self.norm1, self.norm2 = nn.Embedding(vocab, dim), nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.attn = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.fc1, self.fc2, self.head = nn.Linear(dim, 4 * dim), nn.Linear(4 * dim, dim), nn.Linear(dim, vocab)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        x = self.embed(ids.long())
        h = self.norm1(x)
        x = x + self.attn(h, h, h, need_weights=False)[0]
        x = x + self.fc2(nn.functional.gelu(self.fc1(self.norm2(x))))
        out: torch.Tensor = self.head(x)
        return out


class TorchRecurrent(nn.Module, PyTorchModelHubMixin):
    def __init__(self, d_in: int = 3, hidden: int = 4, classes: int = 2) -> None:
        super().__init__()
        self.lstm = nn.LSTM(d_in, hidden, batch_first=True)
        self.gru = nn.GRU(hidden, hidden, batch_first=True)
        self.head = nn.Linear(hidden, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.head(self.gru(self.lstm(x)[0])[0][:, -1])
        return out


# Flax NNX


class FlaxMLP(nnx.Module, FlaxModelHubMixin):
    def __init__(self, d_in: int = 6, hidden: int = 16, d_out: int = 3, *, rngs: nnx.Rngs) -> None:
        self.fc1, self.fc2 = nnx.Linear(d_in, hidden, rngs=rngs), nnx.Linear(hidden, d_out, rngs=rngs)

    def __call__(self, x: jnp.ndarray) -> jnp.ndarray:
        return self.fc2(nnx.relu(self.fc1(x)))


class FlaxCNN(nnx.Module, FlaxModelHubMixin):
    def __init__(self, channels: int = 3, width: int = 8, classes: int = 5, *, rngs: nnx.Rngs) -> None:
        self.conv1 = nnx.Conv(channels, width, (3, 3), padding="SAME", rngs=rngs)
        self.bn1 = nnx.BatchNorm(width, use_running_average=True, rngs=rngs)
        self.conv2 = nnx.Conv(width, 2 * width, (3, 3), padding="SAME", feature_group_count=2, rngs=rngs)
        self.bn2 = nnx.BatchNorm(2 * width, use_running_average=True, rngs=rngs)
        self.head = nnx.Linear(2 * width, classes, rngs=rngs)

    def __call__(self, x: jnp.ndarray) -> jnp.ndarray:
        x = nnx.relu(self.bn1(self.conv1(x)))
        x = nnx.max_pool(x, (2, 2), strides=(2, 2))  # type: ignore[no-untyped-call]
        x = nnx.relu(self.bn2(self.conv2(x)))
        return self.head(x.mean((1, 2)))


class FlaxTransformer(nnx.Module, FlaxModelHubMixin):
    def __init__(self, vocab: int = 11, dim: int = 8, heads: int = 2, *, rngs: nnx.Rngs) -> None:
        self.embed = nnx.Embed(vocab, dim, rngs=rngs)
        self.norm1 = nnx.LayerNorm(dim, epsilon=1e-5, rngs=rngs)
        self.norm2 = nnx.LayerNorm(dim, epsilon=1e-5, rngs=rngs)
        self.attn = nnx.MultiHeadAttention(heads, dim, decode=False, rngs=rngs)
        self.fc1, self.fc2 = nnx.Linear(dim, 4 * dim, rngs=rngs), nnx.Linear(4 * dim, dim, rngs=rngs)
        self.head = nnx.Linear(dim, vocab, rngs=rngs)

    def __call__(self, ids: jnp.ndarray) -> jnp.ndarray:
        x = self.embed(ids)
        x = x + self.attn(self.norm1(x))
        x = x + self.fc2(nnx.gelu(self.fc1(self.norm2(x)), approximate=False))
        return self.head(x)


class FlaxRecurrent(nnx.Module, FlaxModelHubMixin):
    def __init__(self, d_in: int = 3, hidden: int = 4, classes: int = 2, *, rngs: nnx.Rngs) -> None:
        self.lstm = nnx.RNN(nnx.LSTMCell(d_in, hidden, rngs=rngs))
        self.gru = nnx.RNN(nnx.GRUCell(hidden, hidden, rngs=rngs))
        self.head = nnx.Linear(hidden, classes, rngs=rngs)

    def __call__(self, x: jnp.ndarray) -> jnp.ndarray:
        return self.head(self.gru(self.lstm(x))[:, -1])


# Keras 3 (subclassed Models; layers get their input sizes when first called)


class KerasMLP(keras.Model, KerasModelHubMixin):  # type: ignore[misc]
    def __init__(self, d_in: int = 6, hidden: int = 16, d_out: int = 3, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.fc1, self.fc2 = keras.layers.Dense(hidden), keras.layers.Dense(d_out)

    def call(self, x: Any) -> Any:
        return self.fc2(keras.ops.relu(self.fc1(x)))


class KerasCNN(keras.Model, KerasModelHubMixin):  # type: ignore[misc]
    def __init__(self, channels: int = 3, width: int = 8, classes: int = 5, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.conv1 = keras.layers.Conv2D(width, 3, padding="same")
        self.bn1 = keras.layers.BatchNormalization(epsilon=1e-5)
        self.conv2 = keras.layers.Conv2D(2 * width, 3, padding="same", groups=2)
        self.bn2 = keras.layers.BatchNormalization(epsilon=1e-5)
        self.pool = keras.layers.MaxPooling2D(2)
        self.head = keras.layers.Dense(classes)

    def call(self, x: Any) -> Any:
        x = keras.ops.relu(self.bn1(self.conv1(x)))
        x = keras.ops.relu(self.bn2(self.conv2(self.pool(x))))
        return self.head(keras.ops.mean(x, axis=(1, 2)))


class KerasTransformer(keras.Model, KerasModelHubMixin):  # type: ignore[misc]
    def __init__(self, vocab: int = 11, dim: int = 8, heads: int = 2, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.embed = keras.layers.Embedding(vocab, dim)
        self.norm1 = keras.layers.LayerNormalization(epsilon=1e-5)
        self.norm2 = keras.layers.LayerNormalization(epsilon=1e-5)
        self.attn = keras.layers.MultiHeadAttention(heads, dim // heads)
        self.fc1, self.fc2, self.head = keras.layers.Dense(4 * dim), keras.layers.Dense(dim), keras.layers.Dense(vocab)

    def call(self, ids: Any) -> Any:
        x = self.embed(ids)
        h = self.norm1(x)
        x = x + self.attn(h, h)
        x = x + self.fc2(keras.activations.gelu(self.fc1(self.norm2(x)), approximate=False))
        return self.head(x)


class KerasRecurrent(keras.Model, KerasModelHubMixin):  # type: ignore[misc]
    def __init__(self, d_in: int = 3, hidden: int = 4, classes: int = 2, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.lstm = keras.layers.LSTM(hidden, return_sequences=True)
        self.gru = keras.layers.GRU(hidden, return_sequences=True)
        self.head = keras.layers.Dense(classes)

    def call(self, x: Any) -> Any:
        return self.head(self.gru(self.lstm(x))[:, -1])


TORCH: dict[str, type[Any]] = {
    "mlp": TorchMLP,
    "cnn": TorchCNN,
    "transformer": TorchTransformer,
    "recurrent": TorchRecurrent,
}
FLAX: dict[str, type[FlaxModelHubMixin]] = {
    "mlp": FlaxMLP,
    "cnn": FlaxCNN,
    "transformer": FlaxTransformer,
    "recurrent": FlaxRecurrent,
}
HUB: dict[str, type[Any]] = {"mlp": HubMLP, "cnn": HubCNN}
KERAS: dict[str, type[Any]] = {
    "mlp": KerasMLP,
    "cnn": KerasCNN,
    "transformer": KerasTransformer,
    "recurrent": KerasRecurrent,
}
