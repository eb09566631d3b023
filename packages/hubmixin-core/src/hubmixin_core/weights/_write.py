"""Writing safetensors files tensor by tensor, laid out so that tensors are 64-byte aligned when mapped.

The header is padded with spaces (as the format allows) so that the data starts on a 64-byte boundary, and the
tensors whose size is a multiple of 64 bytes are written first: each of them is then aligned in a memory-mapped
file, which is what CPU kernels need to compute exactly as on freshly allocated memory. Each tensor's bytes are
asked for only when written, so a framework can convert (transpose, cast) one tensor at a time.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from hubmixin_core.errors import HubMixinOSError, HubMixinValueError, WeightsError
from hubmixin_core.weights._header import DTYPE_SIZES, TensorInfo
from hubmixin_core.weights._index import ShardIndex
from hubmixin_core.weights._names import (
    SAFETENSORS_INDEX_NAME,
    SAFETENSORS_SINGLE_FILE,
    check_tensor_names,
    shard_file_name,
)
from hubmixin_core.weights._save import plan_shards

__all__ = ["ALIGNMENT", "TensorBytes", "write_safetensors"]

ALIGNMENT = 64
"""Byte alignment of the data start, and of every tensor whose size is a multiple of it."""

TensorBytes = Callable[[str], Any]
"""``data(name)``: the bytes of tensor ``name`` in C order, as any buffer (a ``uint8`` numpy view, ``bytes``)."""


def _layout(infos: Mapping[str, TensorInfo]) -> list[str]:
    aligned = [name for name, info in infos.items() if info.nbytes % ALIGNMENT == 0]
    return aligned + sorted((n for n in infos if infos[n].nbytes % ALIGNMENT), key=lambda n: -infos[n].nbytes)


def _header(infos: Mapping[str, TensorInfo], order: list[str], metadata: Mapping[str, str] | None) -> bytes:
    entries: dict[str, Any] = {"__metadata__": dict(metadata)} if metadata else {}
    offset = 0
    for name in order:
        info = infos[name]
        entries[name] = {"dtype": info.dtype, "shape": list(info.shape), "data_offsets": [offset, offset + info.nbytes]}
        offset += info.nbytes
    text = json.dumps(entries, separators=(",", ":")).encode()
    return text + b" " * (-(8 + len(text)) % ALIGNMENT)


def _write_file(
    path: Path, infos: Mapping[str, TensorInfo], data: TensorBytes, metadata: Mapping[str, str] | None
) -> None:
    order = _layout(infos)
    header = _header(infos, order, metadata)
    try:
        with path.open("wb") as f:
            f.write(struct.pack("<Q", len(header)))
            f.write(header)
            for name in order:
                view = memoryview(data(name)).cast("B")
                if view.nbytes != infos[name].nbytes:
                    raise HubMixinValueError(
                        f"tensor {name!r}: {view.nbytes} bytes given, its header says {infos[name].nbytes}"
                    )
                f.write(view)
                del view
    except OSError as error:  # a full disk, a quota, a file-size limit: named with the file being written
        if isinstance(error, HubMixinOSError):
            raise
        raise HubMixinOSError(error.errno, f"cannot write {path.name}: {error.strerror or error}") from error


def write_safetensors(
    directory: str | Path,
    infos: Mapping[str, TensorInfo],
    data: TensorBytes,
    *,
    max_shard_size: int | str | None = None,
    metadata: Mapping[str, str] | None = None,
) -> list[str]:
    """Write tensors as ``model.safetensors``, or as shards plus ``model.safetensors.index.json``.

    Args:
        directory: An existing directory.
        infos: Every tensor's shape and safetensors dtype, by name (the shard plan keeps this order).
        data: Gives one tensor's bytes when it is written; called once per tensor.
        max_shard_size: Largest shard (``"5GB"``, or bytes); ``None`` writes one file.
        metadata: String metadata of every file's header.

    Returns:
        The file names written, index last.

    Raises:
        WeightsError: a tensor's dtype is not a safetensors dtype, or it is named ``__metadata__`` (the tensor is
            named; nothing is written).

    Examples:
        >>> import numpy as np, tempfile
        >>> from safetensors.numpy import load_file
        >>> arrays = {"w": np.eye(4, dtype=np.float32), "b": np.ones(3, np.float32)}
        >>> infos = {k: TensorInfo(a.shape, "F32") for k, a in arrays.items()}
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     write_safetensors(tmp, infos, lambda name: arrays[name].view(np.uint8), metadata={"format": "pt"})
        ...     sorted(load_file(f"{tmp}/model.safetensors"))
        ['model.safetensors']
        ['b', 'w']
    """
    directory = Path(directory)
    names = list(infos)
    check_tensor_names(names)  # checked before any file is written
    for name in names:
        if infos[name].dtype not in DTYPE_SIZES:
            raise WeightsError(
                f"cannot save tensor {name!r}: its dtype {infos[name].dtype} is not a safetensors dtype name "
                f"(those are {', '.join(DTYPE_SIZES)})"
            )
    if max_shard_size is None:
        groups = [names]
    else:
        groups = plan_shards([(name, infos[name].nbytes) for name in names], max_shard_size)
    if len(groups) == 1:
        _write_file(directory / SAFETENSORS_SINGLE_FILE, infos, data, metadata)
        return [SAFETENSORS_SINGLE_FILE]
    weight_map: dict[str, str] = {}
    written = []
    for number, group in enumerate(groups, start=1):
        filename = shard_file_name(number, len(groups))
        _write_file(directory / filename, {name: infos[name] for name in group}, data, metadata)
        weight_map.update(dict.fromkeys(group, filename))
        written.append(filename)
    total = sum(info.nbytes for info in infos.values())
    ShardIndex.of_shards(weight_map, total, metadata).write(directory / SAFETENSORS_INDEX_NAME)
    return [*written, SAFETENSORS_INDEX_NAME]
