"""Torch-side tensor handling: a module's state dict to safetensors files, and a checkpoint back into a module.

Loading builds the module with its parameters on the meta device (nothing allocated, nothing initialised), checks
the checkpoint's headers against it, then assigns the tensors read from the memory-mapped files: peak memory is
about one copy of the weights. See :func:`construct_without_weights` and :func:`load_checkpoint`.
"""

from __future__ import annotations

import logging
import pickle
import threading
import weakref
import zipfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar, cast

import torch
from huggingface_hub.errors import EntryNotFoundError
from safetensors import safe_open
from safetensors.torch import _remove_duplicate_names
from safetensors.torch import save_file as _save_file

from hubmixin_core import DownloadOptions, download_file
from hubmixin_core.errors import (
    WeightsDtypeError,
    WeightsError,
    WeightsFileError,
    WeightsNotFoundError,
    WeightsShapeError,
)
from hubmixin_core.weights import (
    PYTORCH_WEIGHTS_NAME,
    SAFETENSORS_INDEX_NAME,
    SAFETENSORS_SINGLE_FILE,
    TensorInfo,
    WeightFiles,
    check_tensors,
    read_tensor_infos,
    resolve_weight_files,
    save_safetensors,
)

__all__ = [
    "Checkpoint",
    "check_dtype_argument",
    "construct_without_weights",
    "dtype_name",
    "load_checkpoint",
    "open_checkpoint",
    "save_module",
]

logger = logging.getLogger("hubmixin_torch")

M = TypeVar("M")

_DTYPES: dict[str, torch.dtype] = {
    "BOOL": torch.bool,
    "U8": torch.uint8,
    "I8": torch.int8,
    "I16": torch.int16,
    "I32": torch.int32,
    "I64": torch.int64,
    "F16": torch.float16,
    "BF16": torch.bfloat16,
    "F32": torch.float32,
    "F64": torch.float64,
    "C64": torch.complex64,
}
for _name, _attr in (
    ("U16", "uint16"),
    ("U32", "uint32"),
    ("U64", "uint64"),
    ("F8_E4M3", "float8_e4m3fn"),
    ("F8_E5M2", "float8_e5m2"),
    ("F8_E8M0", "float8_e8m0fnu"),
):
    if isinstance(getattr(torch, _attr, None), torch.dtype):
        _DTYPES[_name] = getattr(torch, _attr)
_DTYPE_NAMES: dict[torch.dtype, str] = {dtype: name for name, dtype in _DTYPES.items()}
_FLOATING = frozenset(name for name, dtype in _DTYPES.items() if dtype.is_floating_point)


def dtype_name(dtype: torch.dtype) -> str:
    """The safetensors name of a torch dtype (``torch.float32`` -> ``"F32"``).

    Example:
        >>> dtype_name(torch.bfloat16)
        'BF16'
    """
    return _DTYPE_NAMES.get(dtype, str(dtype).removeprefix("torch."))


def check_dtype_argument(dtype: object) -> torch.dtype | None:
    """Return ``dtype`` if it is ``None`` or a floating-point ``torch.dtype``.

    Raises:
        TypeError: anything else (the message shows what was given).
    """
    if dtype is None or (isinstance(dtype, torch.dtype) and dtype.is_floating_point):
        return dtype
    raise TypeError(f"dtype must be a floating-point torch.dtype (torch.float16, torch.bfloat16, ...), got {dtype!r}")


def _target_dtype(tensor: torch.Tensor, dtype: torch.dtype | None) -> torch.dtype:
    return dtype if dtype is not None and tensor.is_floating_point() else tensor.dtype


# SAVE


def save_module(
    module: torch.nn.Module,
    directory: Path,
    *,
    max_shard_size: int | str | None = None,
    dtype: torch.dtype | None = None,
) -> list[str]:
    """Write ``module``'s state dict into ``directory`` as ``model.safetensors``, or as shards plus an index.

    Tensors sharing memory (tied weights) are stored once, under the name ``safetensors.torch.save_model`` keeps;
    each dropped name is recorded in the header metadata as ``{dropped: kept}``, as ``save_model`` does. The
    header metadata also holds ``{"format": "pt"}``, which transformers requires.

    Args:
        module: The module to save.
        directory: An existing, empty directory.
        max_shard_size: Largest file, in bytes or as ``"5GB"``; ``None`` writes one file.
        dtype: Floating-point dtype to save floating tensors as; ``None`` keeps each tensor's dtype.

    Returns:
        The names of the files written, index last.

    Raises:
        WeightsError: a state-dict entry is not a tensor, or is on the meta device (it holds no data).
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
        raise WeightsError(f"{owner}: cannot save tensors {_preview(on_meta)}: on the meta device they hold no data")
    metadata = {"format": "pt"}
    for kept, dropped in _remove_duplicate_names(state).items():
        for name in dropped:
            metadata.setdefault(name, kept)
            del state[name]

    def nbytes(tensor: torch.Tensor) -> int:
        return tensor.numel() * _target_dtype(tensor, dtype).itemsize

    def write(tensors: dict[str, torch.Tensor], filename: str, meta: dict[str, str] | None) -> None:
        # Converted one file at a time: a cast to another dtype costs at most one shard of memory.
        converted = {k: t.to(_target_dtype(t, dtype)).contiguous() for k, t in tensors.items()}
        _save_file(converted, filename, metadata=meta)

    return save_safetensors(
        state, directory, save_file=write, nbytes=nbytes, max_shard_size=max_shard_size, metadata=metadata
    )


# CONSTRUCTION WITHOUT WEIGHTS

_local = threading.local()
_hook_lock = threading.Lock()
_hook_installed = False
_Memo = dict[int, tuple[weakref.ref[torch.nn.Parameter], torch.nn.Parameter]]


def _meta_parameter_hook(module: torch.nn.Module, name: str, param: torch.nn.Parameter) -> torch.nn.Parameter | None:
    """Global parameter-registration hook: on a meta copy while this thread constructs without weights."""
    memo: _Memo | None = getattr(_local, "memo", None)
    if memo is None or type(param) is not torch.nn.Parameter or param.is_meta:
        return None  # not constructing, a Parameter subclass (lazy, quantized...) or already meta
    hit = memo.get(id(param))
    if hit is not None and hit[0]() is param:  # the same Parameter registered twice: keep the tie
        return hit[1]
    meta = torch.nn.Parameter(torch.empty_like(param, device="meta"), requires_grad=param.requires_grad)
    memo[id(param)] = (weakref.ref(param), meta)
    return meta


def _install_hook() -> None:
    # Installed once and never removed: adding or removing a global hook while another thread registers a
    # parameter would mutate the dict torch is iterating. Outside a construction the hook returns at once.
    global _hook_installed
    with _hook_lock:
        if not _hook_installed:
            hook = cast("Callable[..., None]", _meta_parameter_hook)  # torch's annotation omits the return
            torch.nn.modules.module.register_module_parameter_registration_hook(hook)
            _hook_installed = True


@contextmanager
def _parameters_on_meta(active: bool) -> Iterator[None]:
    """Within this block (this thread only), parameters registered on a module are put on the meta device."""
    if active:
        _install_hook()
    previous = getattr(_local, "memo", None)
    _local.memo = {} if active else None
    try:
        yield
    finally:
        _local.memo = previous


def construct_without_weights(factory: Callable[[], M]) -> M:
    """Call ``factory`` (a module's constructor) with every parameter it registers moved to the meta device.

    Parameters made the usual way (``torch.empty`` then ``reset_parameters()``, as every ``torch.nn`` layer does)
    are never initialised, and the empty tensor they start from is freed untouched (no memory is committed); a
    parameter ``__init__`` fills itself (``nn.Parameter(torch.randn(...))``) is computed once and dropped. Buffers
    and plain tensor attributes are built on the CPU as usual, so non-persistent buffers get their values from
    ``__init__``. A Parameter registered twice (tied) stays one Parameter. Only this thread is affected.

    If ``__init__`` cannot run that way (it reads a parameter's values), the module is constructed normally:
    :func:`load_checkpoint` then replaces the initialised parameters, at the reference's cost.
    """
    try:
        with _parameters_on_meta(True):
            module = factory()
    except Exception as error:  # data-dependent code in __init__: fall back to a normal construction below
        failure = error
    else:
        return module
    logger.info("constructing with parameters on the meta device failed (%r); constructing normally", failure)
    with _parameters_on_meta(False):
        return factory()


# CHECKPOINTS


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
        legacy = _legacy_file(model_id, options)
        if legacy is None:
            raise WeightsNotFoundError(
                f"{model_id}: no weights found: looked for {SAFETENSORS_SINGLE_FILE}, {SAFETENSORS_INDEX_NAME} "
                f"and {PYTORCH_WEIGHTS_NAME}"
            ) from missing
    logger.info("%s: no safetensors weights, reading legacy %s", model_id, legacy)
    return _pickle_checkpoint(legacy, device)


def _legacy_file(model_id: str, options: DownloadOptions) -> Path | None:
    directory = Path(model_id)
    if directory.is_dir():
        path = directory / PYTORCH_WEIGHTS_NAME
        return path if path.is_file() else None
    try:
        return download_file(model_id, PYTORCH_WEIGHTS_NAME, options)
    except EntryNotFoundError:
        return None


# LOAD


def _named_tensors(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {
        **dict(module.named_parameters(remove_duplicate=False)),
        **dict(module.named_buffers(remove_duplicate=False)),
    }


def _set_tensor(module: torch.nn.Module, name: str, value: torch.Tensor) -> None:
    """Put ``value`` at ``name`` (a parameter stays a Parameter with its ``requires_grad``)."""
    owner_name, _, leaf = name.rpartition(".")
    owner = module.get_submodule(owner_name)
    old = owner._parameters.get(leaf)
    if old is not None and not isinstance(value, torch.nn.Parameter):
        value = torch.nn.Parameter(value, requires_grad=old.requires_grad)
    setattr(owner, leaf, value)  # through __setattr__: modules caching their tensors (RNNs) see the change


def _on_device(tensor: torch.Tensor, device: torch.device) -> bool:
    return tensor.device.type == device.type and (device.index is None or tensor.device.index == device.index)


def _preview(names: Sequence[str], limit: int = 10) -> str:
    more = f" (+{len(names) - limit} more)" if len(names) > limit else ""
    return ", ".join(repr(n) for n in names[:limit]) + more


def load_checkpoint(
    module: torch.nn.Module,
    checkpoint: Checkpoint,
    *,
    device: torch.device,
    dtype: torch.dtype | None,
    strict: bool,
    rebuild: Callable[[], torch.nn.Module],
) -> tuple[list[str], list[str]]:
    """Load ``checkpoint`` into ``module`` by assignment (no copy), then leave every tensor on ``device``.

    Steps: tie groups are found by identity (the checkpoint holds each group once, under any of its names); the
    headers are checked against the module (shape always, dtype and keys with ``strict``) before any data is
    read; the tensors are read (memory-mapped on CPU), converted where the dtype differs and assigned with
    ``load_state_dict(assign=True)``; parameters the checkpoint lacks are taken from ``rebuild()`` (a normally
    initialised instance, built only then); buffers not in the checkpoint keep their ``__init__`` values; all is
    moved to ``device`` and ``dtype``; ties are restored.

    Args:
        module: Built by :func:`construct_without_weights` (or normally).
        checkpoint: What to load.
        device: Where every parameter and buffer ends up.
        dtype: Floating-point dtype for floating tensors; ``None`` keeps the module's dtypes.
        strict: Raise on missing or unexpected keys and on dtype mismatches (else log them and convert).
        rebuild: Builds a normally initialised module of the same structure.

    Returns:
        ``(missing, unexpected)`` key names.

    Raises:
        WeightsShapeError: a tensor's shape differs from the module's (always).
        WeightsDtypeError: with ``strict``, a tensor's dtype differs and ``dtype`` does not ask to convert it.
        WeightsKeyError: with ``strict``, keys are missing or unexpected; all are named.
    """
    owner = type(module).__qualname__
    named = _named_tensors(module)
    expected = {k: v for k, v in module.state_dict(keep_vars=True).items() if isinstance(v, torch.Tensor)}
    found = checkpoint.infos

    # Tie groups: names of one tensor object. Each group loads from one source name, preferably in the file.
    groups: dict[int, list[str]] = {}
    for name, tensor in {**named, **expected}.items():
        groups.setdefault(id(tensor), []).append(name)
    source_of: dict[str, str] = {}
    for names in groups.values():
        source = next((n for n in names if n in found), next((n for n in names if n in expected), names[0]))
        source_of.update(dict.fromkeys(names, source))
    aliases = {n for n, s in source_of.items() if n != s}

    # Check the headers before reading anything.
    want = {k: TensorInfo(tuple(t.shape), dtype_name(_target_dtype(t, dtype))) for k, t in expected.items()}
    for key in sorted(want.keys() & found.keys()):
        if want[key].shape != found[key].shape:
            raise WeightsShapeError(checkpoint.files[key], key, want[key].shape, found[key].shape)
        convertible = dtype is not None and want[key].dtype in _FLOATING and found[key].dtype in _FLOATING
        if strict and want[key].dtype != found[key].dtype and not convertible:
            raise WeightsDtypeError(checkpoint.files[key], key, want[key].dtype, found[key].dtype)
    missing, unexpected = check_tensors(
        want, found, source=checkpoint.description, strict=strict, check_dtype=False, ignore_missing=aliases
    )

    # Read (memory-mapped) and assign.
    sources = [n for n in dict.fromkeys(source_of.values()) if n in found and n in expected]
    loaded = checkpoint.read(sources, device)
    state: dict[str, torch.Tensor] = {}
    for name in sources:
        target = _target_dtype(expected[name], dtype)
        state[name] = loaded.pop(name).to(target)  # no copy when the dtype matches
    module.load_state_dict(state, strict=False, assign=True)
    del state

    # Parameters still on meta (absent from the checkpoint) get the module's own initialisation.
    pending = [n for n, t in _named_tensors(module).items() if t.is_meta and n not in aliases]
    if pending and device.type != "meta":
        with _parameters_on_meta(False):
            donor = _named_tensors(rebuild())
        for name in pending:
            if name not in donor or donor[name].is_meta:
                raise WeightsError(f"{owner}: cannot initialise {name!r}, which the checkpoint does not hold")
            _set_tensor(module, name, donor[name].detach())
        del donor

    # Everything on the device and dtype asked for, then ties restored.
    for name, tensor in _named_tensors(module).items():
        if name in aliases:
            continue
        target = _target_dtype(tensor, dtype)
        if not _on_device(tensor, device) or tensor.dtype != target:
            _set_tensor(module, name, tensor.detach().to(device=device, dtype=target))
    final = _named_tensors(module)
    for name in sorted(aliases):
        _set_tensor(module, name, final[source_of[name]])

    if device.type != "meta":
        left = [n for n, t in _named_tensors(module).items() if t.is_meta]
        if left:
            raise WeightsError(f"{owner}: tensors {_preview(left)} are still on the meta device after loading")
    if missing:
        logger.warning(
            "%s: %d weights are not in %s and keep the model's own initialisation: %s",
            owner,
            len(missing),
            checkpoint.description,
            _preview(missing),
        )
    if unexpected:
        logger.warning(
            "%s: %d tensors of %s are not used by the model: %s",
            owner,
            len(unexpected),
            checkpoint.description,
            _preview(unexpected),
        )
    return missing, unexpected
