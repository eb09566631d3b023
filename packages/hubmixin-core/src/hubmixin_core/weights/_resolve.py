"""Finding a model's safetensors files: one file or shards, in a local directory or on the Hub."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from hubmixin_core._generated._options import DownloadOptions
from hubmixin_core._hub import download_files, download_optional_file
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
    repository has none, ``index_filename`` and then every shard it names, in parallel.

    Raises:
        WeightsNotFoundError: neither a single file nor an index is there (the message names both).
        ShardIndexError: the index names a shard that is missing.
        InvalidRepoPathError: the index names a shard outside the model directory.
    """
    options = options or DownloadOptions()
    directory = Path(model_id)
    if directory.is_dir():
        return _resolve_local(directory, filename, index_filename)
    repo_id = str(model_id)
    single = download_optional_file(repo_id, filename, options)
    if single is not None:
        return WeightFiles((single,))
    index_path = download_optional_file(repo_id, index_filename, options)
    if index_path is None:
        where = f"{repo_id}@{options.revision}" if options.revision else repo_id
        raise WeightsNotFoundError(f"{where}: found neither {filename} nor {index_filename}")
    index = ShardIndex.read(index_path)
    return WeightFiles(tuple(download_files(repo_id, index.shard_files(), options)), index)


def _resolve_local(directory: Path, filename: str, index_filename: str) -> WeightFiles:
    single = directory / filename
    if single.is_file():
        return WeightFiles((single,))
    index_path = directory / index_filename
    if not index_path.is_file():
        present = sorted(p.name for p in directory.iterdir())
        raise WeightsNotFoundError(f"{directory}: found neither {filename} nor {index_filename} (it holds {present})")
    index = ShardIndex.read(index_path)
    files = tuple(directory / name for name in index.shard_files())
    for path in files:
        if not path.is_file():
            raise ShardIndexError(f"{index_path}: shard {path.name!r} is missing")
    return WeightFiles(files, index)
