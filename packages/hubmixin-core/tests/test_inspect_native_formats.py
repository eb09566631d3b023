"""`hubmixin inspect` of a framework's own checkpoint (a pickle, a zip, an HDF5 file) names the format and the
`hubmixin convert` that rewrites it, rather than a safetensors header length read from its first bytes."""

from __future__ import annotations

import importlib.util
import pickle
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from hubmixin_core.cli import main

HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


def _zip(path: Path) -> None:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("archive/data.pkl", pickle.dumps({"fc.weight": [0.0]}))


@pytest.mark.parametrize(
    ("name", "write", "what"),
    [
        ("pytorch_model.bin", _zip, "a zip archive (torch.save's format)"),
        ("model.pt", lambda p: p.write_bytes(pickle.dumps({"w": 1}, protocol=2)), "a Python pickle"),
        ("model.pth", lambda p: p.write_bytes(pickle.dumps({"w": 1}, protocol=5)), "a Python pickle"),
        ("model.weights.h5", lambda p: p.write_bytes(HDF5_SIGNATURE + bytes(64)), "an HDF5 file (Keras'"),
    ],
    ids=["zip", "pickle2", "pickle5", "hdf5"],
)
def test_a_native_checkpoint_is_named_with_its_conversion(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, write: Callable[[Path], object], what: str
) -> None:
    path = tmp_path / name
    write(path)
    assert main(["inspect", str(path)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"hubmixin: error: {path}: not a safetensors file but {what}") and "header length" not in err
    # A Keras file names layers, not tensors: its conversion needs the class that saved it, as convert says.
    model = " --model package.module:Class" if name.endswith(".h5") else ""
    assert f"`hubmixin convert {path} DST --to torch|flax|keras{model}`" in err and len(err.splitlines()) == 1
    framework = "keras" if name.endswith(".h5") else "torch"
    installed = importlib.util.find_spec(f"hubmixin_{framework}") is not None
    assert (f"pip install hubmixin-{framework}" in err) is not installed


def test_other_bytes_keep_the_safetensors_reason(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "model.safetensors"
    path.write_bytes(b"\xff" * 16)
    assert main(["inspect", str(path)]) == 1
    assert "header length" in capsys.readouterr().err


def _keras_archive(path: Path) -> None:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("config.json", "{}")
        archive.writestr("model.weights.h5", HDF5_SIGNATURE)


def _npz(path: Path) -> None:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("w.npy", b"\x93NUMPY")


@pytest.mark.parametrize(
    ("name", "write", "says"),
    [
        ("model.ckpt", _zip, "rename it to model.pt, then `hubmixin convert {dir}/model.pt DST --to torch|flax|keras`"),
        ("model.safetensors", _zip, "rename it to model.pt, then `hubmixin convert {dir}/model.pt DST"),
        ("full.keras", _keras_archive, "a Keras archive (model.save's .keras): load it with keras.saving.load_model"),
        ("arrays.npz", _npz, "a numpy .npz archive: load it with numpy.load"),
        ("legacy.h5", lambda p: p.write_bytes(HDF5_SIGNATURE + bytes(64)), "save_weights('model.weights.h5'), then"),
    ],
    ids=["ckpt", "misnamed", "keras-archive", "npz", "legacy-h5"],
)
def test_the_advice_follows_the_name_convert_reads_by(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, write: Callable[[Path], object], says: str
) -> None:
    """hubmixin convert picks its reader by the file's name: a command it would refuse is never given."""
    write(tmp_path / name)
    assert main(["inspect", str(tmp_path / name)]) == 1
    err = capsys.readouterr().err
    assert says.format(dir=tmp_path) in err and len(err.splitlines()) == 1
    assert f"`hubmixin convert {tmp_path / name} " not in err
