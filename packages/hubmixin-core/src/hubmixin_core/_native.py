"""What a file that is not safetensors is, from its first bytes (a zip's member names), and how to rewrite it.

``hubmixin convert`` picks its reader by the file's name, so the advice follows the name as well as the bytes.
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

from hubmixin_core.weights._names import (
    CONFIG_NAME,
    PYTORCH_WEIGHTS_NAME,
    SAFETENSORS_INDEX_NAME,
    SAFETENSORS_SINGLE_FILE,
)
from hubmixin_core.weights._resolve import (
    PEFT_CONFIG,
    TORCH_SUFFIXES,
    keras_file_steps,
    keras_shard_names,
    keras_sharded_steps,
    native_checkpoint_kind,
    native_convert_steps,
)

__all__ = ["given_file_advice", "keras_sharded_advice", "native_file_advice"]

_DIRECTORY_FILES = frozenset(
    {
        CONFIG_NAME,
        SAFETENSORS_SINGLE_FILE,
        SAFETENSORS_INDEX_NAME,
        PYTORCH_WEIGHTS_NAME,
        f"{PYTORCH_WEIGHTS_NAME}.index.json",
        "README.md",
    }
)
"""The files of a model directory (its folder loads, where the file was given for it)."""
_SHARD = re.compile(r"-\d{5}-of-\d{5}\.(safetensors|bin)$|\.(safetensors|bin)\.index\.json$")
"""A shard, or an index, of any name: its folder is what loads (the folder's error names a renaming it needs)."""

_PICKLE = tuple(b"\x80" + bytes([protocol]) for protocol in range(2, 6))
_ZIP = b"PK\x03\x04"
_HDF5 = b"\x89HDF\r\n\x1a\n"


def native_file_advice(file: Path) -> str | None:
    """``"a zip archive (torch.save's format): convert it with ..."`` for a framework's own checkpoint (or another
    known format) that is not safetensors; ``None`` where the first bytes are none of them."""
    with file.open("rb") as handle:
        start = handle.read(8)
    if start.startswith(b"{") and (sharded := keras_sharded_advice(file)) is not None:
        return f"a JSON file, {sharded}"
    if start.startswith(_ZIP):
        return _zip_advice(file)
    if start.startswith(_PICKLE):
        return f"a Python pickle (torch.save's legacy format): {_torch_steps(file)}"
    if start.startswith(_HDF5):
        if (sharded := keras_sharded_advice(file)) is not None:
            return f"an HDF5 file, {sharded}"
        if file.name.endswith(".weights.h5"):
            return f"an HDF5 file (Keras' .weights.h5): {native_convert_steps(file, 'keras')}"
        return (
            "an HDF5 file (Keras' model.save .h5, or weights under another name): hubmixin convert reads "
            "model.save_weights' *.weights.h5 files: load it with Keras, save_weights('model.weights.h5'), then "
            f"{native_convert_steps(Path('model.weights.h5'), 'keras').removeprefix('convert it with ')}"
        )
    return None


def given_file_advice(file: Path) -> str | None:
    """What to do with ``file``, given where a model directory is taken: ``"give its folder, 'DIR'"`` for a file
    of a model directory (``model.safetensors``, ``config.json``, a shard); for another, what it is and how to
    load it (safetensors renamed, ``hubmixin convert`` of a framework's own checkpoint, Keras' ``load_model`` of a
    ``.keras``); ``None`` where it is none of them."""
    folder = repr(str(file.parent))
    if file.name in _DIRECTORY_FILES or _SHARD.search(file.name):
        return f"give its folder, {folder}"
    if (sharded := keras_sharded_advice(file)) is not None:
        return sharded
    if file.name.endswith(".safetensors") and not (file.parent / PEFT_CONFIG).is_file():  # (a PEFT adapter's)
        return (
            f"a safetensors file under another name than {SAFETENSORS_SINGLE_FILE}: rename it "
            f"{SAFETENSORS_SINGLE_FILE} (beside its config.json), then pass its folder, {folder}; or rewrite it as a "
            f"model directory with `hubmixin convert {file} DST --to torch|flax|keras`"
        )
    if (what := native_checkpoint_kind(file.name)) is not None:
        kind, framework = what
        return f"{kind}: {native_convert_steps(file, framework)}"
    if file.suffix == ".keras":
        return keras_file_steps(file)
    try:
        return native_file_advice(file)
    except OSError:  # (unreadable: what it is stays unknown)
        return None


def keras_sharded_advice(file: Path) -> str | None:
    """``"the index of Keras' sharded save_weights (...): ..."`` (or ``"a shard of ..."``) where ``file`` is the
    index of Keras' sharded ``save_weights`` or one of its shards, with the Keras call that loads it; ``None``
    where it is neither."""
    if shards := keras_shard_names(file):
        return f"the index of {keras_sharded_steps(file, shards)}"
    if file.name.endswith(".weights.h5"):
        for index in sorted(file.parent.glob("*.weights.json")):
            if file.name in (shards := keras_shard_names(index)):
                return f"a shard of {keras_sharded_steps(index, shards)}"
    return None


def _zip_advice(file: Path) -> str:
    try:
        with zipfile.ZipFile(file) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, OSError):
        return "a damaged zip archive"
    if any(name == "data.pkl" or name.endswith("/data.pkl") for name in names):
        return f"a zip archive (torch.save's format): {_torch_steps(file)}"
    if "config.json" in names and "model.weights.h5" in names:
        return (
            "a Keras archive (model.save's .keras): load it with keras.saving.load_model, then save it with your "
            "model class's save_pretrained (or model.save_weights('model.weights.h5') and hubmixin convert that)"
        )
    if names and all(name.endswith(".npy") for name in names):
        return "a numpy .npz archive: load it with numpy.load and save its arrays with safetensors.numpy.save_file"
    return "a zip archive of no format hubmixin converts"


def _torch_steps(file: Path) -> str:
    """``hubmixin convert``'s command for a ``torch.save`` file, which it reads under a torch suffix only."""
    if file.suffix in TORCH_SUFFIXES:
        return native_convert_steps(file, "torch")
    renamed = file.with_name(f"{file.stem}.pt")
    steps = native_convert_steps(renamed, "torch").removeprefix("convert it with ")
    return f"hubmixin convert reads it under a .pt name: rename it to {renamed.name}, then {steps}"
