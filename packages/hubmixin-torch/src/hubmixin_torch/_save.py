"""Saving: a module's state dict to safetensors files (one, or shards plus an index). See :func:`save_module`."""

from __future__ import annotations

from pathlib import Path

import torch
from torch.nn.parameter import UninitializedBuffer, UninitializedParameter

from hubmixin_core.errors import WeightsError, format_names
from hubmixin_core.weights import TensorInfo, canonical_metadata, settings_metadata, write_safetensors
from hubmixin_torch._dtypes import check_dtype_argument, check_savable, dtype_name, target_dtype
from hubmixin_torch._load import named_tensors
from hubmixin_torch._settings import model_settings

__all__ = ["drop_tied", "save_module"]


def save_module(
    module: torch.nn.Module,
    directory: Path,
    *,
    max_shard_size: int | str | None = None,
    dtype: torch.dtype | None = None,
) -> list[str]:
    """Write ``module``'s state dict into ``directory`` as ``model.safetensors``, or as shards plus an index.

    Tensors that are the same memory seen the same way (tied weights: same storage, offset, shape, strides, dtype
    and conjugate and negative bits) are stored once, under the first name in sorted order (the one
    ``safetensors.torch.save_model`` keeps); each dropped name is recorded in the header metadata as
    ``{dropped: kept}``, as ``save_model`` does. Other tensors that only overlap (a buffer viewing part of a
    parameter) are stored each on its own, so none loses its values. The header metadata also holds
    ``{"format": "pt"}``, which transformers requires.

    Args:
        module: The module to save.
        directory: An existing, empty directory.
        max_shard_size: Largest file, in bytes or as ``"5GB"``; ``None`` writes one file.
        dtype: Floating-point dtype to save floating tensors as; ``None`` keeps each tensor's dtype.

    Returns:
        The names of the files written, index last.

    Raises:
        WeightsError: a state-dict entry is not a tensor, holds no data (on the meta device, a lazy module's
            before its first call), is not dense (sparse, nested), or has a dtype hubmixin does not store
            (``torch.complex128``, float4); nothing is written.
        TypeError: ``dtype`` is not a floating-point ``torch.dtype``.
    """
    dtype = check_dtype_argument(dtype)
    state = module.state_dict()
    owner = type(module).__qualname__
    extra = _extra_state_names(module, state)
    for name, tensor in state.items():
        if not isinstance(tensor, torch.Tensor):
            raise WeightsError(_not_a_tensor(module, name, tensor, extra))
    _check_data(state, owner)
    check_savable(state, dtype, owner)
    metadata = {**canonical_metadata("torch"), **settings_metadata(model_settings(module, dtype))}
    drop_tied(state, metadata)

    # Extra state is saved as get_extra_state made it, as from_pretrained(dtype=) hands it back as the file holds it.
    dtypes = {name: t.dtype if name in extra else target_dtype(t, dtype) for name, t in state.items()}
    infos = {name: TensorInfo(tuple(t.shape), dtype_name(dtypes[name])) for name, t in state.items()}

    def data(name: str) -> object:
        # Converted one tensor at a time: a cast to another dtype costs one tensor of memory.
        tensor = state[name].detach().to(device="cpu", dtype=dtypes[name])
        tensor = tensor.resolve_conj().resolve_neg().contiguous()  # a conj or neg view: the values it shows
        return tensor.reshape(-1).view(torch.uint8).numpy()

    return write_safetensors(directory, infos, data, max_shard_size=max_shard_size, metadata=metadata)


def _extra_state_names(module: torch.nn.Module, state: dict[str, object]) -> set[str]:
    """The entries of ``state`` that are modules' extra state (``get_extra_state``), not parameters or buffers."""
    ending = [n for n in state if n.rpartition(".")[2] == "_extra_state"]
    return set(ending) - named_tensors(module).keys() if ending else set()


def _not_a_tensor(module: torch.nn.Module, name: str, value: object, extra: set[str]) -> str:
    """Why the state-dict entry ``name`` (``value``, no tensor) cannot be saved, and what to do."""
    owner = type(module).__qualname__
    if name not in extra:
        return f"{owner}: state dict entry {name!r} is a {type(value).__name__}, not a tensor"
    path = name.rpartition(".")[0]
    where = f"module {path!r} ({type(module.get_submodule(path)).__qualname__})" if path else owner
    return (
        f"{owner}: the extra state of {where}, saved as {name!r}, is a {type(value).__name__}, not a tensor: "
        "safetensors holds tensors only. Make its get_extra_state return a tensor (the state encoded into a "
        "torch.uint8 tensor, as TransformerEngine does) and its set_extra_state decode it"
    )


def _check_data(state: dict[str, torch.Tensor], owner: str) -> None:
    """Refuse tensors that hold no data (on the meta device, a lazy module's before its first call) or whose data
    is not one dense array (sparse, nested): a WeightsError naming them, before anything is written."""
    problems = {
        "on the meta device they hold no data": [n for n, t in state.items() if t.is_meta],
        "a lazy module not yet called, they hold no data (run a forward pass first)": [
            n for n, t in state.items() if isinstance(t, UninitializedParameter | UninitializedBuffer)
        ],
        "safetensors stores dense tensors only (save `tensor.to_dense()`, or register it non-persistent)": [
            n for n, t in state.items() if t.layout != torch.strided or t.is_nested
        ],
    }
    for reason, names in problems.items():
        if names:
            raise WeightsError(f"{owner}: cannot save tensors {format_names(names)}: {reason}")


def drop_tied(state: dict[str, torch.Tensor], metadata: dict[str, str]) -> None:
    """Keep one name of each group of tensors of ``state`` that are the same memory seen the same way (tied), the
    first in sorted order, as ``safetensors.torch.save_model`` does: delete the others from ``state`` and record
    each in ``metadata`` as ``{dropped: kept}``."""
    for kept, dropped in _tied_names(state).items():
        for name in dropped:
            metadata.setdefault(name, kept)
            del state[name]


def _tied_names(state: dict[str, torch.Tensor]) -> dict[str, list[str]]:
    """``{kept: [dropped, ...]}`` for the tensors of ``state`` that are the same memory seen the same way."""
    groups: dict[tuple[object, ...], list[str]] = {}
    for name, tensor in state.items():
        if tensor.numel() == 0:
            continue  # nothing to share
        seen = (tensor.is_conj(), tensor.is_neg())  # w.conj() is w's memory with other values
        key = (tensor.device, tensor.data_ptr(), tensor.dtype, tuple(tensor.shape), tensor.stride(), seen)
        groups.setdefault(key, []).append(name)
    return {names[0]: names[1:] for names in map(sorted, groups.values()) if len(names) > 1}
