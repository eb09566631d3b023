"""``hubmixin inspect``: what a checkpoint holds, read from its safetensors headers only (no tensor data).

Examples:
    >>> import numpy as np, tempfile
    >>> from safetensors.numpy import save_file
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     save_file({"fc.weight": np.zeros((2, 3), np.float32)}, f"{tmp}/model.safetensors", {"format": "pt"})
    ...     summary = inspect_checkpoint(tmp)
    >>> summary.parameters, summary.tensor_bytes, summary.format
    (6, 24, 'pt')
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hubmixin_core._generated._options import DownloadOptions
from hubmixin_core._paths import check_local_location
from hubmixin_core.errors import HubMixinError, WeightsFileError
from hubmixin_core.weights import (
    FRAMEWORK_KEY,
    LAYOUT_KEY,
    Header,
    TensorInfo,
    read_header,
    read_tensor_infos,
    resolve_weight_files,
)
from hubmixin_core.weights._resolve import missing_weights_error

__all__ = ["CheckpointSummary", "FileSummary", "add_inspect_parser", "inspect_checkpoint"]


@dataclass(frozen=True)
class FileSummary:
    """One safetensors file: its name, size in bytes, tensors and header metadata."""

    name: str
    size: int
    tensors: dict[str, TensorInfo]
    metadata: dict[str, str]


@dataclass(frozen=True)
class CheckpointSummary:
    """The files of a checkpoint (one, or every shard) and what their headers say."""

    source: str
    files: list[FileSummary]

    def _first(self, key: str) -> str | None:
        return next((f.metadata[key] for f in self.files if key in f.metadata), None)

    @property
    def layout_version(self) -> str | None:
        """The hubmixin layout version (metadata ``hubmixin.layout``), or None for other writers."""
        return self._first(LAYOUT_KEY)

    @property
    def framework(self) -> str | None:
        """The framework that wrote the checkpoint (metadata ``hubmixin.framework``), when recorded."""
        return self._first(FRAMEWORK_KEY)

    @property
    def format(self) -> str | None:
        """The safetensors ``format`` metadata (``"pt"`` for the canonical layout)."""
        return self._first("format")

    @property
    def parameters(self) -> int:
        """Number of scalars in every tensor."""
        return sum(math.prod(info.shape) for f in self.files for info in f.tensors.values())

    @property
    def tensor_bytes(self) -> int:
        """Bytes of tensor data."""
        return sum(info.nbytes for f in self.files for info in f.tensors.values())

    @property
    def total_size(self) -> int:
        """Bytes of the files on disk (headers included)."""
        return sum(f.size for f in self.files)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready description (what ``hubmixin inspect --json`` prints)."""
        return {
            "source": self.source,
            "format": self.format,
            "layout_version": self.layout_version,
            "framework": self.framework,
            "parameters": self.parameters,
            "tensor_bytes": self.tensor_bytes,
            "total_size": self.total_size,
            "files": [
                {
                    "name": f.name,
                    "size": f.size,
                    "metadata": f.metadata,
                    "tensors": {n: {"dtype": t.dtype, "shape": list(t.shape)} for n, t in f.tensors.items()},
                }
                for f in self.files
            ],
        }


def inspect_checkpoint(path_or_repo: str | Path, *, revision: str | None = None) -> CheckpointSummary:
    """Summarise a checkpoint from its headers: a ``.safetensors`` file, a save directory, or a Hub repo id.

    Local files are validated by `hubmixin_core.weights.read_header`; a repository's headers are fetched with
    HTTP range requests (``huggingface_hub.get_safetensors_metadata``), so no weights are downloaded. Offline
    (``HF_HUB_OFFLINE=1``), a repository's headers are read from its files in the Hub cache, found as
    ``from_pretrained`` finds them.

    Raises:
        WeightsNotFoundError: Nothing holds safetensors weights at ``path_or_repo``.
        WeightsFileError: A header is malformed (names the file).
    """
    path = Path(path_or_repo)
    if path.is_file():
        files = [path]
    elif path.is_dir():
        weights = resolve_weight_files(path)
        read_tensor_infos(weights)  # an index and its shards agree, as from_pretrained checks them
        files = sorted(weights.files)  # shards in their numbered order
    else:
        check_local_location(path_or_repo, "give a .safetensors file, a model directory or a repo id", files=True)
        from huggingface_hub.errors import GatedRepoError, RepositoryNotFoundError

        try:
            return _inspect_repo(str(path_or_repo), revision)
        except RepositoryNotFoundError as error:
            if isinstance(path_or_repo, Path) or isinstance(error, GatedRepoError):
                raise
            where = Path(path_or_repo).absolute()
            said = [line for line in str(error).splitlines() if line.strip()] or [type(error).__name__]
            message = f"{str(path_or_repo)!r} is neither a local file or directory ({where} does not exist) nor a "
            message += f"repository on the Hub ({said[-1]})"  # one line: the command prints the last
            raise RepositoryNotFoundError(message, response=error.response) from error
    return _summarise(str(path_or_repo), files)


def _summarise(source: str, files: list[Path]) -> CheckpointSummary:
    summaries = []
    for file in files:
        header = _read_header(file)
        summaries.append(FileSummary(file.name, file.stat().st_size, header.tensors, header.metadata))
    return CheckpointSummary(source, summaries)


_NATIVE_FORMATS = (
    (b"PK\x03\x04", "a zip archive (torch.save's format)"),
    *((b"\x80" + bytes([protocol]), "a Python pickle (torch.save's legacy format)") for protocol in range(2, 6)),
    (b"\x89HDF\r\n\x1a\n", "an HDF5 file (Keras' .weights.h5)"),
)
"""Leading bytes of the checkpoint formats that are not safetensors, and what each file is."""


def _read_header(file: Path) -> Header:
    """``read_header(file)``, naming a framework's own checkpoint format (and ``hubmixin convert``) where the
    file is one."""
    try:
        return read_header(file)
    except WeightsFileError:
        with file.open("rb") as handle:
            start = handle.read(8)
        what = next((name for magic, name in _NATIVE_FORMATS if start.startswith(magic)), None)
        if what is None:
            raise
        raise WeightsFileError(
            f"{file}: not a safetensors file but {what}: convert it with "
            f"`hubmixin convert {file} DST --to torch|flax|keras`, then inspect DST"
        ) from None


def _inspect_cached_repo(repo_id: str, revision: str | None) -> CheckpointSummary:
    """Offline: the headers of the files of ``repo_id`` that the Hub cache holds (its weights at ``revision``)."""
    weights = resolve_weight_files(repo_id, DownloadOptions(revision=revision))
    read_tensor_infos(weights)
    return _summarise(repo_id, sorted(weights.files))


def _inspect_repo(repo_id: str, revision: str | None) -> CheckpointSummary:
    from huggingface_hub import HfApi, get_safetensors_metadata, is_offline_mode
    from huggingface_hub.errors import NotASafetensorsRepoError

    if is_offline_mode():
        return _inspect_cached_repo(repo_id, revision)
    try:
        remote = get_safetensors_metadata(repo_id, revision=revision)
    except NotASafetensorsRepoError as error:
        HfApi().repo_info(repo_id, revision=revision)  # a missing repository or revision, said as such
        raise missing_weights_error(repo_id, DownloadOptions(revision=revision)) from error  # as from_pretrained
    names = sorted(remote.files_metadata)
    sizes = {
        entry.path: getattr(entry, "size", 0) for entry in HfApi().get_paths_info(repo_id, names, revision=revision)
    }
    files = []
    for name in names:
        meta = remote.files_metadata[name]
        tensors = {key: TensorInfo(tuple(info.shape), info.dtype) for key, info in meta.tensors.items()}
        files.append(FileSummary(name, sizes.get(name, 0), tensors, dict(meta.metadata or {})))
    return CheckpointSummary(repo_id, files)


def _human(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def _print_summary(summary: CheckpointSummary) -> None:
    print(f"checkpoint: {summary.source}")
    layout, framework = summary.layout_version or "-", summary.framework or "-"
    print(f"format: {summary.format or '-'}  layout: {layout}  framework: {framework}")
    for file in summary.files:
        count = len(file.tensors)
        print(f"{file.name} ({_human(file.size)}, {count} tensor{'' if count == 1 else 's'})")
        width = max((len(name) for name in file.tensors), default=0)
        for name, info in sorted(file.tensors.items()):
            print(f"  {name:<{width}}  {info.dtype:<4}  {list(info.shape)}")
    data, disk = _human(summary.tensor_bytes), _human(summary.total_size)
    print(f"total: {summary.parameters:,} parameters, {data} of tensors, {disk} on disk")


def _quiet_client() -> contextlib.AbstractContextManager[object]:
    """No progress bar of huggingface_hub (a sharded repository's "Parse safetensors files") on the command's
    stderr, unless the user asked for them (``HF_HUB_DISABLE_PROGRESS_BARS=0``)."""
    from huggingface_hub import constants
    from huggingface_hub.utils.tqdm import disable_progress_bars

    if constants.HF_HUB_DISABLE_PROGRESS_BARS is False:
        return contextlib.nullcontext()
    return disable_progress_bars()


def _run(args: argparse.Namespace) -> int:
    try:
        with _quiet_client():
            summary = inspect_checkpoint(args.path_or_repo, revision=args.revision)
    except HubMixinError as error:
        print(f"hubmixin: error: {error}", file=sys.stderr)
        return 1
    except Exception as error:  # the client's HTTP errors (repo not found, ...): one line, not a traceback
        lines = [line for line in str(error).splitlines() if line.strip()]  # the server's message comes last
        print(f"hubmixin: error: {type(error).__name__}: {lines[-1] if lines else ''}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(summary.to_json(), indent=2))
    else:
        _print_summary(summary)
    return 0


def add_inspect_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``inspect PATH_OR_REPO [--revision R] [--json]`` to a ``hubmixin`` parser."""
    parser = subparsers.add_parser(
        "inspect", help="list a checkpoint's files, tensors, dtypes, shapes, layout version and writer"
    )
    parser.add_argument("path_or_repo", metavar="PATH_OR_REPO", help="a .safetensors file, a directory or a repo id")
    parser.add_argument("--revision", default=None, help="branch, tag or commit of a Hub repository")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    parser.set_defaults(func=_run)
