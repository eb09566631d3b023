"""Write a directory completely or not at all."""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

__all__ = ["atomic_directory"]


@contextlib.contextmanager
def atomic_directory(target: Path, *, replaces: Callable[[str], bool] = lambda _: False) -> Iterator[Path]:
    """Yield an empty staging directory beside ``target``; on success move its content into ``target``.

    A new ``target`` appears with one rename. An existing one receives each staged file by ``os.replace``
    (each file whole); files there that ``replaces(name)`` claims and the new save did not write are removed,
    so stale weight shards never mix with new ones. If the body raises, ``target`` is left untouched and the
    staging directory is removed.
    """
    target = Path(target).absolute()
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    try:
        yield staging
        if not target.exists():
            try:
                staging.rename(target)
                return
            except OSError:  # created concurrently: fall through and merge
                pass
        _merge(staging, target, replaces)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _merge(staging: Path, target: Path, replaces: Callable[[str], bool]) -> None:
    written = {p.relative_to(staging).as_posix() for p in staging.rglob("*") if not p.is_dir()}
    for name in sorted(written):
        destination = target / name
        destination.parent.mkdir(parents=True, exist_ok=True)
        (staging / name).replace(destination)
    for stale in target.iterdir():
        if stale.is_file() and stale.name not in written and replaces(stale.name):
            stale.unlink()
