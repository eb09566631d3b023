"""What the other processes of this machine are doing: alive or gone, holding a lock on a directory, or working in
one; asked of the system without disturbing them (never a signal on Windows)."""

from __future__ import annotations

import contextlib
import errno
import importlib
import os
import sys
from pathlib import Path
from typing import Any

if sys.platform != "win32":  # (Windows: no locks; a staging directory is judged by its process alone)
    import fcntl


def locked(path: Path) -> bool:
    """Whether a process (of any PID namespace on this machine) holds a lock on directory ``path``."""
    if sys.platform == "win32":
        return False
    try:
        descriptor = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return True
    finally:
        os.close(descriptor)  # closing releases a lock taken here
    return False


def holds_cwd(target: Path) -> bool:
    """Whether ``target`` (or a folder inside it) is the working directory of this process or of another one this
    user's (a shell ``cd``'d into a run folder): exchanged, it would sit in the removed old directory. Other
    processes' are known from ``/proc`` (Linux); macOS has none, and its exchange leaves such a shell behind."""
    try:
        cwds = [Path.cwd().resolve()]
    except OSError:
        cwds = []
    with contextlib.suppress(OSError):
        for process in Path("/proc").iterdir():
            if process.name.isdigit():
                with contextlib.suppress(OSError):
                    cwds.append((process / "cwd").readlink())
    return any(cwd == target or target in cwd.parents for cwd in cwds)


def locks_enforced(folder: Path) -> bool:
    """Whether ``folder``'s file system makes two locks conflict (some network file systems grant every one)."""
    if sys.platform == "win32":
        return False
    try:
        first, second = os.open(folder, os.O_RDONLY), os.open(folder, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(first, fcntl.LOCK_SH | fcntl.LOCK_NB)
        fcntl.flock(second, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as e:  # refused as a conflict (with ours, or a save's exclusive lock on the folder): enforced
        return e.errno in (errno.EWOULDBLOCK, errno.EAGAIN)
    finally:
        os.close(first)
        os.close(second)
    return False


def alive(pid: int) -> bool:
    """Whether process ``pid`` of this machine runs; ``True`` where it cannot be told."""
    if pid == os.getpid():
        return True  # ours: another save of this process may be writing it
    if sys.platform == "win32":
        return _windows_alive(pid)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # another user's live process (PermissionError), or no answer: keep its files
    return True


_WINDOWS_QUERY = 0x1000 | 0x100000  # PROCESS_QUERY_LIMITED_INFORMATION | SYNCHRONIZE


_WINDOWS_NO_PROCESS = 87  # ERROR_INVALID_PARAMETER: OpenProcess of a pid no process has


_WINDOWS_WAIT_TIMEOUT = 0x102


def _windows_api() -> Any:
    """Windows' ``_winapi`` module (typed loosely: its stubs exist for Windows only)."""
    return importlib.import_module("_winapi")


def _windows_alive(pid: int) -> bool:
    """Windows: whether process ``pid`` runs, asked of the process itself (``os.kill(pid, 0)`` would send a
    console Ctrl+C there, ``signal.CTRL_C_EVENT`` being 0)."""
    api = _windows_api()
    try:
        handle = api.OpenProcess(_WINDOWS_QUERY, False, pid)
    except OSError as e:
        return getattr(e, "winerror", None) != _WINDOWS_NO_PROCESS  # access denied: another user's, running
    try:
        return bool(api.WaitForSingleObject(handle, 0) == _WINDOWS_WAIT_TIMEOUT)  # not signalled: not exited
    finally:
        api.CloseHandle(handle)
