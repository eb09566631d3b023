"""A checkpoint opened for loading: every tensor's shape and dtype from the headers, and a reader by name."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from safetensors import safe_open

from hubmixin_core._generated._options import DownloadOptions
from hubmixin_core.weights._check import read_tensor_infos
from hubmixin_core.weights._header import TensorInfo, read_header
from hubmixin_core.weights._metadata import check_layout_version
from hubmixin_core.weights._names import SAFETENSORS_INDEX_NAME
from hubmixin_core.weights._read import Index, read_numpy, read_numpy_slice, read_raw
from hubmixin_core.weights._resolve import WeightFiles, resolve_weight_files

__all__ = ["Checkpoint", "TensorReader", "open_checkpoint"]

TensorReader = Callable[[Sequence[str], str, str], dict[str, Any]]
"""``reader(names, framework, device)``: the named tensors as arrays of ``framework`` on ``device``."""


@dataclass(frozen=True)
class Checkpoint:
    """The tensors of a checkpoint: shapes and dtypes known before any data is read, and a reader.

    Attributes:
        infos: Shape and safetensors dtype of each tensor, by name.
        files: The file holding each tensor (named in error messages).
        description: The checkpoint as a whole: its single file, or its shard index.
        metadata: The ``__metadata__`` of the (first) safetensors header.
        reader: Reads tensors by name; ``None`` reads the safetensors files.

    Examples:
        >>> import numpy as np, tempfile
        >>> from safetensors.numpy import save_file
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     save_file({"w": np.eye(2, dtype=np.float32)}, f"{tmp}/model.safetensors", {"format": "pt"})
        ...     checkpoint = open_checkpoint(tmp)
        ...     checkpoint.infos["w"], checkpoint.metadata, checkpoint.read(["w"])["w"].sum()
        (TensorInfo(shape=(2, 2), dtype='F32'), {'format': 'pt'}, np.float32(2.0))
    """

    infos: dict[str, TensorInfo]
    files: dict[str, Path]
    description: str
    metadata: dict[str, str] = field(default_factory=dict)
    reader: TensorReader | None = None
    positions: dict[str, int] = field(default_factory=dict, repr=False)
    """Offset in its file of each tensor's first byte (safetensors files only)."""

    @classmethod
    def from_files(cls, weights: WeightFiles) -> Checkpoint:
        """The checkpoint made of ``weights`` (one safetensors file or shards), headers read, data not."""
        found = read_tensor_infos(weights)
        first = weights.files[0]
        description = str(first.parent / SAFETENSORS_INDEX_NAME) if weights.sharded else str(first)
        positions: dict[str, int] = {}
        for path in weights.files:
            header = read_header(path)
            positions.update({name: header.data_start + begin for name, (begin, _) in header.offsets.items()})
        metadata = read_header(first).metadata
        check_layout_version(metadata, description)
        return cls(
            {name: info for name, (info, _) in found.items()},
            {name: path for name, (_, path) in found.items()},
            description,
            metadata,
            positions=positions,
        )

    def source(self, name: str) -> str:
        """Where tensor ``name`` is (its file), else the whole checkpoint: for messages."""
        path = self.files.get(name)
        return str(path) if path is not None else self.description

    def read(self, names: Sequence[str], *, framework: str = "numpy", device: str = "cpu") -> dict[str, Any]:
        """The tensors ``names`` as ``framework`` arrays (``"numpy"``, ``"pt"``, ``"flax"``, ...) on ``device``.

        Safetensors files are memory-mapped and each file is opened once per call; torch tensors on CPU are
        not copied.
        """
        if self.reader is not None:
            return self.reader(names, framework, device)
        by_file: dict[Path, list[str]] = {}
        for name in names:
            by_file.setdefault(self.files[name], []).append(name)
        tensors: dict[str, Any] = {}
        for path, keys in by_file.items():
            if framework in ("numpy", "np"):
                tensors.update(read_numpy(path, keys))
                continue
            with safe_open(str(path), framework=framework, device=device) as f:
                for key in keys:
                    tensors[key] = f.get_tensor(key)
        return tensors

    def is_aligned(self, name: str, alignment: int = 64) -> bool:
        """Whether tensor ``name`` starts on an ``alignment``-byte boundary of its file (so when mapped)."""
        position = self.positions.get(name)
        return position is not None and position % alignment == 0

    def read_raw(self, names: Sequence[str]) -> dict[str, NDArray[np.uint8]]:
        """The stored bytes of tensors ``names``, each in a fresh 64-byte aligned ``uint8`` array.

        Raises:
            TypeError: the checkpoint has a custom reader (it is not safetensors files).
        """
        if self.reader is not None:
            raise TypeError(f"{self.description}: raw bytes are only read from safetensors files")
        by_file: dict[Path, list[str]] = {}
        for name in names:
            by_file.setdefault(self.files[name], []).append(name)
        raw: dict[str, NDArray[np.uint8]] = {}
        for path, keys in by_file.items():
            raw.update(read_raw(path, keys))
        return raw

    def read_slice(self, name: str, index: Index) -> NDArray[Any]:
        """``tensor[index]`` as a numpy array, for one contiguous slice per dimension (a device's shard).

        From safetensors files only the slice's rows are read, in bounded blocks; a custom reader reads the
        whole tensor, then slices it.
        """
        if self.reader is not None:
            array: NDArray[Any] = np.asarray(self.reader([name], "numpy", "cpu")[name])[index]
            return array
        return read_numpy_slice(self.files[name], name, index)


def open_checkpoint(model_id: str | Path, download: DownloadOptions | None = None) -> Checkpoint:
    """Open the safetensors checkpoint of ``model_id`` (a local directory or a repo id): one file or shards.

    Shards are downloaded in parallel; only the headers are read.

    Raises:
        WeightsNotFoundError: neither ``model.safetensors`` nor ``model.safetensors.index.json`` is there.
        WeightsFileError: a file is not valid safetensors.
        ShardIndexError: the index and the shards disagree.
    """
    return Checkpoint.from_files(resolve_weight_files(model_id, download))
