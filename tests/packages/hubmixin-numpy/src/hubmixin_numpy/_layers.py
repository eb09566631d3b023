"""The NumPy framework's layers, in Flax's layouts (kernels ``[in, out]``, convolutions HWIO, per-head attention).

Example:
    >>> import numpy as np
    >>> dense = Linear(4, 3, rng=np.random.default_rng(0))
    >>> dense.kernel.shape, dense(np.ones((2, 4), np.float32)).shape
    ((4, 3), (2, 3))
"""

from __future__ import annotations

import math

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from hubmixin_numpy._module import Array, Module

__all__ = ["Conv2d", "Embed", "LayerNorm", "Linear", "MultiHeadAttention"]


def _uniform(rng: np.random.Generator | None, shape: tuple[int, ...], fan_in: int) -> Array:
    bound = 1 / math.sqrt(fan_in)
    return (rng or np.random.default_rng()).uniform(-bound, bound, shape).astype(np.float32)


class Linear(Module):
    """A dense layer ``x @ kernel + bias``; ``kernel`` is ``[in_features, out_features]``."""

    def __init__(
        self, in_features: int, out_features: int, use_bias: bool = True, *, rng: np.random.Generator | None = None
    ) -> None:
        self.kernel = _uniform(rng, (in_features, out_features), in_features)
        self.bias = _uniform(rng, (out_features,), in_features) if use_bias else None

    def __call__(self, x: Array) -> Array:
        """The layer applied to the last axis of ``x``."""
        y: Array = x @ self.kernel
        return y if self.bias is None else y + self.bias


class LayerNorm(Module):
    """Normalisation over the last axis, then ``* scale + bias``."""

    def __init__(self, dim: int, eps: float = 1e-5) -> None:
        self.eps = eps
        self.scale = np.ones(dim, np.float32)
        self.bias = np.zeros(dim, np.float32)

    def __call__(self, x: Array) -> Array:
        """``x`` normalised over its last axis."""
        centred = x - x.mean(-1, keepdims=True)
        normed: Array = centred / np.sqrt((centred**2).mean(-1, keepdims=True) + self.eps)
        return normed * self.scale + self.bias


class Embed(Module):
    """A lookup table: ``embedding`` is ``[num_embeddings, features]``."""

    def __init__(self, num_embeddings: int, features: int, *, rng: np.random.Generator | None = None) -> None:
        generator = rng or np.random.default_rng()
        self.embedding = generator.standard_normal((num_embeddings, features)).astype(np.float32)

    def __call__(self, ids: Array) -> Array:
        """The rows of ``ids``."""
        rows: Array = self.embedding[ids]
        return rows


class Conv2d(Module):
    """A 2-D convolution over NHWC inputs, stride 1, no padding; ``kernel`` is HWIO."""

    def __init__(
        self, in_channels: int, out_channels: int, kernel_size: int, *, rng: np.random.Generator | None = None
    ) -> None:
        fan_in = in_channels * kernel_size * kernel_size
        self.kernel = _uniform(rng, (kernel_size, kernel_size, in_channels, out_channels), fan_in)
        self.bias = _uniform(rng, (out_channels,), fan_in)

    def __call__(self, x: Array) -> Array:
        """The convolution of ``x`` (``[..., height, width, in_channels]``)."""
        height, width = self.kernel.shape[:2]
        windows = sliding_window_view(x, (height, width), axis=(-3, -2))  # [..., H', W', I, kh, kw]
        y: Array = np.einsum("...hwcij,ijco->...hwo", windows, self.kernel)
        return y + self.bias


class MultiHeadAttention(Module):
    """Dot-product attention with separate per-head projections, as Flax lays them out.

    ``query_kernel``, ``key_kernel`` and ``value_kernel`` are ``[embed_dim, num_heads, head_dim]`` with biases
    ``[num_heads, head_dim]``; ``out_kernel`` is ``[num_heads, head_dim, embed_dim]`` with ``out_bias``
    ``[embed_dim]``.
    """

    def __init__(self, embed_dim: int, num_heads: int, *, rng: np.random.Generator | None = None) -> None:
        if embed_dim % num_heads:
            raise ValueError(f"embed_dim={embed_dim} is not a multiple of num_heads={num_heads}")
        self.num_heads = num_heads
        self.head_dim = embed_dim // num_heads
        heads = (num_heads, self.head_dim)
        self.query_kernel = _uniform(rng, (embed_dim, *heads), embed_dim)
        self.query_bias = _uniform(rng, heads, embed_dim)
        self.key_kernel = _uniform(rng, (embed_dim, *heads), embed_dim)
        self.key_bias = _uniform(rng, heads, embed_dim)
        self.value_kernel = _uniform(rng, (embed_dim, *heads), embed_dim)
        self.value_bias = _uniform(rng, heads, embed_dim)
        self.out_kernel = _uniform(rng, (*heads, embed_dim), embed_dim)
        self.out_bias = _uniform(rng, (embed_dim,), embed_dim)

    def project(self, query: Array, key: Array, value: Array) -> tuple[Array, Array, Array]:
        """The per-head projections ``[..., length, num_heads, head_dim]`` of ``query``, ``key`` and ``value``."""
        q = np.einsum("...le,ehd->...lhd", query, self.query_kernel) + self.query_bias
        k = np.einsum("...le,ehd->...lhd", key, self.key_kernel) + self.key_bias
        v = np.einsum("...le,ehd->...lhd", value, self.value_kernel) + self.value_bias
        return q, k, v

    def __call__(self, query: Array, key: Array, value: Array) -> Array:
        """Attention of ``query`` (``[..., length, embed_dim]``) over ``key`` and ``value``."""
        q, k, v = self.project(query, key, value)
        scores = np.einsum("...lhd,...mhd->...hlm", q, k) / math.sqrt(self.head_dim)
        weights = np.exp(scores - scores.max(-1, keepdims=True))
        weights /= weights.sum(-1, keepdims=True)
        heads = np.einsum("...hlm,...mhd->...lhd", weights, v)
        out: Array = np.einsum("...lhd,hde->...le", heads, self.out_kernel) + self.out_bias
        return out
