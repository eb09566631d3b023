"""Finding a model's safetensors files: one file or shards, in a local directory or on the Hub."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from huggingface_hub.errors import LocalEntryNotFoundError, RemoteEntryNotFoundError

from hubmixin_core._generated._options import DownloadOptions
from hubmixin_core._hub import cached_alternative, download_files, locate_file
from hubmixin_core._paths import warn_if_linked_outside
from hubmixin_core.errors import ShardIndexError, WeightsNotFoundError
from hubmixin_core.weights._index import ShardIndex
from hubmixin_core.weights._names import SAFETENSORS_INDEX_NAME, SAFETENSORS_SINGLE_FILE

__all__ = ["WeightFiles", "resolve_weight_files"]


@dataclass(frozen=True)
class WeightFiles:
    """The safetensors files holding a model's weights.

    Attributes:
        files: Paths of the files to read, in order (one file, or every shard).
        index: The shard index, for a sharded checkpoint.
    """

    files: tuple[Path, ...]
    index: ShardIndex | None = None

    @property
    def index_file(self) -> Path | None:
        """Where the shard index is: the directory its shard names (``"sub/a.safetensors"`` too) start from."""
        if self.index is None:
            return None
        first = self.files[0]
        parts = PurePosixPath(self.index.shard_files()[0]).parts
        if 0 < len(parts) <= len(first.parts) and first.parts[-len(parts) :] == parts:
            return first.parents[len(parts) - 1] / SAFETENSORS_INDEX_NAME
        return first.parent / SAFETENSORS_INDEX_NAME

    @property
    def sharded(self) -> bool:
        """Whether the checkpoint is split into shards."""
        return self.index is not None


def resolve_weight_files(
    model_id: str | Path,
    options: DownloadOptions | None = None,
    *,
    filename: str = SAFETENSORS_SINGLE_FILE,
    index_filename: str = SAFETENSORS_INDEX_NAME,
) -> WeightFiles:
    """Locate (downloading where needed) the safetensors files of ``model_id``.

    A local directory is used as it is; anything else is a repo id: ``filename`` is downloaded, or, when the
    repository has none, ``index_filename`` and then every shard it names, in parallel. Offline, a cached index
    is used when ``filename`` is not cached (a snapshot fetched ahead records no file as absent).

    Raises:
        WeightsNotFoundError: neither a single file nor an index is there (the message names both).
        ShardIndexError: the index names a shard that is missing.
        InvalidRepoPathError: the index names a shard outside the model directory.
    """
    options = options or DownloadOptions()
    try:
        single = locate_file(model_id, filename, options)
    except LocalEntryNotFoundError:  # offline, not cached: the repository may have shards, cached instead
        index_path = cached_alternative(model_id, index_filename, options)
        if index_path is None:
            raise
        single = None
    else:
        index_path = None if single is not None else locate_file(model_id, index_filename, options)
    if single is not None:
        return WeightFiles((single,))
    directory = Path(model_id)
    if index_path is None:
        missing = f"found neither {filename} nor {index_filename}"
        if directory.is_dir():
            held = sorted(p.name for p in directory.iterdir())
            raise WeightsNotFoundError(f"{directory}: {missing} (it holds {held}){_convert_hint(directory, held)}")
        where = f"{model_id}@{options.revision}" if options.revision else str(model_id)
        raise WeightsNotFoundError(f"{where}: {missing}")
    index = ShardIndex.read(index_path)
    if not directory.is_dir():
        try:
            return WeightFiles(tuple(download_files(str(model_id), index.shard_files(), options)), index)
        except RemoteEntryNotFoundError as error:  # the repository lacks a shard its index names
            names = [name for name in index.shard_files() if name in str(error)] or index.shard_files()
            where = f"{model_id}@{options.revision}" if options.revision else str(model_id)
            raise ShardIndexError(f"{where}: {index_filename}: shard {names[0]!r} is missing") from error
    files = tuple(directory / name for name in index.shard_files())
    for name, path in zip(index.shard_files(), files, strict=True):
        if not path.is_file():
            raise ShardIndexError(f"{index_path}: shard {name!r} is missing")
        warn_if_linked_outside(directory, path)
    return WeightFiles(files, index)


_TORCH_CHECKPOINTS = ("pytorch_model.bin", "pytorch_model.bin.index.json")
"""What huggingface_hub's and transformers' PyTorch saves wrote before safetensors."""


def _convert_hint(directory: Path, held: list[str]) -> str:
    """How to rewrite a folder's legacy PyTorch checkpoint for loading (hubmixin-torch loads it as it is)."""
    found = next((name for name in _TORCH_CHECKPOINTS if name in held), None)
    if found is None:
        return ""
    return f": a PyTorch checkpoint ({found}): convert it with `hubmixin convert {directory} DST --to torch|flax|keras`"
