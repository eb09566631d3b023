"""Saving: a module's state dict to safetensors files (one, or shards plus an index). See :func:`save_module`."""

from __future__ import annotations

from pathlib import Path

import torch

from hubmixin_core.errors import WeightsError, format_names
from hubmixin_core.weights import TensorInfo, canonical_metadata, settings_metadata, write_safetensors
from hubmixin_torch._dtypes import check_dtype_argument, check_savable, dtype_name, target_dtype
from hubmixin_torch._settings import model_settings

__all__ = ["save_module"]


def save_module(
    module: torch.nn.Module,
    directory: Path,
    *,
    max_shard_size: int | str | None = None,
    dtype: torch.dtype | None = None,
) -> list[str]:
    """Write ``module``'s state dict into ``directory`` as ``model.safetensors``, or as shards plus an index.

    Tensors that are the same memory (tied weights: same storage, offset, shape, strides and dtype) are stored
    once, under the first name in sorted order (the one ``safetensors.torch.save_model`` keeps); each dropped name
    is recorded in the header metadata as ``{dropped: kept}``, as ``save_model`` does. Other tensors that only
    overlap (a buffer viewing part of a parameter) are stored each on its own, so none loses its values. The
    header metadata also holds ``{"format": "pt"}``, which transformers requires.

    Args:
        module: The module to save.
        directory: An existing, empty directory.
        max_shard_size: Largest file, in bytes or as ``"5GB"``; ``None`` writes one file.
        dtype: Floating-point dtype to save floating tensors as; ``None`` keeps each tensor's dtype.

    Returns:
        The names of the files written, index last.

    Raises:
        WeightsError: a state-dict entry is not a tensor, is on the meta device (it holds no data), or has a dtype
            safetensors cannot store (``torch.complex128`` ...); nothing is written.
        TypeError: ``dtype`` is not a floating-point ``torch.dtype``.
    """
    dtype = check_dtype_argument(dtype)
    state = module.state_dict()
    owner = type(module).__qualname__
    for name, tensor in state.items():
        if not isinstance(tensor, torch.Tensor):
            raise WeightsError(f"{owner}: state dict entry {name!r} is a {type(tensor).__name__}, not a tensor")
    on_meta = [name for name, tensor in state.items() if tensor.is_meta]
    if on_meta:
        raise WeightsError(
            f"{owner}: cannot save tensors {format_names(on_meta)}: on the meta device they hold no data"
        )
    check_savable(state, dtype, owner)
    metadata = {**canonical_metadata("torch"), **settings_metadata(model_settings(module, dtype))}
    for kept, dropped in _tied_names(state).items():
        for name in dropped:
            metadata.setdefault(name, kept)
            del state[name]

    infos = {name: TensorInfo(tuple(t.shape), dtype_name(target_dtype(t, dtype))) for name, t in state.items()}

    def data(name: str) -> object:
        # Converted one tensor at a time: a cast to another dtype costs one tensor of memory.
        tensor = state[name].detach().to(device="cpu", dtype=target_dtype(state[name], dtype)).contiguous()
        return tensor.reshape(-1).view(torch.uint8).numpy()

    return write_safetensors(directory, infos, data, max_shard_size=max_shard_size, metadata=metadata)


def _tied_names(state: dict[str, torch.Tensor]) -> dict[str, list[str]]:
    """``{kept: [dropped, ...]}`` for the tensors of ``state`` that are the same memory seen the same way."""
    groups: dict[tuple[object, ...], list[str]] = {}
    for name, tensor in state.items():
        if tensor.numel() == 0:
            continue  # nothing to share
        key = (tensor.device, tensor.data_ptr(), tensor.dtype, tuple(tensor.shape), tensor.stride())
        groups.setdefault(key, []).append(name)
    return {names[0]: names[1:] for names in map(sorted, groups.values()) if len(names) > 1}
