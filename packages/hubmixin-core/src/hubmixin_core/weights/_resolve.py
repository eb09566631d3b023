"""Finding a model's safetensors files: one file or shards, in a local directory or on the Hub."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path, PurePosixPath

from huggingface_hub import HfApi, RepoFile
from huggingface_hub.errors import LocalEntryNotFoundError, RemoteEntryNotFoundError

from hubmixin_core._generated._options import DownloadOptions
from hubmixin_core._hub import absences, cached_alternative, download_files, locate_file
from hubmixin_core._paths import not_a_file, warn_if_linked_outside
from hubmixin_core.errors import RepoWeightsNotFoundError, ShardIndexError, WeightsNotFoundError
from hubmixin_core.weights._index import ShardIndex
from hubmixin_core.weights._names import SAFETENSORS_INDEX_NAME, SAFETENSORS_SINGLE_FILE

__all__ = [
    "CONVERTERS_GROUP",
    "TORCH_READER_NEEDED",
    "TORCH_SUFFIXES",
    "WeightFiles",
    "PEFT_CONFIG",
    "folder_listing",
    "hub_checkpoint_hint",
    "missing_weights_error",
    "keras_file_steps",
    "keras_shard_names",
    "keras_sharded_steps",
    "native_checkpoint_hint",
    "native_checkpoint_kind",
    "native_convert_steps",
    "resolve_weight_files",
    "torch_reader_note",
    "unreadable_weights",
]


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
    legacy_hint: bool = True,
) -> WeightFiles:
    """Locate (downloading where needed) the safetensors files of ``model_id``.

    A local directory is used as it is; anything else is a repo id: ``filename`` is downloaded, or, when the
    repository has none, ``index_filename`` and then every shard it names, in parallel. Offline, a cached index
    is used when ``filename`` is not cached (a snapshot fetched ahead records no file as absent). Without
    ``legacy_hint`` (a caller that reads ``pytorch_model.bin`` itself), the Hub is not asked whether the
    repository holds one, to name it in the error.

    Raises:
        WeightsNotFoundError: neither a single file nor an index is there (the message names both).
        ShardIndexError: the index names a shard that is missing.
        InvalidRepoPathError: the index names a shard outside the model directory.
    """
    options = options or DownloadOptions()
    with absences() as absence:
        try:
            single = locate_file(model_id, filename, options)
        except LocalEntryNotFoundError:  # offline, not cached: the repository may have shards, cached instead
            index_path = cached_alternative(model_id, index_filename, options)
            if index_path is None:
                raise
            single = None
        else:
            index_path = None if single is not None else locate_file(model_id, index_filename, options)
        absent = absence(str(model_id))
    if single is not None:
        return WeightFiles((single,))
    directory = Path(model_id)
    if index_path is None:
        missing = missing_weights_error(model_id, options, filename, index_filename, legacy_hint=legacy_hint)
        if absent is None:  # (known absent from the cache, offline)
            raise missing
        raise RepoWeightsNotFoundError(str(missing), response=absent.response, server_message=absent.server_message)
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


TORCH_SUFFIXES = (".pt", ".pth", ".bin")
"""The suffixes under which ``hubmixin convert`` reads a ``torch.save`` file (with hubmixin-torch's converter)."""

_TORCH_CHECKPOINTS = ("pytorch_model.bin", "pytorch_model.bin.index.json")
"""What huggingface_hub's and transformers' PyTorch saves wrote before safetensors."""

CONVERTERS_GROUP = "hubmixin.converters"
"""The entry-point group of ``hubmixin convert``'s readers, one per framework package (``torch``, ...)."""

TORCH_READER_NEEDED = "reading it needs hubmixin-torch, which is not installed: pip install hubmixin-torch"
"""What a legacy PyTorch checkpoint's hint and ``hubmixin convert`` say where hubmixin-torch is not installed."""

_NATIVE_CHECKPOINTS = (
    (".pt", "a torch.save state dict", "torch"),
    (".pth", "a torch.save state dict", "torch"),
    (".weights.h5", "a Keras save_weights file", "keras"),
    (".msgpack", "a Flax msgpack", "flax"),
)
"""File suffixes of the framework-native checkpoints ``hubmixin convert`` reads, what each is, and its reader."""
_TRAINING_STATE = ("optimizer", "scheduler", "lr_scheduler", "scaler", "rng_state", "training_args", "trainer_state")
"""Stems of the files a training checkpoint holds beside the model's weights (``transformers.Trainer``,
Accelerate): never a model's state dict, however suffixed."""


def folder_listing(names: Sequence[str], limit: int = 20) -> str:
    """A folder's file ``names`` for a message: the list, its first ``limit`` only where it is longer."""
    if len(names) <= limit:
        return repr(list(names))
    return f"{list(names[:limit])!r} (+{len(names) - limit} more)"


def missing_weights_error(
    model_id: str | Path,
    options: DownloadOptions,
    filename: str = SAFETENSORS_SINGLE_FILE,
    index_filename: str = SAFETENSORS_INDEX_NAME,
    *,
    legacy_hint: bool = True,
) -> WeightsNotFoundError:
    """The error for a model directory or Hub repository holding neither ``filename`` nor ``index_filename``:
    naming what a folder holds, and, for a legacy PyTorch checkpoint, safetensors under another name or a
    framework-native checkpoint there, what to do with it (for a repository, its files are listed; a legacy
    PyTorch checkpoint is named only with ``legacy_hint``)."""
    missing = f"found neither {filename} nor {index_filename}"
    directory = Path(model_id)
    if directory.is_dir():
        if unreadable := unreadable_weights(directory, (filename, index_filename)):
            return unreadable
        held = sorted(p.name for p in directory.iterdir())
        found = next((name for name in _TORCH_CHECKPOINTS if name in held), None)
        steps = f"convert it with `hubmixin convert {directory} DST --to torch|flax|keras`"
        hint = _convert_hint(found, steps) if found is not None else native_checkpoint_hint(directory)
        return WeightsNotFoundError(f"{directory}: {missing} (it holds {folder_listing(held)}){hint}")
    where = f"{model_id}@{options.revision}" if options.revision else str(model_id)
    # (without ``legacy_hint``, the caller reads pytorch_model.bin itself and lists the repository only if absent)
    hint = hub_checkpoint_hint(str(model_id), options) if legacy_hint else ""
    return WeightsNotFoundError(f"{where}: {missing}{hint}")


def hub_checkpoint_hint(repo_id: str, options: DownloadOptions, *, legacy: bool = True) -> str:
    """What to do with the checkpoint the Hub repository ``repo_id`` holds instead of safetensors weights (with
    ``legacy``, a ``pytorch_model.bin`` too), as for its local folder, after downloading it (``": a Flax msgpack
    (flax_model.msgpack): download it (...), then convert it with ..."``); ``""`` where it holds none. Its
    top-level files are listed once, without downloading any; nothing is asked with ``local_files_only``, and
    any error (offline, no access) leaves the hint out."""
    if options.local_files_only:
        return ""
    api = HfApi(endpoint=options.endpoint, token=options.token)
    try:
        tree = api.list_repo_tree(repo_id, revision=options.revision)
        held = sorted(entry.path for entry in tree if isinstance(entry, RepoFile))
    except Exception:  # (offline, no access, ...): the error stays as it was, without the hint
        return ""
    revision = f" --revision {options.revision}" if options.revision else ""
    download = f"download it (`hf download {repo_id}{revision} --local-dir DIR`), then"
    found = next((name for name in _TORCH_CHECKPOINTS if name in held), None) if legacy else None
    if found is not None:
        return _convert_hint(found, f"{download} convert it with `hubmixin convert DIR DST --to torch|flax|keras`")
    if renaming := _safetensors_renaming(held, "DIR/"):
        return f": {renaming[0]}: {download} {renaming[1]}"
    keras_sharded = any(name.endswith(_KERAS_INDEX_SUFFIX) for name in held)  # (its shards convert not alone)
    for name in held:
        if (what := native_checkpoint_kind(name)) is None or (keras_sharded and name.endswith(_KERAS_SHARD_SUFFIX)):
            continue
        kind, framework = what
        return f": {kind} ({name}): {download} {native_convert_steps(Path('DIR', name), framework)}"
    return ""


def unreadable_weights(directory: Path, names: Sequence[str]) -> WeightsNotFoundError | None:
    """The error for the first of ``names`` that ``directory`` holds as something else than a file (a directory, a
    link to a missing file), rather than "found neither"; ``None`` where there is none."""
    for name in names:
        if unreadable := not_a_file(directory / name):
            return WeightsNotFoundError(f"{directory / name}: {unreadable}: cannot read the weights")
    return None


def _convert_hint(found: str | None, steps: str) -> str:
    """How to rewrite the legacy PyTorch checkpoint ``found`` for loading (hubmixin-torch loads it as it is)."""
    if found is None:
        return ""
    needs = torch_reader_note()
    return f": a PyTorch checkpoint ({found}): {steps}{f' ({needs})' if needs else ''}"


def native_checkpoint_hint(directory: Path) -> str:
    """How to load the weights ``directory`` holds in another form than hubmixin's: safetensors under another name
    (``": a safetensors file under another name (weights.safetensors): rename weights.safetensors to
    model.safetensors"``), else the first framework-native checkpoint (``.pt``, ``.pth``, ``.weights.h5``,
    ``.msgpack``), with ``hubmixin convert``, else a ``.keras`` file, with ``keras.saving.load_model``; ``""``
    where it holds none. Keras' sharded ``save_weights`` is named by its index (``hubmixin convert`` reads none of
    its shards, each holding some layers only), with the Keras call that loads it."""
    files = sorted(directory.iterdir())
    if renaming := _safetensors_renaming([file.name for file in files if file.is_file()]):
        return f": {renaming[0]}: {renaming[1]}"
    indexes = {file: shards for file in files if (shards := keras_shard_names(file))}
    in_shards = {name for shards in indexes.values() for name in shards}
    for file in files:
        if file in indexes:
            return f": {keras_sharded_steps(file, indexes[file])}"
        what = native_checkpoint_kind(file.name)
        if what is None or not file.is_file() or file.name in in_shards:
            continue
        kind, framework = what
        return f": {kind} ({file.name}): {native_convert_steps(file, framework)}"
    if keras := next((file for file in files if file.suffix == ".keras" and file.is_file()), None):
        return f": {keras_file_steps(keras)}"
    return ""


def keras_file_steps(file: Path) -> str:
    """``"a Keras model file (model.save's .keras), ...: load it with keras.saving.load_model(FILE)"``."""
    return (
        f"a Keras model file ({file.name}, model.save's .keras), not a hubmixin checkpoint: load it with "
        f"keras.saving.load_model({str(file)!r})"
    )


def native_checkpoint_kind(name: str) -> tuple[str, str] | None:
    """What the file ``name`` is (``"a Flax msgpack"``) and the framework whose reader ``hubmixin convert`` uses,
    where it is a framework-native checkpoint (never a training checkpoint's optimizer state); else ``None``."""
    if name.startswith(_TRAINING_STATE):
        return None
    return next(((kind, framework) for suffix, kind, framework in _NATIVE_CHECKPOINTS if name.endswith(suffix)), None)


_OTHER_SHARD = re.compile(r"-\d{5}-of-\d{5}\.safetensors$")


PEFT_CONFIG = "adapter_config.json"
"""The configuration beside a PEFT adapter's weights (``adapter_model.safetensors``)."""


def _safetensors_renaming(names: Sequence[str], folder: str = "") -> tuple[str, str] | None:
    """Where ``names`` (a folder's files, sorted) hold safetensors weights under another name than hubmixin reads
    (``diffusion_pytorch_model.safetensors``, ``weights.safetensors``, the index of shards): what they are, and
    the renaming that loads them (an index's shards keep their names), its file in ``folder``; else ``None``.
    Shards without their index are left out: no renaming loads them; so is a PEFT adapter
    (``adapter_model.safetensors``, beside its ``adapter_config.json``): it is no whole model."""
    if PEFT_CONFIG in names:
        return None
    index = next((n for n in names if n.endswith(".safetensors.index.json") and n != SAFETENSORS_INDEX_NAME), None)
    if index is not None:
        return (
            f"a safetensors index under another name ({index})",
            f"rename {folder}{index} to {SAFETENSORS_INDEX_NAME}",
        )
    other = [n for n in names if n.endswith(".safetensors") and n != SAFETENSORS_SINGLE_FILE]
    other = [n for n in other if not _OTHER_SHARD.search(n)]
    if len(other) == 1:
        return (
            f"a safetensors file under another name ({other[0]})",
            f"rename {folder}{other[0]} to {SAFETENSORS_SINGLE_FILE}",
        )
    if other:
        listed = ", ".join(other)
        return f"safetensors files under other names ({listed})", f"rename the model's one to {SAFETENSORS_SINGLE_FILE}"
    return None


_KERAS_INDEX_SUFFIX = ".weights.json"
_KERAS_SHARD_SUFFIX = ".weights.h5"


def keras_shard_names(index: Path) -> list[str]:
    """The shard files named by ``index`` where it is the index of Keras' sharded ``save_weights(...,
    max_shard_size=)`` (``model.weights.json``: ``{"weight_map": {path: shard, or [shards]}}``, shards
    ``model_00000.weights.h5``, ...), in order; ``[]`` where it is none (or unreadable)."""
    if not index.name.endswith(_KERAS_INDEX_SUFFIX) or not index.is_file():
        return []
    try:
        weight_map = json.loads(index.read_text(encoding="utf-8")).get("weight_map")
    except (OSError, ValueError, AttributeError):  # (not JSON, or no object: no Keras index)
        return []
    if not isinstance(weight_map, dict):
        return []
    named = [name for value in weight_map.values() for name in (value if isinstance(value, list) else [value])]
    if not named or not all(isinstance(name, str) and name.endswith(_KERAS_SHARD_SUFFIX) for name in named):
        return []
    return sorted(set(named))


def keras_sharded_steps(index: Path, shards: Sequence[str], load_from: str | None = None) -> str:
    """``"Keras' sharded save_weights (INDEX, indexing its shards ...): ..."``: what ``index`` (and its ``shards``)
    is, and the Keras call that loads it, ``model.load_weights(load_from)`` (``index``'s path by default)."""
    listed = ", ".join(shards[:2]) + (", ..." if len(shards) > 2 else "")
    load_from = repr(str(index)) if load_from is None else load_from
    return (
        f"Keras' sharded save_weights ({index.name}, indexing {len(shards)} shard{'s' * (len(shards) != 1)}: "
        f"{listed}), not safetensors: build the Keras model that saved it, then model.load_weights({load_from}) "
        "(hubmixin convert reads no shard of it: each holds some layers only); to load it elsewhere, save that "
        "model with save_pretrained (a KerasModelHubMixin class)"
    )


def native_convert_steps(file: Path, framework: str) -> str:
    """``"convert it with `hubmixin convert FILE DST ...`"`` for ``file``, a checkpoint of ``framework``'s own
    format, with ``--model`` where reading it needs the class that saved it, and what reading it needs where
    hubmixin-``framework`` is not installed."""
    model = "" if framework == "torch" else " --model package.module:Class"  # (layer names, not tensor names)
    needs = _reader_note(framework)
    steps = f"convert it with `hubmixin convert {file} DST --to torch|flax|keras{model}`"
    return f"{steps} ({needs})" if needs else steps


def torch_reader_note() -> str:
    """``""`` where hubmixin-torch, which reads ``pytorch_model.bin`` (and ``.pt`` files), is installed; else
    what reading one needs."""
    return _reader_note("torch")


def _reader_note(framework: str) -> str:
    """``""`` where ``hubmixin-{framework}``, which reads that framework's files, is installed; else what reading
    one needs."""
    if any(entry_point.name == framework for entry_point in metadata.entry_points(group=CONVERTERS_GROUP)):
        return ""
    return f"reading it needs hubmixin-{framework}, which is not installed: pip install hubmixin-{framework}"
