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
import os
import struct
import sys
import unicodedata
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hubmixin_core._checks import expand_location
from hubmixin_core._generated._options import DownloadOptions
from hubmixin_core._hub import HubUnreachableError, transport_errors
from hubmixin_core._native import native_file_advice
from hubmixin_core._paths import check_local_location, check_probeable, location_argument
from hubmixin_core.errors import HubMixinError, ShardIndexError, WeightsFileError
from hubmixin_core.weights import (
    FRAMEWORK_KEY,
    LAYOUT_KEY,
    SAFETENSORS_INDEX_NAME,
    SAFETENSORS_SINGLE_FILE,
    SETTINGS_KEY,
    Header,
    ShardIndex,
    TensorInfo,
    read_header,
    read_tensor_infos,
    resolve_weight_files,
    saved_settings,
)
from hubmixin_core.weights._header import MAX_HEADER_SIZE
from hubmixin_core.weights._header import _checked as checked_header
from hubmixin_core.weights._resolve import missing_weights_error

if TYPE_CHECKING:
    from huggingface_hub import HfApi

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
    def settings(self) -> dict[str, dict[str, Any]] | None:
        """The layer settings the checkpoint records (metadata ``hubmixin.settings``), by layer path (``{}`` for
        none); ``None`` where the record is not JSON."""
        return next((saved_settings(f.metadata) for f in self.files if SETTINGS_KEY in f.metadata), {})

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


def inspect_checkpoint(path_or_repo: str | os.PathLike[str], *, revision: str | None = None) -> CheckpointSummary:
    """Summarise a checkpoint from its headers: a ``.safetensors`` file, a save directory, or a Hub repo id.

    Local files are validated by `hubmixin_core.weights.read_header`; a repository's headers are fetched with
    HTTP range requests, so no weights are downloaded, all at the commit ``revision`` names when the first is
    made, and validated alike (an index against its shards too).
    Offline (``HF_HUB_OFFLINE=1``), or where the Hub cannot be reached, a repository's headers are read from its
    files in the Hub cache, found as ``from_pretrained`` finds them. A leading ``~`` is expanded.

    Raises:
        WeightsNotFoundError: Nothing holds safetensors weights at ``path_or_repo``.
        WeightsFileError: A header is malformed (names the file).
        ShardIndexError: An index and its shards disagree.
        ConnectionError: The Hub cannot be reached, and the Hub cache lacks the repository (a ``HubMixinError``).
    """
    path_or_repo = expand_location(path_or_repo if isinstance(path_or_repo, str) else Path(path_or_repo))
    path = Path(path_or_repo)
    check_probeable(path)
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
            # one line (the command prints the last), with what to do about a private repository
            message += f"repository on the Hub ({said[-1]}); {_access_hint()}"
            raise RepositoryNotFoundError(message, response=error.response) from error
    return _summarise(str(path_or_repo), files)


def _access_hint() -> str:
    """What to do if the repository is private: the line of huggingface_hub's error that says so is not the
    last one, which the command prints."""
    from huggingface_hub import get_token

    if get_token() is None:
        return "if it is private, log in (`hf auth login`) or set HF_TOKEN"
    return "if it is private, check that your token (HF_TOKEN or `hf auth login`) may read it"


def _summarise(source: str, files: list[Path]) -> CheckpointSummary:
    summaries = []
    for file in files:
        header = _read_header(file)
        summaries.append(FileSummary(file.name, file.stat().st_size, header.tensors, header.metadata))
    return CheckpointSummary(source, summaries)


def _read_header(file: Path) -> Header:
    """``read_header(file)``, naming a framework's own checkpoint format (and ``hubmixin convert``) where the
    file is one."""
    try:
        return read_header(file)
    except WeightsFileError:
        advice = native_file_advice(file)
        if advice is None:
            raise
        then = ", then inspect DST" if "`hubmixin convert" in advice else ""
        raise WeightsFileError(f"{file}: not a safetensors file but {advice}{then}") from None


def _inspect_cached_repo(repo_id: str, revision: str | None, *, cache_only: bool = False) -> CheckpointSummary:
    """Offline: the headers of the files of ``repo_id`` that the Hub cache holds (its weights at ``revision``)."""
    weights = resolve_weight_files(repo_id, DownloadOptions(revision=revision, local_files_only=cache_only))
    read_tensor_infos(weights)
    return _summarise(repo_id, sorted(weights.files))


def _inspect_repo(repo_id: str, revision: str | None) -> CheckpointSummary:
    from huggingface_hub import HfApi, is_offline_mode

    if is_offline_mode():
        return _inspect_cached_repo(repo_id, revision)
    from huggingface_hub.errors import HfHubHTTPError

    try:
        return _inspect_remote(HfApi(), repo_id, revision)
    except transport_errors() as error:  # the Hub cannot be reached: its cache, as from_pretrained falls back to
        return _unreachable_fallback(repo_id, revision, error)
    except HfHubHTTPError as error:  # the Hub is down or overloaded (5xx): its cache too, as from_pretrained
        if getattr(error.response, "status_code", 0) < 500:
            raise
        return _server_error_fallback(repo_id, revision, error)


def _unreachable_fallback(repo_id: str, revision: str | None, error: Exception) -> CheckpointSummary:
    """The cached copy of ``repo_id``; where there is none, one line naming both readings of ``repo_id``."""
    return _cached_fallback(repo_id, revision, f"the Hub could not be reached ({type(error).__name__}: {error})")


def _server_error_fallback(repo_id: str, revision: str | None, error: Exception) -> CheckpointSummary:
    """The cached copy of ``repo_id``; where there is none, one line naming both readings and the Hub's ``error``."""
    return _cached_fallback(repo_id, revision, f"the Hub answered {_one_line(error)}")


def _cached_fallback(repo_id: str, revision: str | None, hub: str) -> CheckpointSummary:
    try:
        return _inspect_cached_repo(repo_id, revision, cache_only=True)  # (asking again would retry for a minute)
    except HubMixinError:
        raise
    except Exception as cached:
        where = Path(repo_id).absolute()
        raise HubUnreachableError(
            f"{repo_id!r} is neither a local file or directory ({where} does not exist) nor a repository in the Hub "
            f"cache, and {hub}"
        ) from cached


def _inspect_remote(api: HfApi, repo_id: str, revision: str | None) -> CheckpointSummary:
    """The headers of a repository's weights, fetched with range requests and checked as local files are.

    Every request asks for the commit ``revision`` names when the first is made: a push landing meanwhile would
    otherwise give one commit's sizes or index with another's headers (a healthy file reported as truncated).
    """
    from huggingface_hub import RepoFile

    commit = api.repo_info(repo_id, revision=revision).sha or revision  # (also: no such repository or revision)
    names, index = _remote_weight_names(api, repo_id, revision, commit)
    sizes = {e.path: e.size for e in api.get_paths_info(repo_id, names, revision=commit) if isinstance(e, RepoFile)}
    where = f"{repo_id}@{revision}" if revision else repo_id
    missing = [name for name in names if name not in sizes]
    if missing:
        raise ShardIndexError(f"{where}: {SAFETENSORS_INDEX_NAME}: shard {missing[0]!r} is missing")
    with ThreadPoolExecutor(max_workers=8) as pool:  # (a large model's dozens of shards: one request each)
        headers = list(pool.map(lambda name: _remote_header(api, repo_id, name, commit, sizes[name]), names))
    files = [FileSummary(n, sizes[n], h.tensors, h.metadata) for n, h in zip(names, headers, strict=True)]
    if index is not None:
        _check_index(where, index, files)
    return CheckpointSummary(repo_id, files)


def _remote_weight_names(
    api: HfApi, repo_id: str, revision: str | None, commit: str | None
) -> tuple[list[str], ShardIndex | None]:
    """``model.safetensors``, or the shards (and the index) of ``model.safetensors.index.json``, at ``commit``
    (what ``revision`` names, which errors name)."""
    wanted = [SAFETENSORS_SINGLE_FILE, SAFETENSORS_INDEX_NAME]
    present = {entry.path for entry in api.get_paths_info(repo_id, wanted, revision=commit)}
    if SAFETENSORS_SINGLE_FILE in present:
        return [SAFETENSORS_SINGLE_FILE], None
    if SAFETENSORS_INDEX_NAME not in present:
        raise missing_weights_error(repo_id, DownloadOptions(revision=revision))  # as from_pretrained
    downloaded = api.hf_hub_download(repo_id, SAFETENSORS_INDEX_NAME, revision=commit)
    try:
        index = ShardIndex.read(downloaded)
    except HubMixinError as error:  # named as the repository's other files are, not by its Hub-cache path
        error.args = (str(error).replace(str(Path(downloaded)), str(Path(repo_id, SAFETENSORS_INDEX_NAME)), 1),)
        raise
    return sorted(index.shard_files()), index


_FIRST_BYTES = 100_000
"""Bytes asked for first: most headers are shorter (huggingface_hub asks as much)."""


def _remote_header(api: HfApi, repo_id: str, name: str, revision: str | None, size: int) -> Header:
    """The header of the repository's file ``name`` (``size`` bytes) at ``revision`` (a commit), checked as
    `read_header` checks a file."""
    from huggingface_hub import hf_hub_url

    label = Path(repo_id, name)  # what the errors name: "user/model/model.safetensors"
    if size < 8:
        raise WeightsFileError(f"{label}: not a safetensors file (shorter than 8 bytes)")
    url = hf_hub_url(repo_id, name, revision=revision, endpoint=api.endpoint)
    first = _get_bytes(api, url, 0, min(size, _FIRST_BYTES))
    (length,) = struct.unpack("<Q", first[:8])
    if length > MAX_HEADER_SIZE:
        raise WeightsFileError(
            f"{label}: not a safetensors file (header length {length} exceeds the {MAX_HEADER_SIZE}-byte limit)"
        )
    if 8 + length > size:
        raise WeightsFileError(f"{label}: truncated safetensors header ({size - 8} of {length} bytes)")
    raw = first[8 : 8 + length]
    if len(raw) < length:
        raw += _get_bytes(api, url, len(first), 8 + length)
    return checked_header(label, raw, size)


def _get_bytes(api: HfApi, url: str, start: int, end: int) -> bytes:
    """Bytes ``[start, end)`` of the file at ``url``, asked as ``api`` asks (its token)."""
    from huggingface_hub import constants, get_session, hf_raise_for_status

    headers = {**api._build_hf_headers(), "range": f"bytes={start}-{end - 1}"}
    response = get_session().get(url, headers=headers, timeout=constants.HF_HUB_DOWNLOAD_TIMEOUT)
    hf_raise_for_status(response)
    data = response.content
    return data[start:end] if response.status_code == 200 else data  # (a server that ignores ranges)


def _check_index(where: str, index: ShardIndex, files: list[FileSummary]) -> None:
    """The shards' tensors are those the index maps to them, each in one shard (as from_pretrained checks)."""
    found: dict[str, str] = {}
    for file in files:
        for name in file.tensors:
            if name in found:
                raise ShardIndexError(f"{where}: {file.name}: tensor {name!r} is also in {found[name]}")
            found[name] = file.name
    if found != index.weight_map:
        wrong = sorted(k for k in found.keys() & index.weight_map.keys() if found[k] != index.weight_map[k])[:5]
        gone = sorted(index.weight_map.keys() - found.keys())[:5]
        extra = sorted(found.keys() - index.weight_map.keys())[:5]
        raise ShardIndexError(
            f"{where}: {SAFETENSORS_INDEX_NAME}: index and shards disagree: indexed but absent {gone}, present but "
            f"unindexed {extra}, in another shard than indexed {wrong}"
        )


def _human(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def _shown(text: str) -> str:
    """``text`` as the listing prints it: as is where printable, else quoted and escaped by ``repr`` (a header is
    untrusted: a name's escape sequences would reach the terminal, its newline would forge a line)."""
    return repr(text) if any(unicodedata.category(c) in _ESCAPED for c in text) else text


_ESCAPED = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
"""Unicode categories a listing escapes: controls, format characters (bidirectional overrides), line and paragraph
separators, surrogates, private and unassigned code points; spaces of other scripts print as they are."""


def _print_summary(summary: CheckpointSummary) -> None:
    print(f"checkpoint: {_shown(summary.source)}")
    fmt, layout, framework = (
        _shown(v) if v else "-" for v in (summary.format, summary.layout_version, summary.framework)
    )
    print(f"format: {fmt}  layout: {layout}  framework: {framework}")
    _print_settings(summary)
    for file in summary.files:
        count = len(file.tensors)
        print(f"{_shown(file.name)} ({_human(file.size)}, {count} tensor{'' if count == 1 else 's'})")
        names = {name: _shown(name) for name in file.tensors}
        width = max((len(shown) for shown in names.values()), default=0)
        for name, info in sorted(file.tensors.items()):
            print(f"  {names[name]:<{width}}  {info.dtype:<4}  {list(info.shape)}")
    data, disk = _human(summary.tensor_bytes), _human(summary.total_size)
    print(f"total: {summary.parameters:,} parameters, {data} of tensors, {disk} on disk")


def _print_settings(summary: CheckpointSummary, most: int = 50) -> None:
    """The layer settings the checkpoint records (``hubmixin.settings``), a line per layer, the first ``most``."""
    saved = summary.settings
    if saved is None:
        print(f"settings: {SETTINGS_KEY} is not JSON")
        return
    if not saved:
        return
    print(f"settings ({len(saved)} layer{'' if len(saved) == 1 else 's'}):")
    for path, values in sorted(saved.items())[:most]:
        shown = ", ".join(f"{_shown(key)}={_shown(json.dumps(value))}" for key, value in sorted(values.items()))
        print(f"  {_shown(path) or '(model)'}: {shown}")
    if len(saved) > most:
        print(f"  ... (+{len(saved) - most} more: --json lists them all)")


def _quiet_client() -> contextlib.AbstractContextManager[object]:
    """No progress bar of huggingface_hub (a sharded repository's "Parse safetensors files") on the command's
    stderr, unless the user asked for them (``HF_HUB_DISABLE_PROGRESS_BARS=0``)."""
    from huggingface_hub import constants
    from huggingface_hub.utils.tqdm import disable_progress_bars

    if constants.HF_HUB_DISABLE_PROGRESS_BARS is False:
        return contextlib.nullcontext()
    return disable_progress_bars()


def _one_line(error: Exception) -> str:
    """A client error as one line: its type and the server's message, which comes last."""
    lines = [line for line in str(error).splitlines() if line.strip()]
    return f"{type(error).__name__}: {lines[-1] if lines else ''}"


def _run(args: argparse.Namespace) -> int:
    try:
        with _quiet_client():
            summary = inspect_checkpoint(args.path_or_repo, revision=args.revision)
    except HubMixinError as error:
        print(f"hubmixin: error: {error}", file=sys.stderr)
        return 1
    except Exception as error:  # the client's HTTP errors (repo not found, ...): one line, not a traceback
        print(f"hubmixin: error: {_one_line(error)}", file=sys.stderr)
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
    parser.add_argument(
        "path_or_repo",
        metavar="PATH_OR_REPO",
        type=location_argument,
        help="a .safetensors file, a directory or a repo id",
    )
    parser.add_argument("--revision", default=None, help="branch, tag or commit of a Hub repository")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    parser.set_defaults(func=_run)
