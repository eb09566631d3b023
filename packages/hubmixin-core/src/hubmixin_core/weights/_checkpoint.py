"""A checkpoint opened for loading: every tensor's shape and dtype from the headers, and a reader by name."""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from numpy.typing import NDArray
from safetensors import safe_open

from hubmixin_core._checks import expand_location
from hubmixin_core._generated._options import DownloadOptions
from hubmixin_core.errors import HubMixinTypeError, WeightsFileError, WeightsKeyError
from hubmixin_core.weights._check import read_tensor_infos
from hubmixin_core.weights._header import TensorInfo, read_header
from hubmixin_core.weights._metadata import check_layout_version
from hubmixin_core.weights._read import Index, read_numpy, read_numpy_slice, read_raw
from hubmixin_core.weights._resolve import WeightFiles, resolve_weight_files
from hubmixin_core.weights._settings import LAYER_KEYED_METADATA, renamed_settings

__all__ = ["Checkpoint", "TensorReader", "open_checkpoint"]

_T = TypeVar("_T")

TensorReader = Callable[[Sequence[str], str, str], dict[str, Any]]
"""``reader(names, framework, device)``: the named tensors as arrays of ``framework`` on ``device``."""


_COMPARE_BYTES = 16 * 2**20


def _flat_bytes(array: Any) -> NDArray[np.uint8]:
    flat: NDArray[np.uint8] = np.ascontiguousarray(array).reshape(-1).view(np.uint8)
    return flat


@dataclass(frozen=True)
class Checkpoint:
    """The tensors of a checkpoint: shapes and dtypes known before any data is read, and a reader.

    Attributes:
        infos: Shape and safetensors dtype of each tensor, by name.
        files: The file holding each tensor (named in error messages).
        description: The checkpoint as a whole: its single file, or its shard index.
        metadata: The ``__metadata__`` of the (first) safetensors header; for shards, with the tie records
            (``{dropped: kept}``) of the index's ``metadata`` too (huggingface_hub's ``save_torch_state_dict``
            records the ties of a sharded save only there).
        reader: Reads tensors by name; ``None`` reads the safetensors files.

    Examples:
        >>> import numpy as np, tempfile
        >>> from safetensors.numpy import save_file
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     save_file({"w": np.eye(2, dtype=np.float32)}, f"{tmp}/model.safetensors", {"format": "pt"})
        ...     checkpoint = open_checkpoint(tmp)
        ...     checkpoint.infos["w"], checkpoint.metadata, checkpoint.read(["w"])["w"].tolist()
        (TensorInfo(shape=(2, 2), dtype='F32'), {'format': 'pt'}, [[1.0, 0.0], [0.0, 1.0]])
    """

    infos: dict[str, TensorInfo]
    files: dict[str, Path]
    description: str
    metadata: dict[str, str] = field(default_factory=dict)
    reader: TensorReader | None = None
    positions: dict[str, int] = field(default_factory=dict, repr=False)
    """Offset in its file of each tensor's first byte (safetensors files only)."""
    stored_names: dict[str, str] = field(default_factory=dict, repr=False)
    """The name in the files of each tensor that :meth:`renamed` renamed."""

    @classmethod
    def from_files(cls, weights: WeightFiles) -> Checkpoint:
        """The checkpoint made of ``weights`` (one safetensors file or shards), headers read, data not."""
        found = read_tensor_infos(weights)
        first = weights.files[0]
        description = str(weights.index_file) if weights.sharded else str(first)
        positions: dict[str, int] = {}
        shard_metadata: dict[Path, dict[str, str]] = {}
        for path in weights.files:
            header = read_header(path)
            positions.update({name: header.data_start + begin for name, (begin, _) in header.offsets.items()})
            shard_metadata[path] = header.metadata
        metadata = shard_metadata[first]
        if weights.index is not None:
            metadata = {**_index_ties(weights.index.metadata, found, metadata), **metadata}
        check_layout_version(metadata, description)
        for path in weights.files[1:]:  # (the first's is the merged one's; a later shard's is as unreadable)
            check_layout_version(shard_metadata[path], str(path))
        return cls(
            {name: info for name, (info, _) in found.items()},
            {name: path for name, (_, path) in found.items()},
            description,
            metadata,
            positions=positions,
        )

    def renamed(self, key_mapping: Mapping[str, str] | None) -> Checkpoint:
        """This checkpoint with its tensors' names rewritten, as transformers' ``key_mapping`` does.

        Each name is rewritten by the first ``pattern: replacement`` pair (in order) whose pattern matches it,
        with :func:`re.subn`; the other pairs are not applied to it. The files are not touched (reads translate
        the names back).

        Raises:
            WeightsKeyError: two tensors are renamed to the same name (both named), or a pattern is not a
                valid regular expression, or a replacement refers to a group its pattern lacks.
            HubMixinTypeError: a pattern or replacement is not a string (the mapping entry is named).

        Examples:
            >>> import numpy as np, tempfile
            >>> from safetensors.numpy import save_file
            >>> with tempfile.TemporaryDirectory() as tmp:
            ...     save_file({"enc.fc.weight": np.eye(2, dtype=np.float32)}, f"{tmp}/model.safetensors")
            ...     checkpoint = open_checkpoint(tmp).renamed({r"^enc\\.": "encoder."})
            ...     list(checkpoint.infos), checkpoint.read(["encoder.fc.weight"])["encoder.fc.weight"].tolist()
            (['encoder.fc.weight'], [[1.0, 0.0], [0.0, 1.0]])
        """
        if not key_mapping:
            return self
        if not isinstance(key_mapping, Mapping):
            raise HubMixinTypeError(
                "key_mapping must be a mapping of regular expressions to replacements, "
                f"got {type(key_mapping).__name__}"
            )
        patterns = [_compile(pattern, replacement) for pattern, replacement in key_mapping.items()]
        renames: dict[str, str] = {}  # new name -> current name
        for name in self.infos:
            new = _rename(name, patterns)
            if new in renames:
                names = sorted([renames[new], name])
                raise WeightsKeyError(
                    self.description, detail=f"key_mapping renames both {names[0]!r} and {names[1]!r} to {new!r}"
                )
            renames[new] = name
        old_to_new = {old: new for new, old in renames.items()}
        # torch ties are recorded in the metadata as {dropped name: kept name}: both renamed as the tensors are
        ties = {k for k, v in self.metadata.items() if v in self.infos and k not in self.infos}
        metadata = {
            (_rename(k, patterns) if k in ties else old_to_new.get(k, k)): old_to_new.get(v, v)
            for k, v in self.metadata.items()
        }
        for key in LAYER_KEYED_METADATA:
            if key in metadata:
                metadata[key] = renamed_settings(metadata[key], lambda name: _rename(name, patterns), old_to_new)
        return replace(
            self,
            infos={new: self.infos[old] for new, old in renames.items()},
            files={new: self.files[old] for new, old in renames.items() if old in self.files},
            metadata=metadata,
            positions={new: self.positions[old] for new, old in renames.items() if old in self.positions},
            stored_names={new: self._stored(old) for new, old in renames.items()},
        )

    def aliased(self, aliases: Mapping[str, str]) -> Checkpoint:
        """This checkpoint with more names, each reading another of its tensors (``{name: existing name}``): the
        names of tied tensors a writer stored once (safetensors' ``save_model`` records them as
        ``{dropped: kept}`` in the metadata). Names already present are left as they are."""
        added = {name: kept for name, kept in aliases.items() if name not in self.infos and kept in self.infos}
        if not added:
            return self
        return replace(
            self,
            infos={**self.infos, **{name: self.infos[kept] for name, kept in added.items()}},
            files={**self.files, **{name: self.files[kept] for name, kept in added.items() if kept in self.files}},
            positions={
                **self.positions,
                **{name: self.positions[kept] for name, kept in added.items() if kept in self.positions},
            },
            stored_names={**self.stored_names, **{name: self._stored(kept) for name, kept in added.items()}},
        )

    def without(self, names: Iterable[str]) -> Checkpoint:
        """This checkpoint without the tensors ``names`` (copies a model reads under another name): neither
        expected nor reported unexpected; the files are not touched."""
        dropped = set(names)
        if not dropped:
            return self
        return replace(
            self,
            infos={k: v for k, v in self.infos.items() if k not in dropped},
            files={k: v for k, v in self.files.items() if k not in dropped},
            positions={k: v for k, v in self.positions.items() if k not in dropped},
            stored_names={k: v for k, v in self.stored_names.items() if k not in dropped},
        )

    def _checked_names(self, names: Iterable[str]) -> list[str]:
        """``names`` as a list (a generator is read once); :class:`WeightsKeyError` naming the checkpoint and each
        name it does not hold."""
        if isinstance(names, str):  # ``read("w")`` would read the names "w", ...: one name is a list of one
            raise HubMixinTypeError(f"{self.description}: give a list of tensor names, not the string {names!r}")
        names = list(names)
        missing = [name for name in names if name not in self.infos]
        if missing:
            raise WeightsKeyError(self.description, missing, detail="no such tensors")
        return names

    def _stored(self, name: str) -> str:
        return self.stored_names.get(name, name)

    def _by_stored_name(self, names: Sequence[str], read: Callable[[list[str]], dict[str, _T]]) -> dict[str, _T]:
        """``read`` of the tensors' names in the files, keyed back by ``names`` (two names may read one)."""
        if not self.stored_names:
            return read(list(names))
        by_stored: dict[str, list[str]] = {}
        for name in names:
            by_stored.setdefault(self._stored(name), []).append(name)
        values = read(list(by_stored))
        return {name: values[stored] for stored, group in by_stored.items() for name in group}

    def _by_file(self, names: Sequence[str]) -> dict[Path, list[str]]:
        by_file: dict[Path, list[str]] = {}
        for name in names:
            by_file.setdefault(self.files[name], []).append(name)
        return by_file

    def source(self, name: str) -> str:
        """Where tensor ``name`` is (its file), else the whole checkpoint: for messages."""
        path = self.files.get(name)
        return str(path) if path is not None else self.description

    def read(self, names: Iterable[str], *, framework: str = "numpy", device: str = "cpu") -> dict[str, Any]:
        """The tensors ``names`` as ``framework`` arrays (``"numpy"``, ``"pt"``, ``"flax"``, ...) on ``device``.

        Safetensors files are memory-mapped and each file is opened once per call; torch tensors on CPU are
        not copied.

        Raises:
            WeightsKeyError: a name is not in the checkpoint (the message names its file and the names).
        """
        names = self._checked_names(names)
        if (reader := self.reader) is not None:
            return self._by_stored_name(names, lambda stored: reader(stored, framework, device))
        tensors: dict[str, Any] = {}
        for path, keys in self._by_file(names).items():
            if framework in ("numpy", "np"):
                tensors.update(self._by_stored_name(keys, partial(read_numpy, path)))
                continue
            with utf8_path(path) as readable, safe_open(readable, framework=framework, device=device) as f:
                for key in keys:
                    tensors[key] = f.get_tensor(self._stored(key))
        return tensors

    def is_aligned(self, name: str, alignment: int = 64) -> bool:
        """Whether tensor ``name`` starts on an ``alignment``-byte boundary of its file (so when mapped)."""
        position = self.positions.get(name)
        return position is not None and position % alignment == 0

    def same_bytes(self, first: str, second: str) -> bool:
        """Whether tensors ``first`` and ``second`` hold the same shape, dtype and bytes: compared in place, a block
        at a time, where both are in safetensors files (copies of one tensor in a file need not be read whole).

        Raises:
            WeightsKeyError: a name is not in the checkpoint.
        """
        self._checked_names([first, second])
        if self.infos[first] != self.infos[second]:
            return False
        if self.reader is not None or first not in self.positions or second not in self.positions:
            tensors = self.read([first, second])
            return bool(np.array_equal(_flat_bytes(tensors[first]), _flat_bytes(tensors[second])))
        size = self.infos[first].nbytes
        if not size:
            return True
        blocks = [
            np.memmap(self.files[name], dtype=np.uint8, mode="r", offset=self.positions[name], shape=(size,))
            for name in (first, second)
        ]
        return all(
            np.array_equal(blocks[0][i : i + _COMPARE_BYTES], blocks[1][i : i + _COMPARE_BYTES])
            for i in range(0, size, _COMPARE_BYTES)
        )

    def read_raw(self, names: Iterable[str]) -> dict[str, NDArray[np.uint8]]:
        """The stored bytes of tensors ``names``, each in a fresh 64-byte aligned ``uint8`` array.

        Raises:
            TypeError: the checkpoint has a custom reader (it is not safetensors files).
            WeightsKeyError: a name is not in the checkpoint.
        """
        if self.reader is not None:
            raise HubMixinTypeError(f"{self.description}: raw bytes are only read from safetensors files")
        names = self._checked_names(names)
        raw: dict[str, NDArray[np.uint8]] = {}
        for path, keys in self._by_file(names).items():
            raw.update(self._by_stored_name(keys, partial(read_raw, path)))
        return raw

    def read_slice(self, name: str, index: Index) -> NDArray[Any]:
        """``tensor[index]`` as a numpy array, for one contiguous slice per dimension (a device's shard).

        From safetensors files only the slice's rows are read, in bounded blocks; a custom reader reads the
        whole tensor, then slices it.

        Raises:
            WeightsKeyError: ``name`` is not in the checkpoint.
        """
        self._checked_names([name])
        if self.reader is not None:
            stored = self._stored(name)
            array: NDArray[Any] = np.asarray(self.reader([stored], "numpy", "cpu")[stored])[index]
            return array
        return read_numpy_slice(self.files[name], self._stored(name), index)


def _index_ties(index: Mapping[str, Any], found: Mapping[str, object], header: Mapping[str, str]) -> dict[str, str]:
    """The tie records of a shard index's ``metadata`` (``index``): ``{dropped: kept}``, each kept name a stored
    tensor and each dropped one not. Other entries (``total_size``, a writer's own, a record of a tensor the shards
    hold: an index copied from a tied model's save to an untied one's) are no ties; a record ``header`` (the
    shards' header metadata) gives otherwise is left to the header."""
    return {
        dropped: kept
        for dropped, kept in index.items()
        if isinstance(kept, str) and kept in found and dropped not in found and header.get(dropped) in (None, kept)
    }


def _compile(pattern: object, replacement: object) -> tuple[re.Pattern[str], str]:
    """One ``key_mapping`` entry, checked: a valid pattern, and a replacement valid for it (tried on ``""``)."""
    entry = f"entry {pattern!r:.80}: {replacement!r:.80}"
    if not isinstance(pattern, str) or not isinstance(replacement, str):
        raise HubMixinTypeError(f"key_mapping {entry}: patterns and replacements must be strings")
    try:
        compiled = re.compile(pattern)
    except re.error as error:
        raise WeightsKeyError("key_mapping", detail=f"invalid pattern {pattern!r}: {error}") from None
    try:
        compiled.sub(replacement, "")  # the replacement template is compiled before any match is searched
    except (re.error, IndexError) as error:  # IndexError: an unknown group name (\g<name>)
        raise WeightsKeyError("key_mapping", detail=f"{entry}: invalid replacement: {error}") from None
    return compiled, replacement


def _rename(name: str, patterns: Sequence[tuple[re.Pattern[str], str]]) -> str:
    """``name`` rewritten by the first pattern that matches it (every match of that pattern), as transformers does:
    later patterns do not see its result, so ``{"^a": "b", "^b": "a"}`` swaps two names."""
    for pattern, replacement in patterns:
        new, count = pattern.subn(replacement, name)
        if count:
            return new
    return name


def open_checkpoint(model_id: str | Path, download: DownloadOptions | None = None) -> Checkpoint:
    """Open the safetensors checkpoint of ``model_id`` (a local directory or a repo id): one file or shards.

    Shards are downloaded in parallel; only the headers are read.

    Raises:
        WeightsNotFoundError: neither ``model.safetensors`` nor ``model.safetensors.index.json`` is there.
        WeightsFileError: a file is not valid safetensors.
        ShardIndexError: the index and the shards disagree.
    """
    return Checkpoint.from_files(resolve_weight_files(expand_location(model_id), download))


@contextlib.contextmanager
def utf8_path(path: Path) -> Iterator[str]:
    """``path`` as text a reader taking UTF-8 paths only opens (safetensors', ``torch.load``'s): itself where it is
    valid UTF-8; else, on Linux, the ``/proc/self/fd`` entry of the file opened here (a folder named in latin-1).

    Raises:
        WeightsFileError: the path is not UTF-8 and the system has no such entry.
    """
    try:
        os.fsencode(path).decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        yield str(path)
        return
    if not Path("/proc/self/fd").is_dir():
        raise WeightsFileError(f"{path}: its reader takes UTF-8 paths only: move or rename the folder") from None
    with path.open("rb") as handle:  # (the mapping safetensors makes outlives it)
        yield f"/proc/self/fd/{handle.fileno()}"
