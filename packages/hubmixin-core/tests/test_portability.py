"""Windows and macOS code paths, taken on Linux by setting what our modules read of the platform (``sys.platform``,
the C library, ``os.kill``, the Windows API, ``fcntl``) as those systems give it."""

from __future__ import annotations

import ctypes
import errno
import io
import json
import os
import subprocess
import sys
import types
from pathlib import Path, PosixPath, PurePosixPath, PureWindowsPath
from typing import Any

import numpy as np
import pytest
from core_models import MLP, NumpyModelMixin
from safetensors.numpy import save_file

from hubmixin_core import _atomic, _path_exchange, _processes, cli
from hubmixin_core._config import BUILTIN_CODERS, encode_value
from hubmixin_core.errors import HubMixinOSError
from hubmixin_core.testing import _blobs

needs_procfs = pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="judges open files from /proc")


def _windows_cdll(name: str | None, *args: Any, **kwargs: Any) -> Any:
    """``ctypes.CDLL`` as Python 3.11 runs it on Windows: ``'/' in name`` first, a ``TypeError`` for ``None``."""
    if "/" in name or "\\" in name:  # type: ignore[operator]
        pass
    raise OSError("no C library by that name")


def _on_windows(monkeypatch: pytest.MonkeyPatch) -> None:
    """``sys.platform`` as Windows gives it, in every module of the save that reads it."""
    for module in (_atomic, _processes, _path_exchange):
        monkeypatch.setattr(module, "sys", types.SimpleNamespace(platform="win32"))


@pytest.fixture
def windows(monkeypatch: pytest.MonkeyPatch) -> None:
    """Saves as they run on Windows: its platform, and ctypes' finding no C library (MSVC 14 and later)."""
    _on_windows(monkeypatch)
    util = types.SimpleNamespace(find_library=lambda name: None)
    fake = types.SimpleNamespace(CDLL=_windows_cdll, util=util, get_errno=ctypes.get_errno)
    monkeypatch.setattr(_path_exchange, "ctypes", fake)


@pytest.fixture
def no_exchange(monkeypatch: pytest.MonkeyPatch) -> None:
    """Saves on Windows, its C library question aside: files are moved one at a time."""
    _on_windows(monkeypatch)
    monkeypatch.setattr(_path_exchange, "_libc", lambda: None)


def _stale_staging(target: Path, pid: int) -> Path:
    path = target.parent / f".{target.name}.hubmixin-{_atomic._host()}-{pid}-abcd1234.tmp"
    path.mkdir()
    (path / "model.safetensors").write_bytes(b"\0" * 64)
    return path


def test_windows_saves_into_an_existing_directory_file_by_file(tmp_path: Path, windows: None, monkeypatch: Any) -> None:
    def no_link(*args: object) -> None:
        raise AssertionError("files linked into the staging directory for an exchange Windows does not have")

    target = tmp_path / "run"
    MLP(seed=0).save_pretrained(target)
    (target / "notes.txt").write_text("mine")
    monkeypatch.setattr(_atomic, "_link_tree", no_link)
    model = MLP(seed=1)
    model.save_pretrained(target)  # raised TypeError from ctypes.CDLL(None)
    loaded = MLP.from_pretrained(target)
    np.testing.assert_array_equal(loaded.weights["fc1.weight"], model.weights["fc1.weight"])
    assert (target / "notes.txt").read_text() == "mine"
    assert not list(tmp_path.glob(".run.hubmixin-*"))


def test_libc_is_none_on_windows(windows: None) -> None:
    assert _path_exchange._libc() is None


def test_a_failed_move_leaves_the_old_config(tmp_path: Path, no_exchange: None, monkeypatch: Any) -> None:
    # Windows replaces files one at a time, and refuses to replace one in use (a model mapping its weights)
    replace = _atomic._replace_file

    def refuse_weights(source: Path, destination: Path) -> None:
        if destination.name == "model.safetensors":
            raise PermissionError(errno.EACCES, "Access is denied", str(destination))
        replace(source, destination)

    target = tmp_path / "run"
    old = MLP(hidden=8)
    old.save_pretrained(target)
    monkeypatch.setattr(_atomic, "_replace_file", refuse_weights)
    with pytest.raises(HubMixinOSError, match=r"model\.safetensors is in use"):
        MLP(hidden=16).save_pretrained(target)
    assert json.loads((target / "config.json").read_text())["hidden"] == 8
    loaded = MLP.from_pretrained(target)
    np.testing.assert_array_equal(loaded.weights["fc1.weight"], old.weights["fc1.weight"])


class _NoSuchProcess(OSError):
    winerror = 87  # ERROR_INVALID_PARAMETER


def _windows_api(running: set[int]) -> types.SimpleNamespace:
    """``_winapi``'s process calls, for the pids in ``running`` alive."""

    def open_process(access: int, inherit: bool, pid: int) -> int:
        if pid not in running:
            raise _NoSuchProcess(errno.EINVAL, "The parameter is incorrect")
        return pid

    def wait(handle: int, milliseconds: int) -> int:
        return 0x102  # WAIT_TIMEOUT: still running

    return types.SimpleNamespace(OpenProcess=open_process, WaitForSingleObject=wait, CloseHandle=lambda h: None)


def test_windows_removes_a_dead_process_staging_directory_without_os_kill(
    tmp_path: Path, windows: None, monkeypatch: Any
) -> None:
    signalled: list[int] = []

    def windows_kill(pid: int, signal: int) -> None:  # os.kill(pid, 0) there: GenerateConsoleCtrlEvent(CTRL_C)
        signalled.append(pid)
        raise OSError(errno.EINVAL, "The parameter is incorrect")

    target = tmp_path / "run"
    dead, running = _stale_staging(target, 999_001), _stale_staging(target, 999_002)
    monkeypatch.setattr(os, "kill", windows_kill)
    monkeypatch.setattr(_processes, "_windows_api", lambda: _windows_api({999_002}))
    assert _atomic.remove_interrupted_saves(target) == [dead]
    assert not dead.exists() and running.exists()
    assert signalled == []


def test_one_entry_that_cannot_be_judged_stops_no_other(tmp_path: Path, monkeypatch: Any) -> None:
    target = tmp_path / "run"
    stale = [_stale_staging(target, 999_000 + i) for i in range(3)]
    calls: list[Path] = []

    def abandoned(path: Path, match: object) -> bool:
        calls.append(path)
        if len(calls) == 1:
            raise OSError(errno.EIO, "cannot tell")
        return True

    monkeypatch.setattr(_atomic, "_abandoned", abandoned)
    removed = _atomic.remove_interrupted_saves(target)
    assert sorted(removed) == sorted(p for p in stale if p != calls[0])
    assert calls[0].exists()


def test_posix_liveness_keeps_a_process_it_cannot_ask(monkeypatch: Any) -> None:
    def refuse(pid: int, signal: int) -> None:
        raise OSError(errno.EINVAL, "no answer")

    monkeypatch.setattr(os, "kill", refuse)
    assert _processes.alive(999_003)


class WithPath(NumpyModelMixin):
    def __init__(self, vocab: Path = Path("vocab.txt")) -> None:
        self.vocab = vocab
        self.weights = {"w": np.zeros(2, np.float32)}


def test_a_windows_path_is_written_with_slashes(tmp_path: Path) -> None:
    assert encode_value(PureWindowsPath("assets\\vocab.txt"), BUILTIN_CODERS) == "assets/vocab.txt"
    WithPath(vocab=PureWindowsPath("assets\\vocab.txt")).save_pretrained(tmp_path)  # type: ignore[arg-type]
    assert json.loads((tmp_path / "config.json").read_text())["vocab"] == "assets/vocab.txt"
    loaded = WithPath.from_pretrained(tmp_path)
    assert isinstance(loaded.vocab, Path) and loaded.vocab == Path("assets", "vocab.txt")


_REMOTE, _LOCAL = PureWindowsPath("C:/x"), PurePosixPath("/")


class WithPurePaths(NumpyModelMixin):
    def __init__(self, remote: PureWindowsPath = _REMOTE, local: PurePosixPath = _LOCAL) -> None:
        self.remote, self.local = remote, local
        self.weights = {"w": np.zeros(2, np.float32)}


def test_a_path_comes_back_as_its_annotations_class(tmp_path: Path) -> None:
    WithPurePaths(PureWindowsPath("D:\\share\\data"), PurePosixPath("/srv/data")).save_pretrained(tmp_path)
    loaded = WithPurePaths.from_pretrained(tmp_path)
    assert type(loaded.remote) is PureWindowsPath and loaded.remote == PureWindowsPath("D:\\share\\data")
    assert loaded.remote.drive == "D:"
    assert type(loaded.local) is PurePosixPath and loaded.local == PurePosixPath("/srv/data")


class _WindowsPath(PosixPath):
    """A path whose deletion fails while this process has the file open, as ``DeleteFileW`` does on Windows for
    a file opened without ``FILE_SHARE_DELETE`` (every Python ``open``)."""

    def unlink(self, missing_ok: bool = False) -> None:
        fds = Path("/proc/self/fd")
        if any(os.path.realpath(fd) == os.path.realpath(self) for fd in fds.iterdir()):
            raise PermissionError(errno.EACCES, "The process cannot access the file", str(self))
        super().unlink(missing_ok)


@needs_procfs
def test_windows_local_hub_removes_an_orphan_upload_but_not_one_in_progress(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.setattr(_blobs, "fcntl", None)
    (tmp_path / "upload-orphan").write_bytes(b"x")
    with (tmp_path / "upload-running").open("wb"):
        removed = _blobs.remove_orphans(_WindowsPath(tmp_path), ["upload-"])
    assert removed == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["upload-running"]


def test_inspect_into_a_file_of_a_code_page_without_the_names(tmp_path: Path) -> None:
    # Windows' stdout redirected to a file or pipe: the ANSI code page (cp1252), strict
    save_file({"层.weight": np.zeros(1, np.float32)}, str(tmp_path / "model.safetensors"))
    environment = {**os.environ, "PYTHONIOENCODING": "cp1252"}
    command = [sys.executable, "-m", "hubmixin_core.cli", "inspect", str(tmp_path)]
    result = subprocess.run(command, capture_output=True, env=environment, timeout=120, check=False)
    assert result.returncode == 0, result.stderr.decode()
    assert b"\\u5c42.weight" in result.stdout


def test_main_called_in_a_program_gives_its_streams_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    save_file({"层.weight": np.zeros(1, np.float32)}, str(tmp_path / "model.safetensors"))
    out = io.TextIOWrapper(io.BytesIO(), encoding="cp1252", errors="strict")
    monkeypatch.setattr(sys, "stdout", out)
    assert cli.main(["inspect", str(tmp_path)]) == 0
    assert out.errors == "strict"  # the program's own writes still raise where they did
    out.flush()
    assert b"\\u5c42.weight" in out.buffer.getvalue()
