"""Opening a checkpoint: its tensors' shapes and dtypes, and a reader for their data.

Safetensors (one file or shards, local or from the Hub) are preferred; a legacy ``pytorch_model.bin`` is read
with ``torch.load(weights_only=True)``. See :func:`open_checkpoint`.
"""

from __future__ import annotations

import logging
import pickle
import zipfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import safe_open

from hubmixin_core import DownloadOptions, locate_file
from hubmixin_core.errors import WeightsFileError, WeightsNotFoundError
from hubmixin_core.weights import (
    PYTORCH_WEIGHTS_NAME,
    SAFETENSORS_INDEX_NAME,
    SAFETENSORS_SINGLE_FILE,
    TensorInfo,
    WeightFiles,
    read_tensor_infos,
    resolve_weight_files,
)
from hubmixin_torch._dtypes import _DTYPES, dtype_name

__all__ = ["Checkpoint", "open_checkpoint"]

logger = logging.getLogger("hubmixin_torch")


@dataclass(frozen=True)
class Checkpoint:
    """The tensors of a checkpoint: shapes and dtypes known without reading the data, and a reader.

    Attributes:
        infos: Shape and safetensors dtype of each tensor.
        files: The file holding each tensor (for messages).
        description: The checkpoint as a whole (the single file or the shard index).
        reader: Reads the named tensors onto a device.
    """

    infos: dict[str, TensorInfo]
    files: dict[str, str]
    description: str
    reader: Callable[[Sequence[str], torch.device], dict[str, torch.Tensor]]

    def read(self, names: Sequence[str], device: torch.device) -> dict[str, torch.Tensor]:
        """The tensors ``names``, on ``device`` (memory-mapped, not copied, on CPU; never read for ``meta``)."""
        if device.type == "meta":
            infos = {n: self.infos[n] for n in names}
            return {n: torch.empty(i.shape, dtype=_DTYPES[i.dtype], device=device) for n, i in infos.items()}
        return self.reader(names, device)


def _safetensors_checkpoint(weights: WeightFiles) -> Checkpoint:
    found = read_tensor_infos(weights)
    for name, (info, path) in found.items():
        if info.dtype not in _DTYPES:
            raise WeightsFileError(f"{path}: tensor {name!r} has dtype {info.dtype}, which this torch cannot hold")
    first = weights.files[0]
    description = str(first.parent / SAFETENSORS_INDEX_NAME) if weights.sharded else str(first)

    def read(names: Sequence[str], device: torch.device) -> dict[str, torch.Tensor]:
        by_file: dict[Path, list[str]] = {}
        for name in names:
            by_file.setdefault(found[name][1], []).append(name)
        tensors: dict[str, torch.Tensor] = {}
        for path, keys in by_file.items():
            with safe_open(str(path), framework="pt", device=str(device)) as f:
                for key in keys:
                    tensors[key] = f.get_tensor(key)
        return tensors

    return Checkpoint(
        {n: info for n, (info, _) in found.items()}, {n: str(p) for n, (_, p) in found.items()}, description, read
    )


def _pickle_checkpoint(path: Path, device: torch.device) -> Checkpoint:
    """A legacy ``pytorch_model.bin``, read with ``torch.load(weights_only=True)``: never a full unpickle."""
    mmap = zipfile.is_zipfile(path)  # torch >= 1.6 format; the older one cannot be memory-mapped
    try:
        state = torch.load(path, map_location=device, weights_only=True, mmap=mmap)
    except pickle.UnpicklingError as e:
        raise WeightsFileError(f"{path}: refusing to load: it holds more than tensors ({e})") from e
    except (RuntimeError, OSError, EOFError) as e:
        raise WeightsFileError(f"{path}: cannot read PyTorch checkpoint: {e}") from e
    if not isinstance(state, Mapping):
        raise WeightsFileError(f"{path}: expected a state dict, found a {type(state).__name__}")
    for key, value in state.items():
        if not isinstance(key, str) or not isinstance(value, torch.Tensor):
            raise WeightsFileError(f"{path}: entry {key!r} is a {type(value).__name__}, not a tensor")
    tensors: dict[str, torch.Tensor] = dict(state)

    def read(names: Sequence[str], device: torch.device) -> dict[str, torch.Tensor]:
        return {n: tensors[n] for n in names}

    infos = {n: TensorInfo(tuple(t.shape), dtype_name(t.dtype)) for n, t in tensors.items()}
    return Checkpoint(infos, dict.fromkeys(tensors, str(path)), str(path), read)


def open_checkpoint(model_id: str, options: DownloadOptions, device: torch.device) -> Checkpoint:
    """Find the weights of ``model_id`` (a local directory or a repo id): safetensors, else ``pytorch_model.bin``.

    Safetensors files (one, or shards downloaded in parallel) are only located here and their headers read;
    a legacy ``pytorch_model.bin`` is read with ``torch.load(weights_only=True, mmap=True)``.

    Raises:
        WeightsNotFoundError: none of ``model.safetensors``, ``model.safetensors.index.json`` and
            ``pytorch_model.bin`` is there.
        WeightsFileError: a file is not a valid checkpoint; a ``.bin`` holds more than tensors.
        ShardIndexError: the index and the shards disagree.
    """
    try:
        return _safetensors_checkpoint(resolve_weight_files(model_id, options))
    except WeightsNotFoundError as missing:
        legacy = locate_file(model_id, PYTORCH_WEIGHTS_NAME, options)
        if legacy is None:
            raise WeightsNotFoundError(
                f"{model_id}: no weights found: looked for {SAFETENSORS_SINGLE_FILE}, {SAFETENSORS_INDEX_NAME} "
                f"and {PYTORCH_WEIGHTS_NAME}"
            ) from missing
    logger.info("%s: no safetensors weights, reading legacy %s", model_id, legacy)
    return _pickle_checkpoint(legacy, device)
