"""``model.safetensors.index.json``: which shard holds which tensor."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hubmixin_core._paths import check_relative_path, lookup_failure
from hubmixin_core.errors import ShardIndexError

__all__ = ["ShardIndex", "check_shard_name"]


@dataclass
class ShardIndex:
    """The index of a sharded checkpoint, in the layout transformers and huggingface_hub use.

    Examples:
        >>> index = ShardIndex({"a": "model-00001-of-00002.safetensors"}, {"total_size": 16})
        >>> index.shard_files()
        ['model-00001-of-00002.safetensors']
    """

    weight_map: dict[str, str]
    metadata: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of_shards(
        cls, weight_map: dict[str, str], total_size: int, metadata: Mapping[str, str] | None = None
    ) -> ShardIndex:
        """The index of shards holding ``weight_map``'s tensors (``total_size`` bytes), whose headers carry
        ``metadata``: the index records its tied names (``{dropped: kept}``) too, as huggingface_hub's
        ``save_torch_state_dict`` does.

        Examples:
            >>> ShardIndex.of_shards({"emb": "a.safetensors"}, 8, {"format": "pt", "head": "emb"}).metadata
            {'total_size': 8, 'head': 'emb'}
        """
        tied = {k: v for k, v in (metadata or {}).items() if k not in weight_map and v in weight_map}
        return cls(weight_map, {"total_size": total_size, **tied})

    def shard_files(self) -> list[str]:
        """The distinct shard file names, in first-use order."""
        return list(dict.fromkeys(self.weight_map.values()))

    def to_json(self) -> str:
        """The index file's text."""
        return json.dumps({"metadata": self.metadata, "weight_map": self.weight_map}, indent=2, sort_keys=True)

    def write(self, path: str | Path) -> None:
        """Write the index to ``path``."""
        Path(path).write_text(self.to_json() + "\n", encoding="utf-8")

    @classmethod
    def read(cls, path: str | Path) -> ShardIndex:
        """Read and check an index file.

        Raises:
            ShardIndexError: the file is not JSON (or nests too deeply), lacks ``weight_map`` or maps a tensor to a
                non-string, or a shard name no repository or file system holds (:func:`check_shard_name`).
            InvalidRepoPathError: a shard name would resolve outside the model directory.
        """
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
            raise ShardIndexError(f"{path}: cannot read shard index: {e}") from e
        except ValueError as e:  # an integer longer than Python's int-string limit
            raise ShardIndexError(f"{path}: cannot read shard index: {e}") from e
        except RecursionError:
            raise ShardIndexError(f"{path}: cannot read shard index: JSON nested too deeply") from None
        weight_map = data.get("weight_map") if isinstance(data, dict) else None
        if not isinstance(weight_map, dict):
            raise ShardIndexError(f"{path}: shard index has no 'weight_map' object")
        if not weight_map:
            raise ShardIndexError(f"{path}: the shard index's 'weight_map' is empty: it names no tensor")
        checked: set[str] = set()
        for key, shard in weight_map.items():
            if not isinstance(shard, str):
                raise ShardIndexError(f"{path}: tensor {key!r} maps to {shard!r}, not a file name")
            if shard not in checked:  # (each shard once: thousands of tensors map to a few)
                check_shard_name(shard, path.parent, f"{path}: tensor {key!r}")
                checked.add(shard)
        metadata = data.get("metadata") or {}
        if not isinstance(metadata, dict):
            raise ShardIndexError(f"{path}: 'metadata' is not an object")
        return cls(dict(weight_map), dict(metadata))


def check_shard_name(name: str, directory: Path, source: str) -> None:
    """Refuse the shard ``name`` of an index in ``directory`` (a model folder, or the Hub cache's snapshot that
    its shards are downloaded into) before any shard is looked up or downloaded, where no repository can hold it
    or the file system cannot look it up; ``source`` names the index and the tensor.

    Raises:
        InvalidRepoPathError: ``name`` would resolve outside the model directory (:func:`check_relative_path`).
        ShardIndexError: ``name`` has a ``.git`` part (git, and so the Hub, refuses one in any folder, in any
            case), or a name in it is longer than the file system of ``directory`` allows.
    """
    check_relative_path(name, source)
    parts = name.split("/")
    if any(part.lower() == ".git" for part in parts):
        raise ShardIndexError(f"{source}: shard {name!r}: no repository holds it (git, and the Hub, reserve .git)")
    # each part is looked up in ``directory`` too: the lookup of the whole stops at a folder that is not there.
    # Only a name too long is the index's fault: any other error (a folder it may not enter) is the load's to meet.
    for probe in dict.fromkeys((name, *parts)):
        try:
            failure = lookup_failure(directory / probe)
        except OSError:
            continue
        if failure is not None:
            raise ShardIndexError(f"{source}: shard {name!r} cannot be looked up: {failure}")
