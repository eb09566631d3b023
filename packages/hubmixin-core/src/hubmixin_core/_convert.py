"""``hubmixin convert``: a checkpoint written by a framework's own tools, rewritten in the canonical layout.

The output is a hubmixin save directory (``model.safetensors`` or shards, PyTorch names and layouts,
``format="pt"``, the layout metadata, and ``config.json`` when one is found) that every framework package's
``from_pretrained`` loads. Readers of native formats live in the framework packages and register under the
entry-point group :data:`GROUP`, so core never imports a framework:

- ``hubmixin-torch``: ``state_dict`` files (``.pt``, ``.pth``, ``.bin``), read with ``weights_only=True``;
- ``hubmixin-flax``: Flax msgpack (``flax.serialization.to_bytes`` of an NNX state), needs ``--model``;
- ``hubmixin-keras``: Keras ``.weights.h5``, needs ``--model``.

Safetensors files are handled here. Names and layouts inside Flax and Keras files are the framework's own and
their files do not say which layer a tensor belongs to, so those readers load the file into the source model
(``--model package.module:Class``, built from the config) and write it through its ``save_pretrained``, whose
adapters are chosen by layer type.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import os
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol

import numpy as np
from huggingface_hub.utils.tqdm import tqdm
from numpy.typing import NDArray

from hubmixin_core._atomic import _stem, atomic_directory
from hubmixin_core._checks import misspelt_keys
from hubmixin_core._config import loads_config
from hubmixin_core._native import keras_sharded_advice
from hubmixin_core._paths import check_probeable, path_argument
from hubmixin_core.errors import HubMixinError, MissingArgumentError, WeightsFileError
from hubmixin_core.weights import (
    CONFIG_NAME,
    FRAMEWORK_KEY,
    Header,
    canonical_metadata,
    read_header,
    write_safetensors,
)
from hubmixin_core.weights._metadata import check_layout_version
from hubmixin_core.weights._names import replaced_by_save
from hubmixin_core.weights._read import _locate, _read_all, aligned_empty, read_raw
from hubmixin_core.weights._resolve import _TORCH_CHECKPOINTS, CONVERTERS_GROUP, TORCH_SUFFIXES, torch_reader_note

__all__ = [
    "GROUP",
    "PROGRESS_FROM_BYTES",
    "TARGETS",
    "ConvertError",
    "ConvertProgress",
    "ConvertRequest",
    "Converter",
    "add_convert_parser",
    "convert_checkpoint",
    "load_class",
    "source_model_class",
]

GROUP = CONVERTERS_GROUP
"""Entry-point group of native-format readers: each entry point is a `Converter`."""

TARGETS = ("torch", "flax", "keras")
"""Frameworks ``--to`` accepts."""


class ConvertError(HubMixinError, ValueError):
    """A conversion cannot be done as asked (unknown format, missing ``--model``, target not installed)."""


@dataclass(frozen=True)
class ConvertRequest:
    """What to convert, and how.

    Attributes:
        source: The native checkpoint file (or directory of shards).
        to: The framework that will load the result (``torch``, ``flax`` or ``keras``).
        model: ``package.module:Class`` of the source model, for formats whose files do not name layers.
        config: The model's configuration (``config.json``), when known.
        input_shape: Shape of a dummy input that builds a Keras model which cannot build itself.
        max_shard_size: Shard the output above this size (``"5GB"``; None: one file).
        progress: Show a progress bar.
        config_file: The file ``config`` was read from (``--config``, or the ``config.json`` beside ``source``).
    """

    source: Path
    to: str
    model: str | None = None
    config: dict[str, Any] | None = None
    input_shape: tuple[int, ...] | None = None
    max_shard_size: str | None = None
    progress: bool = True
    config_file: Path | None = None

    @property
    def config_source(self) -> str:
        """Where ``config`` came from, as messages name it (the file, else "the config.json of SOURCE")."""
        return str(self.config_file) if self.config_file is not None else f"the {CONFIG_NAME} of {self.source}"


class Converter(Protocol):
    """A reader of one framework's native checkpoint format."""

    framework: str
    """The framework whose files it reads (recorded as ``hubmixin.framework``)."""

    def accepts(self, source: Path) -> bool:
        """Whether ``source`` is in this reader's format (by name; contents are checked by `convert`)."""
        ...

    def convert(self, request: ConvertRequest, output: Path) -> None:
        """Write the weights of ``request.source`` into the empty directory ``output``, in the canonical layout."""
        ...


PROGRESS_FROM_BYTES = 100 * 2**20
"""A conversion that reads at least this many bytes shows a progress bar (unless asked not to)."""

_STEP_BYTES = 64 * 2**20  # one step of the bar: it moves during a large tensor, and reads stay parallel
_POLL_S = 0.1


class ConvertProgress:
    """One progress bar over the bytes a conversion reads from its source and writes under its output.

    Readers count what they read (`read`, or `copy` and `read_file`, which read in steps). What is written is
    measured from the sizes of the files under the output directory and under the staging directories a
    ``save_pretrained`` into it writes first, so a framework's own writer is followed as it writes.
    Use it as a context manager: the bar reaches 100 % only when the body ends without an error.
    """

    def __init__(self, request: ConvertRequest, output: Path, *, reads: int, writes: int | None = None) -> None:
        """``reads``: bytes the reader will read; ``writes``: bytes of tensors it will write (default: as many)."""
        self._output, self._reads = output, reads
        self._writes = reads if writes is None else writes
        self._read = self._wrote = 0  # (what was written is measured by the poller alone: a directory walk)
        self._bar = tqdm(  # type: ignore[no-untyped-call]
            total=self._reads + self._writes,
            unit="B",
            unit_scale=True,
            desc=request.source.name,
            disable=not (request.progress and reads >= PROGRESS_FROM_BYTES),
        )
        self.shown: bool = not self._bar.disable
        """Whether the bar shows (``HF_HUB_DISABLE_PROGRESS_BARS`` hides it too)."""
        self._lock = threading.Lock()  # the bar moves from the reader (reads) and from the poller (writes)
        self._stop = threading.Event()
        self._poller = threading.Thread(target=self._poll, name="hubmixin-convert-progress", daemon=True)

    def __enter__(self) -> ConvertProgress:
        if self.shown:
            self._poller.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        if self.shown:
            self._stop.set()
            self._poller.join()
            if kind is None:
                self._move_to(self._reads + self._writes)
        self._bar.close()

    def read(self, nbytes: int) -> None:
        """Count ``nbytes`` more bytes read from the source."""
        self._read += nbytes
        if self.shown:
            self._move()

    def copy(self, data: NDArray[np.uint8]) -> NDArray[np.uint8]:
        """The flat bytes ``data`` (a view of a memory-mapped source) read into memory step by step, counted;
        without a bar, ``data`` itself (its writer reads it)."""
        if not self.shown:
            self.read(data.nbytes)
            return data
        copied = aligned_empty(data.shape, data.dtype)
        for start in range(0, data.size, _STEP_BYTES):
            copied[start : start + _STEP_BYTES] = data[start : start + _STEP_BYTES]
            self.read(min(_STEP_BYTES, data.size - start))
        return copied

    def read_file(self, path: Path) -> bytearray:
        """The bytes of the file ``path``, read step by step and counted."""
        data = bytearray(path.stat().st_size)
        done = 0
        with path.open("rb") as file, memoryview(data) as view:
            while done < len(data) and (count := file.readinto(view[done : done + _STEP_BYTES])):
                done += count
                self.read(count)
        del data[done:]  # (a file cut short since its size was read)
        return data

    def _poll(self) -> None:
        while not self._stop.wait(_POLL_S):
            self._wrote = self._written()
            self._move()

    def _move(self) -> None:
        """Show the bytes read and written so far (never more than expected: the files hold headers too)."""
        self._move_to(min(self._read, self._reads) + min(self._wrote, self._writes))

    def _move_to(self, position: int) -> None:
        with self._lock:
            if position > self._bar.n:
                self._bar.update(position - self._bar.n)

    def _written(self) -> int:
        """Bytes of the files under the output and under the staging directories of a save into it."""
        staging = f".{_stem(self._output.name)}.hubmixin-"  # (see hubmixin_core._atomic)
        try:
            with os.scandir(self._output.parent) as entries:
                roots = [entry.path for entry in entries if entry.name.startswith(staging)]
        except OSError:
            roots = []
        return sum(_tree_bytes(root) for root in [str(self._output), *roots])


def _tree_bytes(root: str) -> int:
    """Bytes of the files under ``root``; what vanishes while it is read (a staging directory renamed) is 0."""
    total = 0
    try:
        with os.scandir(root) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    total += _tree_bytes(entry.path)
                elif entry.is_file(follow_symlinks=False):
                    total += entry.stat(follow_symlinks=False).st_size
    except OSError:
        pass
    return total


def load_class(spec: str) -> type[Any]:
    """The class named by ``package.module:Class``, imported from the installed packages or, failing that, from the
    working directory (which the ``hubmixin`` script, unlike ``python -m``, leaves off ``sys.path``): a local folder
    never shadows an installed package."""
    module_name, _, name = spec.partition(":")
    if not module_name or not name:
        raise ConvertError(f"--model {spec!r}: expected package.module:ClassName")
    try:
        found = getattr(_import_here_too(module_name), name)
    except (ImportError, AttributeError) as error:
        here = _working_directory()
        looked = "the installed packages" + (f" and {here}" if here else "")
        raise ConvertError(f"--model {spec!r}: {error} (looked in {looked})") from None
    if not isinstance(found, type):
        raise ConvertError(f"--model {spec!r} is not a class")
    return found


def _import_here_too(module_name: str) -> Any:
    """Import ``module_name``; where its top package is not installed, with the working directory appended to
    ``sys.path`` (kept there: the module may import its siblings later)."""
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        here = _working_directory()
        top = module_name.partition(".")[0]
        if error.name != top or here is None or any(entry in ("", ".", here) for entry in sys.path):
            raise
        sys.path.append(here)
        return importlib.import_module(module_name)


def _working_directory() -> str | None:
    """The working directory; ``None`` where it was removed."""
    try:
        return str(Path.cwd())
    except OSError:
        return None


def source_model_class(request: ConvertRequest, base: type[Any], why: str) -> type[Any]:
    """The ``--model`` class of ``request``, a subclass of ``base``; ``why`` says why the format needs it."""
    if request.model is None:
        raise ConvertError(f"{request.source}: {why}: pass --model package.module:Class (a {base.__name__})")
    cls = load_class(request.model)
    if not issubclass(cls, base):
        raise ConvertError(f"--model {request.model}: not a {base.__name__}")
    return cls


_LIKELY_READER = {".pt": "torch", ".pth": "torch", ".bin": "torch", ".h5": "keras", ".msgpack": "flax"}
"""The converter to try first for a file suffix: each one imports its framework, so the others are not loaded
when it accepts the file (the converters still decide)."""


def _likely_reader(source: Path) -> str | None:
    """The converter likely to read ``source``, by its name (shards are torch's, by their index)."""
    if source.is_dir() or source.name.endswith(".bin.index.json"):
        return "torch"
    return _LIKELY_READER.get(source.suffix)


def _converters(source: Path, failed: dict[str, Exception]) -> Iterator[Converter]:
    """The converters, loaded one at a time as they are asked for: core's, then the likely one for ``source``;
    those that fail to load are added to ``failed`` with their error."""
    yield _SAFETENSORS
    likely = _likely_reader(source)
    for entry_point in sorted(metadata.entry_points(group=GROUP), key=lambda ep: (ep.name != likely, ep.name)):
        try:
            yield entry_point.load()
        except Exception as error:  # a broken framework install must not hide the other readers
            print(f"hubmixin: warning: skipping converter {entry_point.name}: {error}", file=sys.stderr)
            failed[entry_point.name] = error


class _SafetensorsConverter:
    framework = "safetensors"

    def accepts(self, source: Path) -> bool:
        return source.suffix == ".safetensors"

    def convert(self, request: ConvertRequest, output: Path) -> None:
        """Rewrite the file (sharded as asked), its tensors aligned, with the canonical layout's metadata; a file
        of a layout this release does not read is refused, as ``from_pretrained`` refuses it (rewritten, it would
        be stamped with this release's layout)."""
        header = read_header(request.source)  # validates before anything is written
        if header.metadata.get("format", "pt") != "pt":
            raise WeightsFileError(f"{request.source}: format {header.metadata['format']!r} is not the PyTorch layout")
        check_layout_version(header.metadata, str(request.source))
        framework = header.metadata.get(FRAMEWORK_KEY, "torch")
        with ConvertProgress(request, output, reads=sum(info.nbytes for info in header.tensors.values())) as progress:
            write_safetensors(
                output,
                header.tensors,
                lambda name: _read_tensor(request.source, header, name, progress),  # one in memory at a time
                max_shard_size=request.max_shard_size,
                metadata={**header.metadata, **canonical_metadata(framework)},
            )


def _read_tensor(path: Path, header: Header, name: str, progress: ConvertProgress) -> NDArray[np.uint8]:
    """The stored bytes of tensor ``name``: read at once, or in counted steps where a bar shows."""
    if not progress.shown:
        return read_raw(path, [name])[name]
    info, _, offset = _locate(path, header, name)
    raw = aligned_empty((info.nbytes,), np.dtype(np.uint8))
    for start in range(0, info.nbytes, _STEP_BYTES):
        _read_all(path, [(raw[start : start + _STEP_BYTES], offset + start)])
        progress.read(min(_STEP_BYTES, info.nbytes - start))
    return raw


_SAFETENSORS = _SafetensorsConverter()


def _config_path(source: Path, config: str | Path | None) -> Path:
    return Path(config) if config is not None else (source if source.is_dir() else source.parent) / CONFIG_NAME


def _read_config(source: Path, config: str | Path | None) -> dict[str, Any] | None:
    path = _config_path(source, config)
    if not path.is_file():
        if config is not None:
            raise ConvertError(f"{path}: no such config file")
        return None
    try:
        loaded = loads_config(path.read_text(encoding="utf-8"))
    except (ValueError, RecursionError) as error:
        raise ConvertError(f"{path}: not valid JSON ({error})") from None
    if not isinstance(loaded, dict):
        raise ConvertError(f"{path}: expected a JSON object")
    return loaded


def convert_checkpoint(
    source: str | Path,
    destination: str | Path,
    *,
    to: str,
    model: str | None = None,
    config: str | Path | None = None,
    input_shape: tuple[int, ...] | None = None,
    max_shard_size: str | None = None,
    progress: bool = True,
) -> Path:
    """Rewrite the native checkpoint ``source`` as a hubmixin save directory ``destination`` (atomically).

    Args:
        source: A ``state_dict`` file, a Keras ``.weights.h5``, a Flax ``.msgpack`` or a ``.safetensors`` file.
        destination: The directory to write; replaced as a whole if it exists.
        to: The framework that will load it: ``torch``, ``flax`` or ``keras`` (its package must be installed).
        model: ``package.module:Class`` of the source model (Flax and Keras files).
        config: The model's ``config.json`` (default: the one beside ``source``), copied to ``destination``.
        input_shape: A dummy input's shape, for Keras models that cannot build themselves.
        max_shard_size: Shard the output above this size.
        progress: Show a progress bar on large files.

    Returns:
        The destination directory.

    Raises:
        ConvertError: Unknown format or target, ``--model`` missing where it is needed.
        WeightsFileError: The source file is malformed or holds more than tensors (never unpickled).
        LayoutError: A safetensors source is of a canonical layout this release does not read.
    """
    source, destination = Path(source), Path(destination)
    if to not in TARGETS:
        raise ConvertError(f"--to {to!r}: expected one of {', '.join(TARGETS)}")
    if importlib.util.find_spec(f"hubmixin_{to}") is None:
        raise ConvertError(f"--to {to}: hubmixin-{to} is not installed (pip install hubmixin-{to})")
    check_probeable(source)
    if not source.exists():
        raise ConvertError(f"{source}: no such file or directory")
    failed: dict[str, Exception] = {}
    converter = next((c for c in _converters(source, failed) if c.accepts(source)), None)
    if converter is None:
        raise _no_reader(source, failed)
    loaded_config = _read_config(source, config)
    config_file = _config_path(source, config) if loaded_config is not None else None
    request = ConvertRequest(source, to, model, loaded_config, input_shape, max_shard_size, progress, config_file)
    with atomic_directory(destination, replaces=replaced_by_save) as staging:
        try:
            converter.convert(request, staging)
        except MissingArgumentError as error:
            raise _missing_arguments(request, _config_path(source, config), error) from None
        if loaded_config is not None and not (staging / CONFIG_NAME).exists():
            (staging / CONFIG_NAME).write_text(json.dumps(loaded_config, indent=2, sort_keys=True) + "\n")
    return destination


_KERAS_BACKEND_NOTE = (
    " (Keras imports the backend KERAS_BACKEND names, TensorFlow where it is unset: set it to the one installed, "
    "e.g. KERAS_BACKEND=jax)"
)


def _no_reader(source: Path, failed: dict[str, Exception]) -> ConvertError:
    """The error for a ``source`` no installed converter reads: where its likely reader is installed but failed
    to load (``failed``), why; a PyTorch checkpoint without hubmixin-torch is named as such, with what installs
    its reader."""
    held = [name for name in _TORCH_CHECKPOINTS if (source / name).is_file()] if source.is_dir() else []
    likely = _likely_reader(source) if held or not source.is_dir() else None  # (a folder: by what it holds)
    if likely is not None and likely in failed:
        note = _KERAS_BACKEND_NOTE if likely == "keras" else ""
        why = str(failed[likely]) or type(failed[likely]).__name__
        return ConvertError(
            f"{source}: its reader, hubmixin-{likely}, is installed but could not be loaded: {why}{note}"
        )
    needs = torch_reader_note()
    torch_file = source.suffix in TORCH_SUFFIXES or source.name.endswith(".bin.index.json")
    if needs and (held or torch_file):
        what = f"a folder holding {held[0]}" if held else "a PyTorch checkpoint"
        return ConvertError(f"{source}: {what}: {needs}")
    if not source.is_dir() and (sharded := keras_sharded_advice(source)) is not None:
        return ConvertError(f"{source}: {sharded}")
    if source.is_dir():
        return ConvertError(
            f"{source}: a folder holding no checkpoint hubmixin converts (a folder: pytorch_model.bin or "
            "shards with their pytorch_model.bin.index.json, with hubmixin-torch; give other formats' file path)"
        )
    return ConvertError(
        f"{source}: not a format hubmixin converts (.safetensors; .pt/.pth/.bin with hubmixin-torch; "
        ".weights.h5 with hubmixin-keras; .msgpack with hubmixin-flax)"
    )


def _missing_arguments(request: ConvertRequest, config: Path, error: MissingArgumentError) -> ConvertError:
    """The error for a ``--model`` that the config cannot build, with the command line's remedy (``--config``)
    rather than ``from_pretrained``'s (``model_kwargs``)."""
    if request.config is None:
        beside = "in" if request.source.is_dir() else "beside"
        where = f"there is no {CONFIG_NAME} {beside} {request.source}: pass the model's config with --config PATH"
    else:
        where = f"{config} does not hold them: add them to it, or pass another config with --config PATH"
        where += misspelt_keys(error.missing, [key for key in request.config if key not in error.missing])
    return ConvertError(f"--model {request.model}: cannot build the model without {error.missing}: {where}")


def _shape(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected integers separated by commas, e.g. 1,28,28,1") from None


def _run(args: argparse.Namespace) -> int:
    try:
        convert_checkpoint(
            args.src,
            args.dst,
            to=args.to,
            model=args.model,
            config=args.config,
            input_shape=args.input_shape,
            max_shard_size=args.max_shard_size,
            progress=not args.quiet,
        )
    except (HubMixinError, OSError) as error:
        print(f"hubmixin: error: {str(error).splitlines()[0] if str(error) else type(error).__name__}", file=sys.stderr)
        return 1
    if not args.quiet:
        print(f"wrote {args.dst}: load it with hubmixin_{args.to}'s from_pretrained({str(args.dst)!r})")
    return 0


def add_convert_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``convert SRC DST --to {torch,flax,keras}`` to a ``hubmixin`` parser."""
    parser = subparsers.add_parser("convert", help="rewrite a framework-native checkpoint in the canonical layout")
    parser.add_argument(
        "src", metavar="SRC", type=path_argument, help="state_dict file, .weights.h5, .msgpack or .safetensors"
    )
    parser.add_argument("dst", metavar="DST", type=path_argument, help="the hubmixin save directory to write")
    parser.add_argument("--to", required=True, choices=TARGETS, help="the framework that will load DST")
    parser.add_argument("--model", default=None, help="package.module:Class of the source model (Flax, Keras)")
    parser.add_argument(
        "--config", type=path_argument, default=None, help="config.json of the model (default: beside SRC)"
    )
    parser.add_argument("--input-shape", type=_shape, default=None, help="dummy input that builds a Keras model")
    parser.add_argument("--max-shard-size", default=None, help='shard the output above this size ("5GB")')
    parser.add_argument("--quiet", action="store_true", help="no progress bar, no summary line")
    parser.set_defaults(func=_run)
