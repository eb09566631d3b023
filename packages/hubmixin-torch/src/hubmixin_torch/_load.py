"""Loading: a checkpoint's tensors into a module, which ends up entirely on one device and dtype.

Loading builds the module with its parameters on the meta device (nothing allocated, nothing initialised), checks
the checkpoint's headers against it, then assigns the tensors read from the memory-mapped files: peak memory is
about one copy of the weights. See :func:`construct_without_weights` and :func:`load_checkpoint`.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import torch
from torch.nn.parameter import UninitializedBuffer, UninitializedParameter

from hubmixin_core.errors import WeightsDtypeError, WeightsError, WeightsKeyError, WeightsShapeError, format_names
from hubmixin_core.weights import (
    ALIGNMENT,
    MIXIN_CONVERT_HINT,
    Checkpoint,
    LoadReport,
    TensorInfo,
    check_checkpoint,
    mismatch_error,
    tied_names,
    warn_settings,
)
from hubmixin_torch._checkpoint import read_tensors
from hubmixin_torch._construct import _parameters_on_meta, on_kept_memory
from hubmixin_torch._dtypes import dtype_name, target_dtype
from hubmixin_torch._settings import settings_to_compare

__all__ = [
    "ExpectedTensors",
    "expected_tensors",
    "load_checkpoint",
    "load_state",
    "named_as_model",
    "named_tensors",
    "place",
    "check_ties_held",
    "check_views_held",
]

logger = logging.getLogger("hubmixin_torch")

_EXTRA_STATE = "_extra_state"
"""The state-dict name ending of a module's extra state (``torch.nn.Module.get_extra_state``)."""


def named_tensors(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    """Parameters and buffers by attribute path, tied ones under each name (torch's own methods: a model may
    override them with narrower signatures)."""
    return {
        **dict(torch.nn.Module.named_parameters(module, remove_duplicate=False)),
        **dict(torch.nn.Module.named_buffers(module, remove_duplicate=False)),
    }


def _set_tensor(module: torch.nn.Module, name: str, value: torch.Tensor) -> None:
    """Put ``value`` at ``name`` (a parameter stays a Parameter with its ``requires_grad``)."""
    owner_name, _, leaf = name.rpartition(".")
    owner = module.get_submodule(owner_name)
    old = owner._parameters[leaf] if leaf in owner._parameters else None  # noqa: SIM401  (a ScriptModule: no .get)
    if old is not None and not isinstance(value, torch.nn.Parameter):
        value = torch.nn.Parameter(value, requires_grad=old.requires_grad)
    setattr(owner, leaf, value)  # through __setattr__: modules caching their tensors (RNNs) see the change


def _lazy(tensor: torch.Tensor) -> bool:
    """Whether ``tensor`` is a lazy module's parameter or buffer, without a shape until loaded or first called."""
    return isinstance(tensor, UninitializedParameter | UninitializedBuffer)


def _storageless(tensor: torch.Tensor) -> bool:
    """Whether ``tensor`` has no one storage to compare (sparse, nested: only non-persistent buffers can be so)."""
    return tensor.layout != torch.strided or tensor.is_nested


def _shape(name: str, tensor: torch.Tensor, found: Mapping[str, TensorInfo]) -> tuple[int, ...]:
    """The shape ``tensor`` (at ``name``) will have: a lazy module's takes the checkpoint's (torch's load hook
    materialises it so), else its own."""
    if _lazy(tensor):
        return found[name].shape if name in found else ()
    if tensor.dim() == 0 and name in found and found[name].shape == (1,):
        return (1,)  # torch loads a scalar saved as one element (PyTorch < 0.4, converters): see _scalar
    return tuple(tensor.shape)


def _scalar(loaded: torch.Tensor, before: torch.Tensor) -> torch.Tensor:
    """``loaded`` as the scalar ``before`` is, where the checkpoint stores that scalar as one element."""
    return loaded.reshape(()) if not _lazy(before) and before.dim() == 0 and loaded.dim() == 1 else loaded


def _on_device(tensor: torch.Tensor, device: torch.device) -> bool:
    return tensor.device.type == device.type and (device.index is None or tensor.device.index == device.index)


def named_as_model(module: torch.nn.Module, checkpoint: Checkpoint) -> Checkpoint:
    """``checkpoint`` with each tensor it stores once under a name ``module`` lacks, and records as tied to a name
    the module has, under that name (a Keras or Flax save of a layer held at two paths, by a port naming it once)."""
    state = torch.nn.Module.state_dict(module, keep_vars=True)
    renames: dict[str, str] = {}
    for name, kept in tied_names(checkpoint).items():  # a kept tensor may be recorded under several names
        if kept not in state and name in state:
            renames.setdefault(rf"^{re.escape(kept)}$", name)
    return checkpoint.renamed(renames)


@dataclass(frozen=True)
class ExpectedTensors:
    """What a module holds before a load, and what it expects of a checkpoint."""

    named: dict[str, torch.Tensor]
    """Parameters and buffers by attribute path (:func:`named_tensors`), as built."""
    state: dict[str, torch.Tensor]
    """The tensors of the module's state dict, by state-dict name."""
    want: dict[str, TensorInfo]
    """Each state-dict tensor's shape and the dtype it loads in."""
    source_of: dict[str, str]
    """For each attribute path of a tie group (paths of one tensor object), the one it loads from (preferably one
    the file holds)."""
    groups: list[list[str]]
    """The tie groups of more than one name."""
    shared: dict[str, str]
    """Tensors the file holds once under another name it records (safetensors' ``save_model``: {dropped: kept}),
    where the module holds them as tensors of their own on one memory (tied by ``head.weight.data =
    emb.weight.data``)."""
    copied: dict[str, str]
    """Tensors the file holds once under another name it records, where the module holds them apart (a tied
    model's file loaded untied): each loads its own copy of the kept one."""
    views: dict[str, str]
    """Tensors the file records under another name it holds (safetensors' ``save_model``: {dropped: kept}), where
    the module holds a view of that tensor of another shape (``register_buffer("flat", fc.weight.view(-1))``,
    ``Parameter(a.data[:2])``): each is a view of the loaded one again."""
    held_views: dict[str, str]
    """Tensors the module holds as views of another (``Parameter(a.data[:2])``) that the file holds apart, with no
    record (hubmixin's own save): each is a view of the loaded one again, as torch's ``load_state_dict`` leaves it
    (:func:`check_views_held` names those stored with other values)."""
    counters: set[str]
    """Batch norms' step counters: as torch's own load_state_dict does for a state dict without version metadata
    (safetensors never has it), one may be absent, and keeps its ``__init__`` value."""
    extra: set[str]
    """Modules' extra state (``get_extra_state``): handed to ``set_extra_state`` as the file holds it, whatever its
    shape and dtype (as torch's load_state_dict hands it)."""

    @functools.cached_property  # (read once per tensor: a set built each time made loads quadratic)
    def aliases(self) -> set[str]:
        """Names of a tie group other than the one it loads from."""
        return {n for n, s in self.source_of.items() if n != s}

    @functools.cached_property
    def tied(self) -> set[str]:
        """Names restored from another's tensor: aliases, shared ones and views."""
        return self.aliases | self.shared.keys() | self.views.keys()

    @functools.cached_property
    def ignored(self) -> set[str]:
        """Names a checkpoint may lack."""
        return self.tied | self.copied.keys() | self.counters


def expected_tensors(module: torch.nn.Module, checkpoint: Checkpoint, dtype: torch.dtype | None) -> ExpectedTensors:
    """What ``module`` holds and expects of ``checkpoint`` (``dtype``: the floating dtype asked for, if any)."""
    named = named_tensors(module)
    state = torch.nn.Module.state_dict(module, keep_vars=True)
    expected = {k: v for k, v in state.items() if isinstance(v, torch.Tensor)}
    found = checkpoint.infos
    groups: dict[int, list[str]] = {}
    for name, tensor in named.items():  # attribute paths (a state-dict hook may save one under another name)
        groups.setdefault(id(tensor), []).append(name)
    source_of: dict[str, str] = {}
    for names in groups.values():
        source = next((n for n in names if n in found), next((n for n in names if n in expected), names[0]))
        source_of.update(dict.fromkeys(names, source))
    aliases = {n for n, s in source_of.items() if n != s}
    want = {k: TensorInfo(_shape(k, t, found), dtype_name(target_dtype(t, dtype))) for k, t in expected.items()}
    extra = {k for k in expected if k not in named and k.endswith(_EXTRA_STATE)}
    want.update({k: found[k] for k in extra if k in found})
    recorded = {n: kept for n, kept in tied_names(checkpoint, want).items() if n not in aliases and kept in want}
    shared = {n: k for n, k in recorded.items() if _same_memory(named.get(n), named.get(source_of.get(k, k)))}
    copied = {n: k for n, k in recorded.items() if n not in shared}
    views = {
        n: kept
        for n, kept in tied_names(checkpoint).items()
        if n in want and n not in recorded and kept in want
        if _views(named.get(n), named.get(source_of.get(kept, kept)))
    }
    held_views = {
        n: kept
        for n, kept in _views_held(named, source_of).items()
        if n in found and kept in found and n in want and n not in views and n not in recorded
    }
    counters = {
        f"{name}.num_batches_tracked" if name else "num_batches_tracked"
        for name, m in module.named_modules()
        if isinstance(m, torch.nn.modules.batchnorm._NormBase)
    }
    tie_groups = [names for names in groups.values() if len(names) > 1]
    return ExpectedTensors(
        named, expected, want, source_of, tie_groups, shared, copied, views, held_views, counters, extra
    )


def _views_held(named: Mapping[str, torch.Tensor], source_of: Mapping[str, str]) -> dict[str, str]:
    """{view: whole} for each tensor of ``named`` that views another on one memory (meta memory too), the largest
    there, within its bytes (``Parameter(a.data[:2])``: ``{"b": "a"}``)."""
    by_memory: dict[int, list[str]] = {}
    for name, tensor in named.items():
        if source_of.get(name, name) == name and not _lazy(tensor) and not _storageless(tensor):
            by_memory.setdefault(_memory(tensor)[0], []).append(name)
    held = {}
    for names in by_memory.values():
        dense = [n for n in names if _dense(named[n])]  # (a covering tensor with gaps or overlaps covers nothing)
        whole = max(dense, key=lambda n: named[n].numel(), default=None)
        if len(names) < 2 or whole is None:
            continue
        span = _extent(named[whole])
        for name in names:  # (an overlapping one, expand's, gets memory of its own: see _keep_parameter_objects)
            view = named[name]
            if _views(view, named[whole]) and view.numel() and not _overlapping(view) and _within(_extent(view), span):
                held[name] = whole
    return held


def _same_memory(first: torch.Tensor | None, second: torch.Tensor | None) -> bool:
    """Whether two tensors of a module are one memory (``head.weight.data = emb.weight.data``): told apart on the
    meta device too, where each tensor made apart has a storage of its own."""
    if first is None or second is None or _lazy(first) or _lazy(second):
        return False
    if first.is_conj() != second.is_conj() or first.is_neg() != second.is_neg():
        return False  # w.conj() is w's memory with other values
    return _memory(first) == _memory(second) and first.shape == second.shape and first.stride() == second.stride()


def _views(view: torch.Tensor | None, whole: torch.Tensor | None) -> bool:
    """Whether ``view`` lies on the memory of ``whole`` (meta memory too) without being it."""
    if view is None or whole is None or _lazy(view) or _lazy(whole) or view is whole:
        return False
    if view.is_conj() != whole.is_conj() or view.is_neg() != whole.is_neg():
        return False  # other values than its memory holds for ``whole``
    return _memory(view)[0] == _memory(whole)[0] and view.dtype == whole.dtype


def _view_of(whole: torch.Tensor, view: torch.Tensor, whole_before: torch.Tensor) -> torch.Tensor:
    """``view`` (of ``whole_before``, as ``__init__`` made it) taken again of the loaded ``whole``."""
    offset = whole.storage_offset() + view.storage_offset() - whole_before.storage_offset()
    return whole.detach().as_strided(view.shape, view.stride(), offset)


def _memory(tensor: torch.Tensor) -> tuple[int, int]:
    """Where ``tensor`` starts: its storage (meta storages included) and its offset in it."""
    return tensor.untyped_storage()._cdata, int(tensor.storage_offset())


def _apart(state: dict[str, torch.Tensor], named: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """``state`` with tensors the file holds on overlapping memory (a ``pytorch_model.bin`` of a tied model, or of
    views of one tensor) copied where the module (``named``) does not hold them so: assigned as they are, they
    would tie the module's tensors (training one would change the other)."""
    by_storage: dict[int, list[tuple[int, int, str]]] = {}
    for name, tensor in state.items():
        if not tensor.is_meta and tensor.numel():
            by_storage.setdefault(tensor.untyped_storage()._cdata, []).append((*_extent(tensor), name))
    for spans in by_storage.values():
        reaching: list[tuple[int, str]] = []  # (end, name) of the tensors kept that start before this one
        for start, end, name in sorted(spans):
            reaching = [(e, n) for e, n in reaching if e > start]
            if all(_held_alike(state, named, other, name) for _, other in reaching):
                reaching.append((end, name))
            else:
                state[name] = state[name].clone()
    return state


def _extent(tensor: torch.Tensor) -> tuple[int, int]:
    """The bytes of its storage ``tensor`` (not empty) spans: ``(start, end)``."""
    last = sum((int(n) - 1) * int(s) for n, s in zip(tensor.shape, tensor.stride(), strict=True))
    start = _start(tensor)
    return start, start + (last + 1) * tensor.element_size()


def _within(inner: tuple[int, int], outer: tuple[int, int]) -> bool:
    return outer[0] <= inner[0] and inner[1] <= outer[1]


def _start(tensor: torch.Tensor) -> int:
    """Where ``tensor`` starts in its storage, in bytes."""
    return _memory(tensor)[1] * tensor.element_size()


def _held_alike(state: Mapping[str, torch.Tensor], named: Mapping[str, torch.Tensor], first: str, second: str) -> bool:
    """Whether the module holds ``first`` and ``second`` on one memory, as far apart as ``state`` holds them (a
    tie, a view of another parameter)."""
    one, two = named.get(first), named.get(second)
    if one is None or two is None or _lazy(one) or _lazy(two) or _memory(one)[0] != _memory(two)[0]:
        return False
    return _start(two) - _start(one) == _start(state[second]) - _start(state[first])


def place(module: torch.nn.Module, expected: ExpectedTensors, device: torch.device, dtype: torch.dtype | None) -> None:
    """Leave every loaded tensor on ``device`` and in the dtype asked for, aligned and in the layout ``__init__``
    gave it, ties restored, in the tensor objects the module had before (:func:`_keep_parameter_objects`).

    Aligned: CPU kernels take other paths on unaligned data, so a misaligned memory-mapped tensor would compute
    differently from the saved model.
    """
    _refresh_views(module, expected, device, dtype)
    for name, tensor in named_tensors(module).items():
        if name in expected.tied:
            continue
        before = expected.named.get(name)
        target = target_dtype(tensor if before is None else before, dtype)
        if _lazy(tensor):  # a lazy module the checkpoint lacks stays lazy, sized at its first call
            if not _on_device(tensor, device) or tensor.dtype != target:
                _set_tensor(module, name, _uninitialized(tensor, device, target))
            continue
        if tensor is before:  # not loaded, built for real: as __init__ made it (a view of a parameter stays one)
            if not _on_device(tensor, device) or tensor.dtype != target:
                _set_tensor(module, name, tensor.detach().to(device=device, dtype=target))
            continue
        strides = _strides(before, tensor)
        if not _laid_out(tensor, strides):
            # The layout __init__ gave it (channels_last, a transposed weight), not the one a pytorch_model.bin kept
            # (a transposed kernel, an expanded bias): kernels would take other paths, .view(-1) or a step would fail.
            laid_out = torch.empty_strided(tensor.shape, strides, device=device, dtype=target)
            _set_tensor(module, name, laid_out.copy_(tensor.detach()))
            continue
        if not _on_device(tensor, device) or tensor.dtype != target:
            _set_tensor(module, name, tensor.detach().to(device=device, dtype=target))
        elif device.type == "cpu" and tensor.data_ptr() % ALIGNMENT:
            _set_tensor(module, name, tensor.detach().clone())
    final = named_tensors(module)
    for name, kept in expected.shared.items():  # a tensor of its own again, on the kept one's memory
        _set_tensor(module, name, final[expected.source_of.get(kept, kept)].detach())
    for name, kept in expected.views.items():  # (one built for real views the kept one's memory already)
        source = expected.source_of.get(kept, kept)
        view = final[name]
        if view.is_meta and final[source].stride() == expected.named[source].stride():
            again = _view_of(final[source], expected.named[name], expected.named[source])
            if target_dtype(view, dtype) != view.dtype:  # converted by dtype=: memory of its own, as held_views below
                again = again.clone()
            _set_tensor(module, name, again)
        elif not view.is_meta and (not _on_device(view, device) or view.dtype != target_dtype(view, dtype)):
            # built for real on __init__'s memory: converted, memory of its own (as after Module.to)
            _set_tensor(module, name, view.detach().to(device=device, dtype=target_dtype(view, dtype), copy=True))
    for name, kept in expected.held_views.items():  # (converted by dtype=: memory of its own, as after Module.to)
        if final[kept].stride() == expected.named[kept].stride() and final[name].dtype == expected.named[name].dtype:
            _set_tensor(module, name, _view_of(final[kept], expected.named[name], expected.named[kept]))
    final = named_tensors(module)
    for name in sorted(expected.aliases):
        _set_tensor(module, name, final[expected.source_of[name]])
    _keep_parameter_objects(module, expected.named)


def _uninitialized(tensor: torch.Tensor, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """A lazy module's ``tensor`` (not sized yet), to be sized on ``device`` in ``dtype``."""
    lazy = UninitializedParameter if isinstance(tensor, UninitializedParameter) else UninitializedBuffer
    # (torch's stubs give these classes Parameter's signature, not their own)
    return lazy(tensor.requires_grad, device=device, dtype=dtype)  # type: ignore[call-arg, arg-type]


def _refresh_views(
    module: torch.nn.Module, expected: ExpectedTensors, device: torch.device, dtype: torch.dtype | None
) -> None:
    """Copy the loaded values into the memory ``__init__`` built for real where a tensor not loaded views it and
    is about to be converted to ``device`` or ``dtype`` (a non-persistent row of a parameter): converted, it
    takes the loaded values, not those of ``__init__`` (:func:`_keep_parameter_objects` copies them only after)."""
    current = named_tensors(module)
    untouched = [
        t
        for n, t in current.items()
        if t is expected.named.get(n) and not t.is_meta and not _lazy(t) and not _storageless(t)
    ]
    converting = {_memory(t)[0] for t in untouched if not _on_device(t, device) or t.dtype != target_dtype(t, dtype)}
    for name, tensor in current.items():
        before = expected.named.get(name)
        if before is None or tensor is before or before.is_meta or tensor.is_meta or _lazy(before) or _lazy(tensor):
            continue
        if _memory(before)[0] in converting and before.shape == tensor.shape and not _overlapping(before):
            with torch.no_grad():
                before.copy_(tensor)


def _strides(before: torch.Tensor | None, tensor: torch.Tensor) -> tuple[int, ...]:
    """The strides ``tensor`` loads with: those ``__init__`` gave the model's own (``before``), else contiguous ones
    (a tensor ``__init__`` made overlapping or with gaps, or without a shape yet)."""
    if before is None or _lazy(before) or before.shape != tensor.shape or not _dense(before):
        return _row_major(tuple(tensor.shape))
    return tuple(before.stride())  # as torch.empty_like keeps them (not called: it imports sympy, ~0.3 s, on meta)


def _row_major(shape: tuple[int, ...]) -> tuple[int, ...]:
    """The strides of a contiguous tensor of ``shape``."""
    strides, step = [], 1
    for size in reversed(shape):
        strides.append(step)
        step *= max(size, 1)
    return tuple(reversed(strides))


def _dense(tensor: torch.Tensor) -> bool:
    """Whether ``tensor``'s elements fill its memory without gaps or overlaps (in any order of dimensions)."""
    if tensor.numel() == 0:
        return False
    expected = 1
    for stride, size in sorted((s, n) for n, s in zip(tensor.shape, tensor.stride(), strict=True) if n != 1):
        if stride != expected:
            return False
        expected *= size
    return True


def _laid_out(tensor: torch.Tensor, strides: tuple[int, ...]) -> bool:
    """Whether ``tensor`` has ``strides`` (but for dimensions of one element, whose stride is never used)."""
    return all(n == 1 or s == w for n, s, w in zip(tensor.shape, tensor.stride(), strides, strict=True))


def load_checkpoint(
    module: torch.nn.Module,
    checkpoint: Checkpoint,
    *,
    device: torch.device,
    dtype: torch.dtype | None,
    strict: bool,
    rebuild: Callable[[], torch.nn.Module],
    rebuild_first: bool = False,
) -> LoadReport:
    """Load ``checkpoint`` into ``module`` by assignment (no copy), then leave every tensor on ``device``.

    Steps: tie groups are found by identity (the checkpoint holds each group once, under any of its names); the
    headers are checked against the module (shape always, dtype and keys with ``strict``) before any data is
    read; the tensors are read (memory-mapped on CPU), converted where the dtype differs and assigned with
    ``load_state_dict(assign=True)``; parameters the checkpoint lacks are taken from ``rebuild()`` (a normally
    initialised instance, built only then: after the assignment, or before it with ``rebuild_first``); buffers
    not in the checkpoint keep their ``__init__`` values; all is moved to ``device`` and ``dtype``; ties are
    restored.

    Args:
        module: Built by :func:`construct_without_weights` (or normally).
        checkpoint: What to load.
        device: Where every parameter and buffer ends up.
        dtype: Floating-point dtype for floating tensors; ``None`` keeps the module's dtypes.
        strict: Raise on missing or unexpected keys and on dtype mismatches (else log them and convert).
        rebuild: Builds a normally initialised module of the same structure.
        rebuild_first: Build it before the tensors are assigned (for a module given modules of the caller's, which
            its ``__init__`` may initialise: see below), not after them (its memory not held meanwhile).

    Returns:
        The missing and unexpected key names.

    Raises:
        WeightsShapeError: a tensor's shape differs from the module's (always).
        WeightsDtypeError: with ``strict``, a tensor's dtype differs and ``dtype`` does not ask to convert it.
        WeightsKeyError: with ``strict``, keys are missing or unexpected; all are named. Without it, the missing
            tensors would take more than the checkpoint's size (and ``MISSING_BYTES_FLOOR``): raised before
            ``rebuild`` runs, so a config asking for a larger model than its weights allocates nothing.
    """
    owner = type(module).__qualname__
    found = checkpoint.infos
    expected = expected_tensors(module, checkpoint, dtype)
    # Check the headers before reading anything (core's policy for every framework).
    report = check_checkpoint(
        expected.want,
        checkpoint,
        strict=strict,
        convert_floating=dtype is not None,
        ignore_missing=expected.ignored,
        convert_hint=MIXIN_CONVERT_HINT,
    )
    ours = settings_to_compare(module, dtype, checkpoint.metadata)
    warn_settings(checkpoint.metadata, ours, owner, checkpoint.description, checkpoint.infos)

    # Read (memory-mapped) and assign.
    sources = [n for n in dict.fromkeys(expected.source_of.values()) if n in found and n in expected.state]
    extra = [n for n in expected.extra if n in found]
    # With rebuild_first, what the checkpoint lacks comes from a construction run before the assignment, as
    # huggingface_hub's single construction runs before its load: an __init__ initialising modules the caller gave
    # it (an encoder=, with self.apply(self._init_weights)) reaches their values before the checkpoint's replace
    # them, not after.
    assigned = {*sources, *expected.copied}
    donor: dict[str, torch.Tensor] | None = None
    if rebuild_first and device.type != "meta":
        lacking = {
            n
            for n, t in named_tensors(module).items()
            if (t.is_meta or on_kept_memory(t)) and n not in assigned and n not in expected.tied
        }
        if lacking:
            with _parameters_on_meta(False):
                donor = {n: t for n, t in named_tensors(rebuild()).items() if n in lacking}  # (the rest freed now)
    loaded = read_tensors(checkpoint, list(dict.fromkeys([*sources, *extra, *expected.copied.values()])), device)
    check_ties_held(checkpoint, expected.groups, expected.source_of, strict, owner)
    check_views_held(checkpoint, expected, loaded, strict, owner)
    state: dict[str, torch.Tensor] = {}
    for name, kept in expected.copied.items():
        before = expected.state[name]
        state[name] = _scalar(loaded[kept], before).to(target_dtype(before, dtype), copy=True)
    for name in sources:
        before = expected.state[name]
        state[name] = _scalar(loaded.pop(name), before).to(target_dtype(before, dtype))  # no copy if dtype matches
    for name in extra:  # set_extra_state gets its own memory: it may keep the tensor as it is
        state[name] = loaded.pop(name).clone()
    loaded.clear()
    load_state(module, _apart(state, expected.named), checkpoint.description, assign=True)
    del state

    # Parameters still on meta (absent from the checkpoint) get the module's own initialisation; so do those on a
    # flat buffer of the module's (on_kept_memory), copied into it.
    tensors = named_tensors(module)
    on_flat = [n for n, t in tensors.items() if on_kept_memory(t) and n not in assigned and n not in expected.tied]
    pending = [n for n, t in tensors.items() if t.is_meta and n not in expected.tied]
    unloaded = [n for n in pending if n in sources]
    if unloaded and device.type != "meta":  # (models loading themselves take load_like_torch: see customised_loading)
        message = f"{owner}: {format_names(unloaded)} of {checkpoint.description} were given but not loaded"
        raise WeightsError(message)
    if (pending or on_flat) and device.type != "meta":
        if donor is None or any(n not in donor for n in [*pending, *on_flat]):
            with _parameters_on_meta(False):
                donor = named_tensors(rebuild())
        for name in [*pending, *on_flat]:
            if name not in donor or donor[name].is_meta:
                raise WeightsError(f"{owner}: cannot initialise {name!r}, which the checkpoint does not hold")
            if donor[name].shape != tensors[name].shape:  # (an __init__ reading state its first run changed)
                source = f"{owner} constructed again for what {checkpoint.description} lacks"
                raise WeightsShapeError(source, name, tuple(tensors[name].shape), tuple(donor[name].shape))
            if name in on_flat:
                with torch.no_grad():
                    tensors[name].copy_(donor[name])
            else:
                _set_tensor(module, name, donor[name].detach())
        del donor
    del tensors

    place(module, expected, device, dtype)
    if device.type != "meta":
        left = [n for n, t in named_tensors(module).items() if t.is_meta]
        if left:
            raise WeightsError(f"{owner}: tensors {format_names(left)} are still on the meta device after loading")
    report.log(logger, owner, checkpoint.description)
    return report


_SIZE_MISMATCH = re.compile(
    r"size mismatch for (\S+): copying a param with shape torch\.Size\(\[([\d, ]*)\]\) from checkpoint, "
    r"the shape in current model is torch\.Size\(\[([\d, ]*)\]\)"
)


def load_state(
    module: torch.nn.Module, state: dict[str, torch.Tensor], source: str, *, assign: bool
) -> LoadReport | None:
    """``module.load_state_dict(state, strict=False)`` (with ``assign``, torch's own): the keys it found missing and
    unexpected (after the modules' hooks; ``None`` where a model's own method returns nothing); a shape they could
    not reconcile is a WeightsShapeError naming the tensor (``source``: the checkpoint)."""
    try:
        if assign:
            result = torch.nn.Module.load_state_dict(module, state, strict=False, assign=True)
        else:  # as huggingface_hub's load calls it (safetensors' load_model): a model's override receives that
            result = module.load_state_dict(state, strict=False)
    except RuntimeError as error:
        mismatches: list[WeightsShapeError | WeightsDtypeError] = []
        for mismatch in _SIZE_MISMATCH.finditer(str(error)):
            key, found, expected = mismatch.groups()
            shape = [tuple(int(d) for d in dims.split(",") if d.strip()) for dims in (expected, found)]
            mismatches.append(WeightsShapeError(source, key, shape[0], shape[1]))
        if not mismatches:
            raise
        raise mismatch_error(mismatches) from error
    if not hasattr(result, "missing_keys") or not hasattr(result, "unexpected_keys"):
        return None  # a model's own load_state_dict that returns nothing
    return LoadReport(list(result.missing_keys), list(result.unexpected_keys))


def _keep_parameter_objects(module: torch.nn.Module, originals: dict[str, torch.Tensor]) -> None:
    """Put back the tensor objects the module had before loading (``originals``: parameters and buffers by name),
    holding the loaded values.

    A tensor ``__init__`` built for real (not on the meta device) gets the values copied in, as huggingface_hub's
    load does: views of it (``self.flat = self.fc.weight.view(-1)``) see them too. A parameter built on the meta
    device takes the loaded tensor's memory instead. Either way what ``__init__`` did to its parameters stays:
    Python attributes (``p._no_weight_decay = True``), a Parameter subclass, gradient hooks, and references held
    elsewhere (a list of the parameters).
    """
    final = named_tensors(module)
    moved: dict[int, torch.Tensor | None] = {}  # id(original) -> the loaded tensor it took the values of
    for name, original in originals.items():
        loaded = final.get(name)
        if loaded is None or loaded is original:
            continue
        if id(original) not in moved:
            if _same_kind(original, loaded):
                with torch.no_grad():
                    original.copy_(loaded)
                moved[id(original)] = loaded
            elif isinstance(original, torch.nn.Parameter) and isinstance(loaded, torch.nn.Parameter):
                moved[id(original)] = loaded if _transplant(original, loaded) else None
            else:  # a buffer on another device or dtype than loaded: the loaded one stays, under every name
                moved[id(original)] = None
        if moved[id(original)] is loaded:
            _set_tensor(module, name, original)


def _same_kind(original: torch.Tensor, loaded: torch.Tensor) -> bool:
    """Whether ``loaded``'s values can be copied into ``original`` as they are (an allocated tensor of its shape,
    dtype, device and layout)."""
    return (
        not original.is_meta
        and not _lazy(original)
        and not _storageless(original)
        and original.shape == loaded.shape
        and original.dtype == loaded.dtype
        and original.device == loaded.device
        and not _overlapping(original)
    )


def _overlapping(tensor: torch.Tensor) -> bool:
    """Whether elements of ``tensor`` share memory (an expanded one), so that values cannot be copied into it; any
    other strides take them (a column or the diagonal of a parameter, ``z.real``: views of it stay views)."""
    reach = 0  # the farthest element reached by the dimensions of smaller strides
    for stride, size in sorted((s, n) for n, s in zip(tensor.shape, tensor.stride(), strict=True) if n > 1):
        if stride <= reach:
            return True
        reach += (size - 1) * stride
    return False


def _transplant(original: torch.nn.Parameter, loaded: torch.nn.Parameter) -> bool:
    """Give ``original`` the tensor of ``loaded``, keeping its class, attributes and hooks. Returns False where
    torch cannot swap them (a weak reference to either): then ``loaded`` stays, given those instead."""
    cls, attributes = type(original), original.__dict__
    hooks, accumulate_hooks = original._backward_hooks, original._post_accumulate_grad_hooks
    try:
        torch.utils.swap_tensors(original, loaded)  # type: ignore[no-untyped-call]  # swaps classes and attributes too
    except RuntimeError:
        kept, swapped = loaded, False
        attributes = dict(attributes)
    else:
        kept, swapped = original, True
        loaded.__dict__ = {}
    with contextlib.suppress(TypeError):  # a subclass with slots of its own (no swap): a plain Parameter stays
        kept.__class__ = cls
    kept.__dict__ = attributes
    # Autograd holds hooks on the tensor, not on the Python object: register them on the one now held.
    if hooks is not None:
        kept._backward_hooks = hooks
    if accumulate_hooks is not None:
        kept._post_accumulate_grad_hooks = accumulate_hooks
    return swapped


def check_views_held(
    checkpoint: Checkpoint, expected: ExpectedTensors, loaded: Mapping[str, torch.Tensor], strict: bool, owner: str
) -> None:
    """Views the model holds (:attr:`ExpectedTensors.held_views`: ``Parameter(a.data[:2])``, a tie by
    ``head.weight.data = emb.weight.data``) that the checkpoint stores apart with other values than the covering
    tensor's: as for ties, only the covering tensor's values can load, and the view shows them. Logged, or with
    ``strict`` a :class:`WeightsKeyError` naming the views as unexpected. Compared on the tensors the load read
    (``loaded``, as stored); views converted by ``dtype=`` are left out (they load as stored, on memory of their
    own), and so is a load onto the meta device (no values)."""
    pairs = {
        n: k
        for n, k in expected.held_views.items()
        if n in loaded and k in loaded and expected.want[n].dtype == dtype_name(expected.named[n].dtype)
    }
    laid_out: dict[str, torch.Tensor] = {}  # each covering tensor in the layout the model gives it, once
    differ: dict[str, list[str]] = {}
    for name, kept in pairs.items():
        stored, before = loaded[name], expected.named[kept]
        if stored.is_meta or loaded[kept].is_meta or loaded[kept].shape != before.shape:
            continue  # (read for map_location="meta": no values; other shapes: named elsewhere)
        if kept not in laid_out:
            whole = loaded[kept].to(before.dtype)
            if whole.stride() != before.stride():
                layout = torch.empty_strided(before.shape, before.stride(), dtype=before.dtype, device=whole.device)
                whole = layout.copy_(whole)
            laid_out[kept] = whole
        view = _view_of(laid_out[kept], expected.named[name], before)
        if view.shape != stored.shape or not torch.equal(_bytes(view), _bytes(stored.to(view.dtype))):
            differ.setdefault(kept, []).append(name)
    for kept, names in differ.items():
        held = f"{owner}: {format_names(names)} {'views' if len(names) == 1 else 'view'} {kept!r} in the model, but"
        if strict:
            detail = f"{held} the file holds them with other values: only those of {kept!r} can load"
            raise WeightsKeyError(checkpoint.description, unexpected=names, detail=detail)
        logger.warning(
            "%s %s holds them with other values: %r is loaded, %s not",
            held,
            checkpoint.description,
            kept,
            format_names(names),
        )


def _bytes(tensor: torch.Tensor) -> torch.Tensor:
    """``tensor``'s values as bytes, in row-major order (NaNs compare alike)."""
    return tensor.detach().contiguous().reshape(-1).view(torch.uint8)


def check_ties_held(
    checkpoint: Checkpoint, groups: list[list[str]], source_of: dict[str, str], strict: bool, owner: str
) -> None:
    """Names the model ties (one tensor) that the checkpoint stores apart with other values (an untied model's
    file): only the source's values can load. Logged, or with ``strict`` a :class:`WeightsKeyError` naming the
    others as unexpected (a ``RuntimeError``, as huggingface_hub's load raises for such a file)."""
    for names in groups:
        stored = [n for n in names if n in checkpoint.infos]
        if len(stored) < 2 or any(checkpoint.infos[n] != checkpoint.infos[stored[0]] for n in stored):
            continue  # stored once (or of other shapes: the header check names those)
        tensors = read_tensors(checkpoint, stored, torch.device("cpu"))
        if any(t.is_meta for t in tensors.values()):  # a pytorch_model.bin read for map_location="meta": no values
            continue
        source = source_of[stored[0]]
        other = [n for n in stored if n != source and not torch.equal(tensors[n], tensors[source])]
        if not other:
            continue
        tied = f"{owner}: {format_names([source, *other])} are one tensor in the model (tied), but"
        if strict:
            detail = f"{tied} the file holds them apart with other values: only {source!r} can load"
            raise WeightsKeyError(checkpoint.description, unexpected=other, detail=detail)
        logger.warning(
            "%s %s holds them apart with other values: %r is loaded, %s not",
            tied,
            checkpoint.description,
            source,
            format_names(other),
        )
