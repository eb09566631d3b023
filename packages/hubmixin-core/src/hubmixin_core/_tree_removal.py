"""Remove a directory tree without leaving it: never through a symbolic link or a junction, and never into a file
system mounted inside it (``shutil.rmtree`` empties those too)."""

from __future__ import annotations

import contextlib
import os
import re
import stat
from pathlib import Path

RUNNING_AS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0  # root passes every permission check


def mounts_below(path: Path) -> list[Path]:
    """The mount points strictly inside directory ``path`` (bind mounts of the same file system too, on Linux)."""
    with contextlib.suppress(OSError):
        text = Path("/proc/self/mountinfo").read_text()
        inside = []
        for line in text.splitlines():
            fields = line.split(" ")
            if len(fields) > 4:
                point = Path(re.sub(r"\\([0-7]{3})", lambda m: chr(int(m[1], 8)), fields[4]))
                if path in point.parents:
                    inside.append(point)
        return inside
    device = path.stat().st_dev  # elsewhere: a directory on another device than its target's
    return [
        Path(root) / name
        for root, names, _ in os.walk(path)
        for name in names
        if os.lstat(Path(root) / name).st_dev != device
    ]


def remove_tree(path: Path) -> None:
    """Remove directory ``path``, but no file system mounted inside it (``shutil.rmtree`` empties those too), and
    never through a symbolic link: one at ``path`` itself is left as it is (a link planted under a staging
    directory's name must not take the files it points to with it), and one inside is removed, not followed."""
    try:
        top = os.lstat(path)
    except OSError:
        return
    if not real_directory(top):
        return
    mounts = set(mounts_below(path))
    if _BY_DESCRIPTOR:
        _remove_by_descriptor(path, top, mounts)
    else:
        _remove_by_path(path, top.st_dev, mounts)


_BY_DESCRIPTOR = (
    {os.open, os.stat, os.unlink, os.rmdir} <= os.supports_dir_fd
    and os.scandir in os.supports_fd
    and hasattr(os, "O_NOFOLLOW")
    and hasattr(os, "O_DIRECTORY")
)
"""Whether folders can be walked by descriptor (not Windows), as ``shutil.rmtree`` does: a folder swapped for a
link between its check and its removal is then not followed either."""


def real_directory(status: os.stat_result) -> bool:
    """Whether ``lstat`` ``status`` is a directory itself: not a link to one, nor a Windows junction."""
    return stat.S_ISDIR(status.st_mode) and getattr(status, "st_reparse_tag", 0) != _JUNCTION


_JUNCTION = 0xA0000003  # IO_REPARSE_TAG_MOUNT_POINT (in ``stat`` on Windows only)


def _remove_by_descriptor(path: Path, top: os.stat_result, mounts: set[Path]) -> None:
    def remove(directory: int, where: Path) -> None:
        with contextlib.suppress(OSError), os.scandir(directory) as entries:
            for entry in list(entries):
                with contextlib.suppress(OSError):
                    status = entry.stat(follow_symlinks=False)
                    if not stat.S_ISDIR(status.st_mode):
                        os.unlink(entry.name, dir_fd=directory)
                    elif where / entry.name not in mounts and status.st_dev == top.st_dev:
                        descriptor = _open_directory(entry.name, status, directory)
                        if descriptor is not None:
                            try:
                                remove(descriptor, where / entry.name)
                            finally:
                                os.close(descriptor)
                            os.rmdir(entry.name, dir_fd=directory)

    descriptor = _open_directory(str(path), top, None)
    if descriptor is None:
        return
    try:
        remove(descriptor, path)
    finally:
        os.close(descriptor)
    with contextlib.suppress(OSError):
        path.rmdir()  # (never a link: rmdir refuses one)


def _open_directory(name: str, status: os.stat_result, parent: int | None) -> int | None:
    """A descriptor of the folder ``name`` (in folder ``parent``) that ``status`` describes, made writable (a
    read-only folder a save copied); ``None`` where it cannot be opened, or a link or another folder is there now."""
    flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
    try:
        descriptor = os.open(name, flags, dir_fd=parent)
    except PermissionError:
        try:  # (an unreadable folder; never through a link: where that cannot be told, it stays)
            os.chmod(name, stat.S_IMODE(status.st_mode) | stat.S_IRWXU, dir_fd=parent, follow_symlinks=False)
            descriptor = os.open(name, flags, dir_fd=parent)
        except (OSError, ValueError, NotImplementedError):
            return None
    except OSError:
        return None
    try:
        opened = os.fstat(descriptor)
        if (opened.st_dev, opened.st_ino) != (status.st_dev, status.st_ino):
            os.close(descriptor)
            return None
        if not RUNNING_AS_ROOT and stat.S_IMODE(opened.st_mode) & stat.S_IRWXU != stat.S_IRWXU:
            with contextlib.suppress(OSError):
                os.fchmod(descriptor, stat.S_IMODE(opened.st_mode) | stat.S_IRWXU)
    except OSError:
        os.close(descriptor)
        return None
    return descriptor


def _remove_by_path(path: Path, device: int, mounts: set[Path]) -> None:
    """:func:`_remove_by_descriptor` where folders cannot be opened (Windows): entries judged by ``lstat``."""

    def remove(directory: str) -> None:
        if not RUNNING_AS_ROOT and not os.access(directory, os.W_OK | os.X_OK):  # a read-only folder a save copied
            with contextlib.suppress(OSError):
                Path(directory).chmod(stat.S_IMODE(os.lstat(directory).st_mode) | stat.S_IRWXU)
        with contextlib.suppress(OSError), os.scandir(directory) as entries:
            for entry in list(entries):
                with contextlib.suppress(OSError):
                    status = entry.stat(follow_symlinks=False)
                    if not real_directory(status):
                        Path(entry.path).unlink()  # (Windows: a link to a folder, or a junction, too)
                    elif Path(entry.path) not in mounts and status.st_dev == device:
                        remove(entry.path)
        with contextlib.suppress(OSError):
            Path(directory).rmdir()

    remove(str(path))
