"""Writing tensors as one safetensors file or as shards with an index, for any framework."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar, cast

import numpy as np

from hubmixin_core._atomic import new_file_mode
from hubmixin_core.weights._index import ShardIndex
from hubmixin_core.weights._names import (
    SAFETENSORS_INDEX_NAME,
    SAFETENSORS_SINGLE_FILE,
    check_tensor_names,
    shard_file_name,
)
from hubmixin_core.weights._size import parse_size

__all__ = ["SaveFile", "plan_shards", "save_safetensors"]

T = TypeVar("T")

SaveFile = Callable[[dict[str, T], str, dict[str, str] | None], None]
"""A framework's ``safetensors.<framework>.save_file(tensors, filename, metadata)``."""


def plan_shards(sizes: Sequence[tuple[str, int]], max_shard_size: int | str) -> list[list[str]]:
    """Group tensor names into shards of at most ``max_shard_size`` bytes, keeping their order.

    A tensor larger than the limit gets a shard of its own (as in transformers).

    Examples:
        >>> plan_shards([("a", 6), ("b", 6), ("c", 3)], 10)
        [['a'], ['b', 'c']]
    """
    limit = parse_size(max_shard_size)
    shards: list[list[str]] = []
    current: list[str] = []
    used = 0
    for name, size in sizes:
        if current and used + size > limit:
            shards.append(current)
            current, used = [], 0
        current.append(name)
        used += size
    if current or not shards:
        shards.append(current)
    return shards


def save_safetensors(
    tensors: Mapping[str, T],
    directory: str | Path,
    *,
    save_file: SaveFile[T],
    nbytes: Callable[[T], int],
    max_shard_size: int | str | None = None,
    metadata: dict[str, str] | None = None,
) -> list[str]:
    """Write ``tensors`` to ``directory`` as ``model.safetensors``, or as shards plus an index.

    A tensor whose elements are not laid out densely in row-major order (a transposed or sliced numpy array, a
    ``torch`` view) is written from a contiguous copy: safetensors' numpy writer copies the array's memory as it
    lies, which would write its elements in the wrong order (or memory past its end, for a negative stride).

    Args:
        tensors: Name to tensor, in the framework's own tensor type.
        directory: An existing directory.
        save_file: The framework's safetensors writer.
        nbytes: Size in bytes of one tensor.
        max_shard_size: Largest shard (``"5GB"``, ``"500MiB"``, or bytes); ``None`` writes one file.
        metadata: String metadata for every file's header (``{"format": "pt"}``).

    Returns:
        The file names written, index last.
    """
    directory = Path(directory)
    check_tensor_names(tensors)
    tensors = {name: _contiguous(t) for name, t in tensors.items()}
    sizes = [(name, nbytes(t)) for name, t in tensors.items()]
    groups = [list(tensors)] if max_shard_size is None else plan_shards(sizes, max_shard_size)
    mode = new_file_mode()  # safetensors creates its files 0600 (a temporary file renamed): the save's, as the rest
    if len(groups) == 1:
        save_file(dict(tensors), str(directory / SAFETENSORS_SINGLE_FILE), metadata)
        (directory / SAFETENSORS_SINGLE_FILE).chmod(mode)
        return [SAFETENSORS_SINGLE_FILE]
    weight_map: dict[str, str] = {}
    written = []
    for number, names in enumerate(groups, start=1):
        filename = shard_file_name(number, len(groups))
        save_file({n: tensors[n] for n in names}, str(directory / filename), metadata)
        (directory / filename).chmod(mode)
        weight_map.update(dict.fromkeys(names, filename))
        written.append(filename)
    total = sum(size for _, size in sizes)
    ShardIndex.of_shards(weight_map, total, metadata).write(directory / SAFETENSORS_INDEX_NAME)
    return [*written, SAFETENSORS_INDEX_NAME]


def _contiguous(tensor: T) -> T:
    """``tensor``, or a row-major contiguous copy of it where it is not laid out so (numpy's ``flags``, torch's
    ``is_contiguous()``); a tensor of another kind (JAX, TensorFlow: dense by construction) as it is."""
    if isinstance(tensor, np.ndarray):
        return tensor if tensor.flags.c_contiguous else cast(T, np.ascontiguousarray(tensor))
    is_contiguous: Any = getattr(tensor, "is_contiguous", None)
    if callable(is_contiguous) and callable(getattr(tensor, "contiguous", None)) and is_contiguous() is False:
        return cast(T, tensor.contiguous())  # type: ignore[attr-defined]
    return tensor
