"""Reader of PyTorch ``state_dict`` files for ``hubmixin convert`` (entry point ``hubmixin.converters:torch``)."""

from __future__ import annotations

from pathlib import Path

import torch
from huggingface_hub.utils.tqdm import tqdm
from safetensors.torch import save_file

from hubmixin_core._convert import ConvertRequest
from hubmixin_core.weights import canonical_metadata, save_safetensors
from hubmixin_torch._checkpoint import _pickle_checkpoint

__all__ = ["CONVERTER", "TorchStateDictConverter"]

_PROGRESS_FROM_BYTES = 100 * 2**20


class TorchStateDictConverter:
    """``torch.save(model.state_dict(), path)`` files: already PyTorch names and layouts; never unpickled."""

    framework = "torch"

    def accepts(self, source: Path) -> bool:
        """``.pt``, ``.pth`` and ``.bin`` files."""
        return source.is_file() and source.suffix in (".pt", ".pth", ".bin")

    def convert(self, request: ConvertRequest, output: Path) -> None:
        """Read the tensors with ``torch.load(weights_only=True)`` and write them as canonical safetensors."""
        checkpoint = _pickle_checkpoint(request.source, torch.device("cpu"))  # typed error for anything else
        names = list(checkpoint.infos)
        state = checkpoint.read(names, framework="pt")
        total = sum(info.nbytes for info in checkpoint.infos.values())
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


CONVERTER = TorchStateDictConverter()
"""The instance registered under ``hubmixin.converters``."""
