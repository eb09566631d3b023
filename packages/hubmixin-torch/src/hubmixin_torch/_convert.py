"""Reader of PyTorch ``state_dict`` files for ``hubmixin convert`` (entry point ``hubmixin.converters:torch``)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import torch
from huggingface_hub.utils.tqdm import tqdm
from safetensors.torch import save_file

from hubmixin_core._convert import ConvertError, ConvertRequest
from hubmixin_core.errors import ShardIndexError
from hubmixin_core.weights import canonical_metadata, check_relative_path, save_safetensors
from hubmixin_torch._checkpoint import _pickle_checkpoint

__all__ = ["CONVERTER", "TorchStateDictConverter"]

_PROGRESS_FROM_BYTES = 100 * 2**20


class TorchStateDictConverter:
    """``torch.save(model.state_dict(), path)`` files: already PyTorch names and layouts; never unpickled."""

    framework = "torch"

    def accepts(self, source: Path) -> bool:
        """``.pt``, ``.pth`` and ``.bin`` files; shards by their ``pytorch_model.bin.index.json`` or its folder."""
        if source.is_dir():
            return (source / _INDEX).is_file()
        return source.is_file() and (
            source.suffix in (".pt", ".pth", ".bin") or source.name.endswith(".bin.index.json")
        )

    def convert(self, request: ConvertRequest, output: Path) -> None:
        """Read the tensors with ``torch.load(weights_only=True)`` and write them as canonical safetensors."""
        state = _read_state(request.source)
        names = list(state)
        total = sum(t.numel() * t.element_size() for t in state.values())
        shown = request.progress and total >= _PROGRESS_FROM_BYTES
        tensors: dict[str, torch.Tensor] = {}
        seen: set[int] = set()
        with tqdm(  # type: ignore[no-untyped-call]
            total=total, unit="B", unit_scale=True, desc=request.source.name, disable=not shown
        ) as bar:
            for name in names:
                tensor = state[name].detach().contiguous()
                if tensor.untyped_storage().data_ptr() in seen:  # tied weights: safetensors stores each once
                    tensor = tensor.clone()
                seen.add(tensor.untyped_storage().data_ptr())
                tensors[name] = tensor
                bar.update(tensor.numel() * tensor.element_size())
        save_safetensors(
            tensors,
            output,
            save_file=save_file,
            nbytes=lambda t: t.numel() * t.element_size(),
            max_shard_size=request.max_shard_size,
            metadata=canonical_metadata("torch"),
        )


_INDEX = "pytorch_model.bin.index.json"
_SHARD = re.compile(r"-(\d+)-of-(\d+)\.bin$")


def _read_state(source: Path) -> dict[str, torch.Tensor]:
    """The tensors of a state-dict file, or of every shard an index (or the folder holding it) names."""
    index = source / _INDEX if source.is_dir() else source
    if not index.name.endswith(".bin.index.json"):
        shard = _SHARD.search(source.name)
        if shard is not None and int(shard[2]) > 1:
            raise ConvertError(f"{source}: one shard of {int(shard[2])}: convert its folder or its {_INDEX}")
        checkpoint = _pickle_checkpoint(source, torch.device("cpu"))  # typed error for anything else
        read: dict[str, torch.Tensor] = checkpoint.read(list(checkpoint.infos), framework="pt")
        return read
    try:
        weight_map = json.loads(index.read_text(encoding="utf-8"))["weight_map"]
        files = sorted(set(weight_map.values()))
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise ShardIndexError(f"{index}: not a shard index ({type(error).__name__}: {error})") from None
    state: dict[str, torch.Tensor] = {}
    for name in files:
        check_relative_path(name, str(index))
        checkpoint = _pickle_checkpoint(index.parent / name, torch.device("cpu"))
        state.update(checkpoint.read(list(checkpoint.infos), framework="pt"))
    if state.keys() != weight_map.keys():
        gone, extra = sorted(weight_map.keys() - state.keys())[:5], sorted(state.keys() - weight_map.keys())[:5]
        raise ShardIndexError(f"{index}: index and shards disagree: indexed but absent {gone}, unindexed {extra}")
    return state


CONVERTER = TorchStateDictConverter()
"""The instance registered under ``hubmixin.converters``."""
