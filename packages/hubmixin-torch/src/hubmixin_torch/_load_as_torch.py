"""Loading a model that loads itself: huggingface_hub's way, for models whose state-dict methods or hooks are
their own.

Such a model may read tensors under other names than its attributes' (a library reading checkpoints written
before a rename), copy them in place, or unpack them: it is built normally and given every tensor of the
checkpoint through its own ``load_state_dict(state_dict, strict=False)``, as huggingface_hub's mixin does. See
:func:`customised_loading` and :func:`load_like_torch`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import replace

import torch

from hubmixin_core.errors import WeightsKeyError
from hubmixin_core.weights import (
    MIXIN_CONVERT_HINT,
    Checkpoint,
    LoadReport,
    TensorInfo,
    check_checkpoint,
    warn_settings,
)
from hubmixin_torch._checkpoint import read_tensors
from hubmixin_torch._load import check_ties_held, expected_tensors, load_state, place
from hubmixin_torch._settings import settings_to_compare

__all__ = ["check_before_building", "customised_class", "customised_loading", "load_like_torch"]

logger = logging.getLogger("hubmixin_torch")

_OWN_METHODS = ("load_state_dict", "state_dict")
"""Methods of the model's class that, overridden, decide which tensors it saves or how it loads them."""

_TORCH_LOADERS = {
    torch.nn.Module._load_from_state_dict,
    torch.nn.modules.batchnorm._NormBase._load_from_state_dict,  # a step counter older files lack
    torch.nn.modules.instancenorm._InstanceNorm._load_from_state_dict,  # statistics it does not track
}
"""torch's own ``_load_from_state_dict`` methods, which assignment serves as it is."""

_TORCH_HOOKS = ("torch.nn.modules.lazy", "torch.nn.utils.parametrizations", "torch.nn.utils.spectral_norm")
"""Modules of torch's own state-dict hooks (lazy modules', ``weight_norm``'s and ``spectral_norm``'s)."""


def customised_class(cls: type) -> bool:
    """Whether the class ``cls`` overrides ``load_state_dict`` or ``state_dict``: it loads itself, and is built
    normally from the start (not on the meta device first: ``__init__`` may have side effects, a cached part, and
    its state dict need not name what it holds: an adapter leaving out a frozen base)."""
    return issubclass(cls, torch.nn.Module) and _own_method(cls) is not None


def _own_method(cls: type[torch.nn.Module]) -> str | None:
    """The first of :data:`_OWN_METHODS` that ``cls`` overrides, if any."""
    return next((m for m in _OWN_METHODS if getattr(cls, m) is not getattr(torch.nn.Module, m)), None)


def customised_loading(module: torch.nn.Module, *, unknown_names: bool = False) -> str | None:
    """What makes ``module`` load itself, if anything: its class overriding ``load_state_dict`` or ``state_dict``,
    a module of it overriding ``_load_from_state_dict``, or state-dict hooks of its own; torch's own load hooks
    too where the checkpoint holds names the model lacks (``unknown_names``: ``weight_norm``'s reads an older
    release's ``weight_g``/``weight_v``)."""
    method = _own_method(type(module))
    if method is not None:
        return f"{type(module).__qualname__}.{method}"
    for path, sub in module.named_modules():
        if type(sub)._load_from_state_dict not in _TORCH_LOADERS:
            return f"{type(sub).__qualname__}._load_from_state_dict"
        tables = [sub._load_state_dict_pre_hooks, sub._load_state_dict_post_hooks]
        tables += [sub._state_dict_hooks, sub._state_dict_pre_hooks]
        for table in tables:
            for hook in table.values():
                inner = getattr(hook, "hook", hook)  # torch wraps load pre-hooks
                torchs = getattr(inner, "__module__", None) in _TORCH_HOOKS
                if not torchs or (unknown_names and table is sub._load_state_dict_pre_hooks):
                    return f"a state-dict hook of {path or 'the model'} ({getattr(inner, '__qualname__', inner)!r})"
    return None


def check_before_building(module: torch.nn.Module, checkpoint: Checkpoint, dtype: torch.dtype | None) -> None:
    """Check ``checkpoint``'s headers against ``module`` built on the meta device, before a model that loads itself
    is built for real: a tensor of another shape, or a model far larger than its weights, fails before anything
    is allocated.

    Raises:
        WeightsShapeError: a tensor the file names as the model does has another shape.
        WeightsKeyError: the tensors the file lacks would take more than it holds (see ``check_missing_size``).
    """
    expected = expected_tensors(module, checkpoint, dtype)
    check_checkpoint(
        _shapes_as_stored(expected.want, checkpoint),
        checkpoint,
        strict=False,
        convert_floating=dtype is not None,
        ignore_missing=expected.ignored,
        ignore_unexpected=checkpoint.infos.keys(),
    )


def load_like_torch(
    module: torch.nn.Module, checkpoint: Checkpoint, *, device: torch.device, dtype: torch.dtype | None, strict: bool
) -> LoadReport:
    """Load ``checkpoint`` into ``module`` (built normally) through its own ``load_state_dict``, which copies every
    tensor of the file into it; then leave every tensor on ``device`` and in ``dtype``.

    The headers of the tensors the model names as the file does are checked first, as :func:`load_checkpoint`
    checks them; the keys are checked on what the model's loading left (its hooks may rename them).

    Raises:
        WeightsShapeError: a tensor's shape differs from the module's (always).
        WeightsDtypeError: as :func:`load_checkpoint`, for the tensors the file names as the model does.
        WeightsKeyError: with ``strict``, keys are missing or unexpected after the model's own loading.
    """
    owner = type(module).__qualname__
    expected = expected_tensors(module, checkpoint, dtype)
    found = checkpoint.infos
    check_checkpoint(
        _shapes_as_stored(expected.want, checkpoint),
        checkpoint,
        strict=strict,
        convert_floating=dtype is not None,
        ignore_missing=expected.want.keys(),
        ignore_unexpected=found.keys(),
        convert_hint=MIXIN_CONVERT_HINT,
    )
    ours = settings_to_compare(module, dtype, checkpoint.metadata)
    warn_settings(checkpoint.metadata, ours, owner, checkpoint.description, checkpoint.infos)
    state = read_tensors(checkpoint, list(found), torch.device("cpu"))  # copied into the module's own memory
    check_ties_held(checkpoint, expected.groups, expected.source_of, strict, owner)
    for name, kept in expected.copied.items():  # a tied model's file, the model untied: each its own copy
        state[name] = state[kept].clone()
    for name in expected.aliases & state.keys():  # a tied tensor loads from its source alone, as by assignment
        del state[name]
    result = load_state(module, state, checkpoint.description, assign=False)
    del state
    if result is None:  # a load_state_dict of its own that returns nothing: the keys as the headers give them
        result = LoadReport([n for n in expected.want if n not in found], [n for n in found if n not in expected.want])
    loaded = [n for n in found if n in expected.want]  # (the prefix hint renames none of them)
    report = LoadReport([n for n in result.missing if n not in expected.ignored], result.unexpected)
    report = report.knowing_loaded(loaded)
    if strict and (report.missing or report.unexpected):
        raise WeightsKeyError(checkpoint.description, report.missing, report.unexpected)
    place(module, expected, device, dtype)
    report.log(logger, owner, checkpoint.description)
    return report


def _shapes_as_stored(want: Mapping[str, TensorInfo], checkpoint: Checkpoint) -> dict[str, TensorInfo]:
    """``want`` with the shapes the file stores: a model's own loading may reshape what it reads (an observer
    resizing its statistics, a legacy layout transposed, a position embedding resampled), so shapes are checked by
    its ``load_state_dict`` (torch's size mismatch, raised as a WeightsShapeError), not before."""
    found = checkpoint.infos
    return {name: replace(info, shape=found[name].shape) if name in found else info for name, info in want.items()}
