"""The check that keeps repository file names inside the model directory."""

from __future__ import annotations

from pathlib import PurePosixPath

from hubmixin_core.errors import InvalidRepoPathError

__all__ = ["check_relative_path"]


def check_relative_path(name: str, source: str) -> str:
    """Return ``name`` if it is a relative POSIX path that stays inside its directory.

    Raises:
        InvalidRepoPathError: ``name`` is empty, absolute, has a drive, a backslash, or a ``.`` or ``..`` part
            (``"."`` names the directory itself, not a file in it).

    Examples:
        >>> check_relative_path("model-00001-of-00002.safetensors", "index.json")
        'model-00001-of-00002.safetensors'
    """
    path = PurePosixPath(name)
    if (
        not name
        or "\\" in name
        or "\x00" in name
        or path.is_absolute()
        or any(part in (".", "..", "") for part in name.split("/"))
        or ":" in path.parts[0]
    ):
        raise InvalidRepoPathError(name, source)
    return name
