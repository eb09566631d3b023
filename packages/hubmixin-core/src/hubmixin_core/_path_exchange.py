"""Swap two paths in one atomic step, where the system has it: Linux ``renameat2(RENAME_EXCHANGE)``, macOS
``renamex_np(RENAME_SWAP)``, through the C library."""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import functools
import os
import sys
from pathlib import Path

from hubmixin_core.errors import HubMixinOSError


def exchange(a: Path, b: Path) -> bool:
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


def exchanging_system() -> bool:
    """Whether this system has an atomic exchange of two paths: Linux and macOS."""
    return sys.platform.startswith("linux") or sys.platform == "darwin"


def _libc() -> ctypes.CDLL | None:
    """The C library, for the exchange; ``None`` off Linux and macOS (Windows' ``find_library("c")`` finds none,
    and ``CDLL(None)`` raises ``TypeError`` there)."""
    return _c_library() if exchanging_system() else None


@functools.cache
def _c_library() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")  # (None on Linux too without ldconfig: CDLL(None) is the process' own)
    try:
        return ctypes.CDLL(name, use_errno=True)
    except (OSError, TypeError):
        return None
