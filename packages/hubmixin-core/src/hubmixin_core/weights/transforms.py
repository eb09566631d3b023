"""The array transforms of layout adapters, written once, for numpy arrays and for header entries alike.

Each function takes either numpy arrays or :class:`~hubmixin_core.weights.TensorInfo` values (shape and dtype
only) and returns the same kind. An adapter written with them therefore maps a layer's tensors and, run on the
infos from a checkpoint header or a model, their shapes and dtypes before any data is read; a transform the
shapes do not allow raises :class:`~hubmixin_core.errors.LayoutError` for both kinds alike.

Examples:
    >>> import numpy as np
    >>> from hubmixin_core.weights import TensorInfo
    >>> from hubmixin_core.weights.transforms import split, transpose
    >>> transpose(TensorInfo((3, 4, 5, 6), "F32"), (3, 2, 0, 1))
    TensorInfo(shape=(6, 5, 3, 4), dtype='F32')
    >>> [part.shape for part in split(np.zeros((6, 2)), 3)]
    [(2, 2), (2, 2), (2, 2)]
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from typing import Any, TypeVar

import numpy as np
from numpy.typing import NDArray

from hubmixin_core.errors import LayoutError
from hubmixin_core.weights._dtypes import dtype_name, is_floating, numpy_dtype
from hubmixin_core.weights._header import TensorInfo

__all__ = ["T", "add", "concat", "inverse_axes", "reshape", "split", "transpose", "zeros_like"]

T = TypeVar("T", NDArray[Any], TensorInfo)
"""A numpy array, or a tensor's shape and dtype."""


def inverse_axes(axes: Sequence[int]) -> tuple[int, ...]:
    """The permutation that undoes ``transpose(x, axes)``.

    Examples:
        >>> inverse_axes((2, 3, 1, 0))
        (3, 2, 0, 1)
    """
    inverse = [0] * len(axes)
    for position, axis in enumerate(axes):
        inverse[axis] = position
    return tuple(inverse)


def transpose(x: T, axes: Sequence[int]) -> T:
    """``x`` with its axes permuted (``numpy.transpose``)."""
    if sorted(axes) != list(range(len(x.shape))):
        raise LayoutError(f"cannot transpose a tensor of shape {tuple(x.shape)} with axes {tuple(axes)}")
    if isinstance(x, TensorInfo):
        return TensorInfo(tuple(x.shape[a] for a in axes), x.dtype)
    return np.ascontiguousarray(np.transpose(x, tuple(axes)))


def reshape(x: T, shape: Sequence[int]) -> T:
    """``x`` with another shape of the same size; one dimension may be ``-1`` (not with a zero-size target, where
    it is ambiguous; numpy refuses it too)."""
    size = math.prod(x.shape)
    known = math.prod(d for d in shape if d != -1)
    resolved = tuple(size // known if d == -1 and known else d for d in shape)
    unknown = list(shape).count(-1)
    if any(d < -1 for d in shape) or unknown > 1 or (unknown and not known) or math.prod(resolved) != size:
        raise LayoutError(f"cannot reshape a tensor of shape {tuple(x.shape)} to {tuple(shape)}")
    if isinstance(x, TensorInfo):
        return TensorInfo(resolved, x.dtype)
    return x.reshape(resolved)


def split(x: T, sections: int | Sequence[int], axis: int = 0) -> list[T]:
    """``x`` cut along ``axis`` into ``sections`` equal parts, or into parts of the given sizes."""
    length = x.shape[axis]
    if isinstance(sections, int):
        if sections <= 0 or length % sections:
            raise LayoutError(f"cannot split axis {axis} of shape {tuple(x.shape)} into {sections} equal parts")
        sizes = [length // sections] * sections
    else:
        sizes = list(sections)
        if sum(sizes) != length:
            raise LayoutError(f"cannot split axis {axis} of shape {tuple(x.shape)} into parts {sizes}")
    if isinstance(x, TensorInfo):
        return [TensorInfo(_with(x.shape, axis, size), x.dtype) for size in sizes]
    bounds = np.cumsum(sizes)[:-1]
    return [np.ascontiguousarray(part) for part in np.split(x, bounds, axis=axis)]


def concat(xs: Sequence[T], axis: int = 0) -> T:
    """The tensors ``xs`` joined along ``axis`` (all other dimensions equal).

    Tensors of one dtype keep it; floating tensors of several (torch's two recurrent biases, each converted on its
    own by a non-strict load) are joined in the dtype that holds them all exactly.
    """
    first = xs[0]
    names = [_dtype_name(x) for x in xs]
    floating = all(is_floating(name) for name in names)
    for other, name in zip(xs[1:], names[1:], strict=True):
        same_rest = _with(other.shape, axis, 0) == _with(first.shape, axis, 0)
        if not same_rest or (name != names[0] and not floating):
            raise LayoutError(
                f"cannot join tensors of shapes {[tuple(x.shape) for x in xs]} "
                f"and dtypes {[_dtype(x) for x in xs]} along axis {axis}"
            )
    dtype = functools.reduce(np.promote_types, [numpy_dtype(name) for name in set(names)])
    if isinstance(first, TensorInfo):
        return TensorInfo(_with(first.shape, axis, sum(x.shape[axis] for x in xs)), dtype_name(dtype))
    return np.concatenate([x.astype(dtype, copy=False) for x in xs], axis=axis)


def add(a: T, b: T) -> T:
    """The elementwise sum of two tensors of one shape (two biases folded into one).

    Floating tensors are added in float32 at least (float64 stays float64), whatever their dtypes: the sum of two
    half-precision biases is then exact before it is cast to the model's dtype, as a float32 torch model adds
    them (rounding it in the file's dtype would lose up to one unit of its last place). Other tensors must have
    one dtype, which the sum keeps.

    Examples:
        >>> add(TensorInfo((4,), "BF16"), TensorInfo((4,), "F16"))
        TensorInfo(shape=(4,), dtype='F32')
    """
    if tuple(a.shape) != tuple(b.shape):
        raise LayoutError(f"cannot add tensors of shapes {tuple(a.shape)} and {tuple(b.shape)}")
    dtype = _sum_dtype(_dtype_name(a), _dtype_name(b))
    if isinstance(a, TensorInfo):
        return TensorInfo(a.shape, dtype_name(dtype))
    total: NDArray[Any] = np.add(a.astype(dtype, copy=False), b.astype(dtype, copy=False))
    return total


def zeros_like(x: T) -> T:
    """A tensor of zeros with the shape and dtype of ``x`` (the half of a folded bias that is written as 0)."""
    if isinstance(x, TensorInfo):
        return x
    return np.zeros_like(x)


def _with(shape: Sequence[int], axis: int, size: int) -> tuple[int, ...]:
    dims = list(shape)
    dims[axis] = size
    return tuple(dims)


def _dtype(x: NDArray[Any] | TensorInfo) -> str:
    return x.dtype if isinstance(x, TensorInfo) else str(x.dtype)


def _dtype_name(x: NDArray[Any] | TensorInfo) -> str:
    return x.dtype if isinstance(x, TensorInfo) else dtype_name(x.dtype)


def _sum_dtype(a: str, b: str) -> np.dtype[Any]:
    """The dtype two tensors of safetensors dtypes ``a`` and ``b`` are added in."""
    if is_floating(a) and is_floating(b):
        return np.promote_types(np.promote_types(np.float32, numpy_dtype(a)), numpy_dtype(b))
    if a != b:
        raise LayoutError(f"cannot add tensors of dtypes {a} and {b}")
    return numpy_dtype(a)
