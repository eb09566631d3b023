"""Reader of PyTorch ``state_dict`` files for ``hubmixin convert`` (entry point ``hubmixin.converters:torch``)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import torch
from numpy.typing import NDArray

from hubmixin_core._convert import ConvertError, ConvertProgress, ConvertRequest
from hubmixin_core.errors import ShardIndexError
from hubmixin_core.weights import (
    PYTORCH_WEIGHTS_NAME,
    ShardIndex,
    TensorInfo,
    canonical_metadata,
    write_safetensors,
)
from hubmixin_core.weights._resolve import TORCH_SUFFIXES
from hubmixin_torch._checkpoint import _pickle_checkpoint
from hubmixin_torch._dtypes import check_savable, dtype_name
from hubmixin_torch._save import drop_tied

__all__ = ["CONVERTER", "TorchStateDictConverter"]


class TorchStateDictConverter:
    """``torch.save(model.state_dict(), path)`` files: already PyTorch names and layouts; never unpickled."""

    framework = "torch"

    def accepts(self, source: Path) -> bool:
        """``.pt``, ``.pth`` and ``.bin`` files; shards by their ``pytorch_model.bin.index.json``; a folder holding
        that index or a ``pytorch_model.bin``."""
        if source.is_dir():
            return (source / _INDEX).is_file() or (source / PYTORCH_WEIGHTS_NAME).is_file()
        return source.is_file() and (source.suffix in TORCH_SUFFIXES or source.name.endswith(".bin.index.json"))

    def convert(self, request: ConvertRequest, output: Path) -> None:
        """Read the tensors with ``torch.load(weights_only=True)`` (memory-mapped where the file allows) and write
        them one at a time as canonical safetensors: tied tensors (one storage, seen the same way) once, their
        dropped names recorded in the metadata, as ``save_pretrained`` writes them."""
        state = {name: tensor.detach() for name, tensor in _read_state(request.source).items()}
        check_savable(state, None, str(request.source))
        metadata = canonical_metadata("torch")
        drop_tied(state, metadata)  # torch.load keeps tied tensors on one storage: written once, as save_pretrained
        infos = {name: TensorInfo(tuple(tensor.shape), dtype_name(tensor.dtype)) for name, tensor in state.items()}
        total = sum(tensor.numel() * tensor.element_size() for tensor in state.values())
        with ConvertProgress(request, output, reads=total) as progress:
            write_safetensors(
                output,
                infos,
                lambda name: progress.copy(_flat_bytes(state.pop(name))),
                max_shard_size=request.max_shard_size,
                metadata=metadata,
            )


def _flat_bytes(tensor: torch.Tensor) -> NDArray[np.uint8]:
    """The tensor's data in C order as a flat ``uint8`` array (a view where it is contiguous)."""
    flat: NDArray[np.uint8] = tensor.contiguous().reshape(-1).view(torch.uint8).numpy()
    return flat


_INDEX = "pytorch_model.bin.index.json"
_SHARD = re.compile(r"-(\d+)-of-(\d+)\.bin$")


def _read_state(source: Path) -> dict[str, torch.Tensor]:
    """The tensors of a state-dict file, or of every shard an index (or the folder holding it) names, or of a
    folder's ``pytorch_model.bin``."""
    if source.is_dir() and not (source / _INDEX).is_file():
        source = source / PYTORCH_WEIGHTS_NAME
    index = source / _INDEX if source.is_dir() else source
    if not index.name.endswith(".bin.index.json"):
        shard = _SHARD.search(source.name)
        if shard is not None and int(shard[2]) > 1:
            raise ConvertError(f"{source}: one shard of {int(shard[2])}: convert its folder or its {_INDEX}")
        checkpoint = _pickle_checkpoint(source, torch.device("cpu"))  # typed error for anything else
        read: dict[str, torch.Tensor] = checkpoint.read(list(checkpoint.infos), framework="pt")
        return read
    weight_map = ShardIndex.read(index).weight_map  # (its shard names checked, as a load checks them)
    state: dict[str, torch.Tensor] = {}
    for name in sorted(set(weight_map.values())):
        checkpoint = _pickle_checkpoint(index.parent / name, torch.device("cpu"))
        state.update(checkpoint.read(list(checkpoint.infos), framework="pt"))
    if state.keys() != weight_map.keys():
        gone, extra = sorted(weight_map.keys() - state.keys())[:5], sorted(state.keys() - weight_map.keys())[:5]
        raise ShardIndexError(f"{index}: index and shards disagree: indexed but absent {gone}, unindexed {extra}")
    return state


CONVERTER = TorchStateDictConverter()
"""The instance registered under ``hubmixin.converters``."""
