"""Write a model directory completely or not at all, even when the process is killed midway.

A save is written into a staging directory beside the target, ``.NAME.hubmixin-HOST-PID-XXXXXXXX.tmp`` (``HOST``: a
short hash of the machine's name); then:

- a new target appears with one ``rename``;
- an existing target is exchanged with the staging directory in one atomic step (Linux ``renameat2`` with
  ``RENAME_EXCHANGE``, macOS ``renamex_np`` with ``RENAME_SWAP``). Before it, the files of the target that the
  save does not manage (a README the user edited, notes, sub-folders) are hard-linked into the staging directory,
  so they are kept; the managed ones (weights, ``config.json``) of the old save leave with the old directory,
  which then sits at the staging path and is removed.

So at any instant the target holds the complete old save or the complete new one; a load, which reads its files
one after the other, compares :func:`save_stamp` before and after and reads again if a save landed meanwhile, so
it never mixes them.
A kill leaves at most a staging directory (and, in a target saved file by file across file systems, one ``.part``
file); the next save or load of the same target removes those whose process is gone. Where no atomic exchange
exists (other systems, some network file systems), or the target cannot move (a mount point, the working
directory or one of its parents), files are moved one at a time, each whole, and only a
crash during that final step can leave a mix. A symlink to a directory is followed: the save goes where it points.

The target gets the permissions a plain ``mkdir`` would give under the user's umask (an existing one keeps its
own); files get those ``open`` gives.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import errno
import functools
import hashlib
import os
import re
import shutil
import socket
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from hubmixin_core.errors import HubMixinOSError, SaveLocationError

__all__ = ["atomic_directory", "remove_interrupted_saves", "save_stamp"]

_STAGING = re.compile(r"^\.(?P<name>.+)\.hubmixin-(?:(?P<host>h[0-9a-f]{8})-)?(?P<pid>\d+)-[^.]+\.tmp$")
_PART = re.compile(r"^\..+\.hubmixin-(?:(?P<host>h[0-9a-f]{8})-)?(?P<pid>\d+)\.part$")
_FOREIGN_AFTER_S = 24 * 3600  # another machine's staging directory is taken for abandoned after a day


@functools.cache
def _host() -> str:
    """This machine, in staging names: a process id means something on its own machine only (shared disks)."""
    return "h" + hashlib.sha256(socket.gethostname().encode()).hexdigest()[:8]


@contextlib.contextmanager
def atomic_directory(target: Path, *, replaces: Callable[[str], bool] = lambda _: False) -> Iterator[Path]:
    """Yield an empty staging directory beside ``target``; on success it becomes ``target`` in one step.

    Files of an existing ``target`` that the save did not write are kept, unless ``replaces(name)`` claims
    them (stale weight shards). If the body raises, ``target`` is left untouched and the staging directory is
    removed.
    """
    target = Path(os.path.realpath(target))  # a symlink's directory, and ".." resolved: saved where it points
    if target.exists() and not target.is_dir():
        raise SaveLocationError(errno.EEXIST, f"cannot save into {target}: it is a file, not a directory")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError) as e:
        raise SaveLocationError(errno.ENOTDIR, f"cannot save into {target}: a parent of it is a file") from e
    remove_interrupted_saves(target)
    prefix = f".{target.name}.hubmixin-{_host()}-{os.getpid()}-"
    staging = Path(tempfile.mkdtemp(prefix=prefix, suffix=".tmp", dir=target.parent))
    try:
        yield staging
        _commit(staging, target, replaces)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _commit(staging: Path, target: Path, replaces: Callable[[str], bool]) -> None:
    if not target.exists():
        staging.chmod(0o777 & ~_umask())
        try:
            staging.rename(target)
            return
        except OSError:  # created meanwhile by someone else: exchange with it
            pass
    if os.path.ismount(target) or _holds_cwd(target):  # a mount cannot move, nor the cwd (the process would lose it)
        _move_into(staging, target, replaces)
        return
    written = {p.name for p in staging.iterdir()}
    kept = [p for p in target.iterdir() if p.name not in written and not (p.is_file() and replaces(p.name))]
    for path in kept:
        _link_tree(path, staging / path.name)
    staging.chmod(target.stat().st_mode & 0o7777)
    if not _exchange(staging, target):
        _move_into(staging, target, replaces)
    # staging now holds the old save (or what is left of the staging files): the caller's finally removes it


def _link_tree(source: Path, destination: Path) -> None:
    """``source`` at ``destination`` too: files hard-linked (copied where links fail), folders re-created."""
    if source.is_symlink():
        destination.symlink_to(source.readlink())
    elif source.is_dir():
        destination.mkdir()
        shutil.copystat(source, destination)
        for child in source.iterdir():
            _link_tree(child, destination / child.name)
    else:
        try:
            os.link(source, destination)
        except OSError:
            shutil.copy2(source, destination)


def _move_into(staging: Path, target: Path, replaces: Callable[[str], bool]) -> None:
    """The fallback without an atomic exchange: each staged file moved over its counterpart, then stale ones
    removed."""
    written = {p.relative_to(staging).as_posix() for p in staging.rglob("*") if not p.is_dir()}
    for name in sorted(written):
        destination = target / name
        if destination.exists() and not destination.is_file():
            continue  # a kept folder, linked into staging: already there
        destination.parent.mkdir(parents=True, exist_ok=True)
        if not (destination.exists() and (staging / name).samefile(destination)):
            _replace_file(staging / name, destination)
    for stale in target.iterdir():
        if stale.is_file() and stale.name not in written and replaces(stale.name):
            stale.unlink()


def _replace_file(source: Path, destination: Path) -> None:
    """Move a file over ``destination`` in one step; across file systems, copied beside it first."""
    try:
        source.replace(destination)
    except OSError as e:
        if e.errno != errno.EXDEV:
            raise
        part = destination.with_name(f".{destination.name}.hubmixin-{_host()}-{os.getpid()}.part")
        try:
            shutil.copy2(source, part)
            part.replace(destination)
        except BaseException:
            part.unlink(missing_ok=True)
            raise


def _holds_cwd(target: Path) -> bool:
    """Whether ``target`` is the working directory or one of its parents."""
    try:
        cwd = Path.cwd().resolve()
    except OSError:
        return False
    return cwd == target or target in cwd.parents


def _exchange(a: Path, b: Path) -> bool:
    """Swap the paths ``a`` and ``b`` atomically; ``False`` where the system or file system cannot."""
    libc = _libc()
    if libc is None:
        return False
    if sys.platform.startswith("linux") and hasattr(libc, "renameat2"):
        at_fdcwd, rename_exchange = -100, 2
        result = libc.renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange)
    elif sys.platform == "darwin" and hasattr(libc, "renamex_np"):
        rename_swap = 2
        result = libc.renamex_np(os.fsencode(a), os.fsencode(b), rename_swap)
    else:
        return False
    if result == 0:
        return True
    error = ctypes.get_errno()
    if error in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EBUSY, errno.EXDEV):
        return False
    raise HubMixinOSError(error, f"cannot exchange {a} and {b}: {os.strerror(error)}")


def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name, use_errno=True)
    except OSError:
        return None


def _umask() -> int:
    """The process' umask, read without changing it where the system tells it (Linux), else set back at once."""
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def remove_interrupted_saves(target: str | Path) -> list[Path]:
    """Remove the staging directories of saves to ``target`` whose process is gone (killed, crashed), and the
    ``.part`` files such a save left inside ``target`` (a target saved file by file: a mount point, the working
    directory, across file systems).

    Only this machine's processes can be checked: another machine's staging directory (a disk shared by the nodes
    of a cluster) is left alone until it is a day old, so that a load on one node never removes a save in progress
    on another.

    Returns:
        The directories removed.
    """
    target = Path(os.path.realpath(target))
    removed = []
    with contextlib.suppress(OSError):
        for path in target.parent.iterdir():
            match = _STAGING.match(path.name)
            if match and match["name"] == target.name and path.is_dir() and _abandoned(path, match):
                shutil.rmtree(path, ignore_errors=True)
                removed.append(path)
    with contextlib.suppress(OSError):
        for path in target.iterdir() if target.is_dir() else ():
            match = _PART.match(path.name)
            if match and path.is_file() and _abandoned(path, match):
                path.unlink(missing_ok=True)
                removed.append(path)
    return removed


def _abandoned(path: Path, match: re.Match[str]) -> bool:
    if match["host"] in (None, _host()):  # ours (or named before hosts were): is its process still there?
        return not _alive(int(match["pid"]))
    return time.time() - path.stat().st_mtime > _FOREIGN_AFTER_S


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True  # ours: another save of this process may be writing it
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's live process
    return True


def save_stamp(target: Path) -> object:
    """What changes whenever a save to ``target`` lands: the directory's identity (an exchange swaps it) and each
    file's identity, size and time (a save moving files one at a time replaces them). ``None`` if unreadable.

    A load compares the stamps from before and after reading to know that it read one save, not parts of two.
    """
    try:
        status = target.stat()
        with os.scandir(target) as entries:
            files = sorted(
                (entry.name, info.st_ino, info.st_size, info.st_mtime_ns)
                for entry in entries
                if entry.is_file() and (info := entry.stat())
            )
    except OSError:
        return None
    return status.st_dev, status.st_ino, files
