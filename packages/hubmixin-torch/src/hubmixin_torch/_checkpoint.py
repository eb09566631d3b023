"""Opening a checkpoint for torch: core's safetensors checkpoint, or a legacy ``pytorch_model.bin``.

See :func:`locate_torch_weights` and :func:`open_torch_weights`; reading tensors by name, the header checks and
the report are core's.
"""

from __future__ import annotations

import logging
import pickle
import re
import sys
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from huggingface_hub.errors import LocalEntryNotFoundError

from hubmixin_core import DownloadOptions, locate_file
from hubmixin_core._checks import expand_location
from hubmixin_core._hub import cached_alternative
from hubmixin_core.errors import WeightsFileError, WeightsNotFoundError, weights_not_found
from hubmixin_core.weights import (
    ALIGNMENT,
    PYTORCH_WEIGHTS_NAME,
    SAFETENSORS_INDEX_NAME,
    SAFETENSORS_SINGLE_FILE,
    Checkpoint,
    TensorInfo,
    WeightFiles,
    resolve_weight_files,
)
from hubmixin_core.weights._checkpoint import utf8_path
from hubmixin_core.weights._resolve import (
    folder_listing,
    hub_checkpoint_hint,
    missing_weights_error,
    native_checkpoint_hint,
    unreadable_weights,
)
from hubmixin_torch._dtypes import TORCH_DTYPES, dtype_name

__all__ = ["locate_torch_weights", "open_torch_file", "open_torch_weights", "read_tensors"]

_LEGACY_INDEX = f"{PYTORCH_WEIGHTS_NAME}.index.json"
"""The index of a sharded ``torch.save`` checkpoint (``pytorch_model-00001-of-00002.bin``, ...)."""

logger = logging.getLogger("hubmixin_torch")


def read_tensors(checkpoint: Checkpoint, names: Sequence[str], device: torch.device) -> dict[str, torch.Tensor]:
    """The tensors ``names`` on ``device``, never read for ``meta``.

    On CPU every tensor comes back 64-byte aligned, so it computes exactly as freshly allocated memory does: a
    tensor stored aligned (as hubmixin writes them) is memory-mapped, not copied; one stored elsewhere (files
    other writers laid out) is read into fresh aligned memory, once. On Windows every tensor is read so: a mapped
    file cannot be replaced or deleted there while the model lives (a save into its folder, a temporary folder).
    """
    if device.type == "meta":
        infos = {n: checkpoint.infos[n] for n in names}
        return {n: torch.empty(i.shape, dtype=TORCH_DTYPES[i.dtype], device=device) for n, i in infos.items()}
    if device.type != "cpu" or checkpoint.reader is not None:
        read: dict[str, torch.Tensor] = checkpoint.read(names, framework="pt", device=str(device))
        return read
    mapped = [n for n in names if _maps_files() and checkpoint.is_aligned(n, ALIGNMENT)]
    tensors: dict[str, torch.Tensor] = checkpoint.read(mapped, framework="pt", device="cpu")
    for name, raw in checkpoint.read_raw([n for n in names if n not in tensors]).items():
        info = checkpoint.infos[name]
        tensors[name] = torch.from_numpy(raw).view(TORCH_DTYPES[info.dtype]).reshape(info.shape)
    return tensors


def _maps_files() -> bool:
    """Whether loaded tensors may stay mapped from their file: not on Windows, which then locks the file."""
    return sys.platform != "win32"


def _check_torch_dtypes(checkpoint: Checkpoint) -> Checkpoint:
    for name, info in checkpoint.infos.items():
        if info.dtype not in TORCH_DTYPES:
            raise WeightsFileError(
                f"{checkpoint.source(name)}: tensor {name!r} has dtype {info.dtype}, which hubmixin does not load "
                f"into torch (it loads {', '.join(TORCH_DTYPES)})"
            )
    return checkpoint


_PICKLE_PROTOCOL = b"\x80"  # the PROTO opcode that starts every pickle of protocol 2 or later


def _pickle_checkpoint(path: Path, device: torch.device) -> Checkpoint:
    """A legacy ``pytorch_model.bin``, read with ``torch.load(weights_only=True)``: never a full unpickle."""
    try:
        mmap = zipfile.is_zipfile(path)  # torch >= 1.6 format; the older one cannot be memory-mapped
        with path.open("rb") as file:
            pickled = file.read(1) == _PICKLE_PROTOCOL  # the older format is pickles from its first byte
        if not mmap and not pickled:
            raise WeightsFileError(f"{path}: not a PyTorch checkpoint (neither a zip archive nor a pickle)")
        with utf8_path(path) as readable:  # (torch.load encodes the path as UTF-8)
            state = torch.load(readable, map_location=device, weights_only=True, mmap=mmap and _maps_files())
    except WeightsFileError:
        raise
    except pickle.UnpicklingError as e:
        raise WeightsFileError(f"{path}: refusing to load: it holds more than tensors ({_refusal(e)})") from None
    except Exception as e:  # a corrupt file makes torch raise anything (struct.error, BadZipFile, IndexError...)
        reason = f"{type(e).__name__}: {_refusal(e)}"
        raise WeightsFileError(f"{path}: cannot read PyTorch checkpoint ({reason})") from None
    if not isinstance(state, Mapping):
        raise WeightsFileError(f"{path}: expected a state dict, found a {type(state).__name__}")
    for key, value in state.items():
        if not isinstance(key, str):
            raise WeightsFileError(f"{path}: key {key!r} is a {type(key).__name__}, not a str (a tensor's name)")
        if not isinstance(value, torch.Tensor):
            raise WeightsFileError(f"{path}: entry {key!r} is a {type(value).__name__}, not a tensor")
        if (kind := _not_dense(value)) is not None:  # no one array of values: safetensors cannot hold it either
            raise WeightsFileError(f"{path}: entry {key!r} is a {kind} tensor: hubmixin loads dense tensors only")
    tensors: dict[str, torch.Tensor] = dict(state)

    def read(names: Sequence[str], framework: str, device: str) -> dict[str, Any]:
        return {n: tensors[n] for n in names}

    infos = {n: TensorInfo(tuple(t.shape), dtype_name(t.dtype)) for n, t in tensors.items()}
    return Checkpoint(infos, dict.fromkeys(tensors, path), str(path), reader=read)


def _not_dense(tensor: torch.Tensor) -> str | None:
    """What ``tensor`` is where it is not one dense array of values (sparse, nested, quantized); else ``None``."""
    if tensor.is_nested:
        return "nested"
    if tensor.layout != torch.strided:
        return str(tensor.layout).removeprefix("torch.").replace("_", " ")
    if tensor.is_quantized:
        return f"quantized ({dtype_name(tensor.dtype)})"
    return None


def _refusal(error: Exception) -> str:
    """What torch's weights-only unpickler refused, without its advice to retry with ``weights_only=False``."""
    advice = (
        "weights_only",
        "weights only",
        "Check the documentation",
        "Please file an issue",
        "trusted source",
        "trust the source",
        "can still be loaded",
        "safe_globals",  # allow-listing the class is trusting the file
    )
    sentences = [part.strip() for line in str(error).splitlines() for part in re.split(r"(?<=\.)\s+", line)]
    kept = [text for text in sentences if text and not any(a.lower() in text.lower() for a in advice)]
    return " ".join(kept) or "no reason given"


def locate_torch_weights(model_id: str, download: DownloadOptions) -> WeightFiles | Path:
    """Find the weights of ``model_id`` (a local directory or a repo id): the safetensors files (one, or shards
    downloaded in parallel), else the path of a legacy ``pytorch_model.bin``; no file is opened but a shard index.

    Raises:
        WeightsNotFoundError: none of ``model.safetensors``, ``model.safetensors.index.json`` and
            ``pytorch_model.bin`` is there.
        ShardIndexError: the index names a shard that is missing.
    """
    try:
        # (no legacy hint: reading pytorch_model.bin is this function's own fallback)
        return resolve_weight_files(expand_location(model_id), download, legacy_hint=False)
    except LocalEntryNotFoundError:  # offline, no safetensors cached: a cached legacy file loads
        index = cached_alternative(model_id, SAFETENSORS_INDEX_NAME, download)
        legacy = None if index is not None else cached_alternative(model_id, PYTORCH_WEIGHTS_NAME, download)
        if legacy is None:  # (a shard of a cached index missing is named, never replaced by another file)
            raise
    except WeightsNotFoundError as missing:
        legacy = locate_file(model_id, PYTORCH_WEIGHTS_NAME, download)
        directory = Path(expand_location(model_id))
        names = (SAFETENSORS_SINGLE_FILE, SAFETENSORS_INDEX_NAME, PYTORCH_WEIGHTS_NAME)
        if legacy is None and directory.is_dir() and (unreadable := unreadable_weights(directory, names)):
            raise unreadable from missing
        if legacy is None:
            message = (
                f"{model_id}: no weights found: looked for {SAFETENSORS_SINGLE_FILE}, {SAFETENSORS_INDEX_NAME} "
                f"and {PYTORCH_WEIGHTS_NAME}"
            )
            if locate_file(model_id, _LEGACY_INDEX, download) is not None:  # sharded .bin files: named, with how to
                shards = f"hubmixin-torch reads a single {PYTORCH_WEIGHTS_NAME} as it is, not its shards"
                message = f"{missing_weights_error(model_id, download)} ({shards})"
            elif directory.is_dir():  # what it holds; safetensors renamed or a framework's own checkpoint converted
                held = sorted(entry.name for entry in directory.iterdir())
                message += f" (it holds {folder_listing(held)}){native_checkpoint_hint(directory)}"
            else:
                message += hub_checkpoint_hint(model_id, download, legacy=False)
            raise weights_not_found(message, missing) from missing
    logger.info("%s: no safetensors weights, reading legacy %s", model_id, legacy)
    return legacy


def open_torch_weights(weights: WeightFiles | Path, device: torch.device) -> Checkpoint:
    """The checkpoint of weights :func:`locate_torch_weights` found: safetensors headers read, or a legacy
    ``pytorch_model.bin`` read with ``torch.load(weights_only=True, mmap=True)``.

    Raises:
        WeightsFileError: a file is not a valid checkpoint, holds a dtype torch lacks; a ``.bin`` holds more
            than tensors, or tensors that are not dense (sparse, nested, quantized).
        ShardIndexError: the index and the shards disagree.
    """
    if isinstance(weights, WeightFiles):
        return _check_torch_dtypes(Checkpoint.from_files(weights))
    return _pickle_checkpoint(weights, device)


def open_torch_file(path: str | Path, device: torch.device, *, pickled: bool) -> Checkpoint:
    """One weights file: safetensors (headers read), or with ``pickled`` a ``torch.save`` state dict read with
    ``torch.load(weights_only=True)``."""
    path = Path(path)
    if not path.is_file():  # a FileNotFoundError, as safetensors' and torch.load's are
        raise WeightsNotFoundError(f"{path}: no such weights file")
    return open_torch_weights(path if pickled else WeightFiles((path,)), device)
