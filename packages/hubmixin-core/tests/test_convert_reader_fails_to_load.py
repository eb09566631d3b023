"""``hubmixin convert`` where the reader of the file's format is installed but fails to load (Keras without the
backend it imports): the error says why, and for Keras that ``KERAS_BACKEND`` picks the backend, rather than
asking to install the package that is installed."""

from __future__ import annotations

import importlib.util
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest

from hubmixin_core._convert import GROUP, TARGETS, ConvertError, convert_checkpoint
from hubmixin_core.cli import main

_TARGET = next((to for to in TARGETS if importlib.util.find_spec(f"hubmixin_{to}") is not None), None)
pytestmark = pytest.mark.skipif(_TARGET is None, reason="--to needs a framework package installed")

_BROKEN = 'raise ModuleNotFoundError("No module named \'tensorflow\'", name="tensorflow")\n'


@pytest.fixture
def broken_reader(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Replace the entry point of converter ``name`` by one whose module fails to import, as Keras' does where
    ``KERAS_BACKEND`` is unset and TensorFlow is not installed."""
    (tmp_path / "hubmixin_broken_reader.py").write_text(_BROKEN)
    monkeypatch.syspath_prepend(str(tmp_path))
    real = metadata.entry_points

    def break_reader(name: str) -> None:
        broken = metadata.EntryPoint(name=name, value="hubmixin_broken_reader:CONVERTER", group=GROUP)

        def entry_points(**params: Any) -> Any:
            if params != {"group": GROUP}:
                return real(**params)
            return [*(ep for ep in real(group=GROUP) if ep.name != name), broken]

        monkeypatch.setattr(metadata, "entry_points", entry_points)

    return break_reader


def test_a_keras_reader_that_cannot_load_names_its_error_and_keras_backend(
    tmp_path: Path, broken_reader: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    broken_reader("keras")
    source = tmp_path / "model.weights.h5"
    source.write_bytes(b"not read")
    with pytest.raises(ConvertError) as info:
        convert_checkpoint(source, tmp_path / "out", to=str(_TARGET), model="m:Model")
    assert str(info.value) == (
        f"{source}: its reader, hubmixin-keras, is installed but could not be loaded: No module named 'tensorflow' "
        "(Keras imports the backend KERAS_BACKEND names, TensorFlow where it is unset: set it to the one installed, "
        "e.g. KERAS_BACKEND=jax)"
    )
    assert not (tmp_path / "out").exists()
    capsys.readouterr()
    assert main(["convert", str(source), str(tmp_path / "out"), "--to", str(_TARGET), "--model", "m:Model"]) == 1
    err = capsys.readouterr().err.splitlines()
    assert err[0] == "hubmixin: warning: skipping converter keras: No module named 'tensorflow'"
    assert err[1].startswith(f"hubmixin: error: {source}: its reader, hubmixin-keras, is installed but could not")
    assert err[1].endswith("e.g. KERAS_BACKEND=jax)") and len(err) == 2
    assert "with hubmixin-keras" not in err[1]  # (the hint for a reader that is not installed)


def test_another_reader_that_cannot_load_names_its_error_only(tmp_path: Path, broken_reader: Any) -> None:
    broken_reader("torch")
    source = tmp_path / "model.pt"
    source.write_bytes(b"not read")
    with pytest.raises(ConvertError) as info:
        convert_checkpoint(source, tmp_path / "out", to=str(_TARGET))
    assert str(info.value) == (
        f"{source}: its reader, hubmixin-torch, is installed but could not be loaded: No module named 'tensorflow'"
    )
    folder = tmp_path / "legacy"
    folder.mkdir()
    with pytest.raises(ConvertError, match="a folder holding no checkpoint hubmixin converts"):
        convert_checkpoint(folder, tmp_path / "out", to=str(_TARGET))  # (nothing its reader would read)
    (folder / "pytorch_model.bin").write_bytes(b"not read")
    with pytest.raises(ConvertError, match=r"^\S+legacy: its reader, hubmixin-torch, is installed but could not"):
        convert_checkpoint(folder, tmp_path / "out", to=str(_TARGET))


def test_a_broken_reader_of_another_format_does_not_change_the_message(tmp_path: Path, broken_reader: Any) -> None:
    broken_reader("keras")
    source = tmp_path / "model.ckpt"
    source.write_bytes(b"not read")
    with pytest.raises(ConvertError, match=r"not a format hubmixin converts \(\.safetensors;"):
        convert_checkpoint(source, tmp_path / "out", to=str(_TARGET))
