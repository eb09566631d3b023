"""What a file that is not safetensors is, from its first bytes (a zip's member names), and how to rewrite it.

``hubmixin convert`` picks its reader by the file's name, so the advice follows the name as well as the bytes.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

from hubmixin_core.weights._resolve import (
    TORCH_SUFFIXES,
    keras_shard_names,
    keras_sharded_steps,
    native_convert_steps,
)

__all__ = ["keras_sharded_advice", "native_file_advice"]

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
