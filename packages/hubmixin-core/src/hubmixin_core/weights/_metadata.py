"""The header metadata of a canonical checkpoint: its format, layout version and the framework that wrote it."""

from __future__ import annotations

import re
from collections.abc import Mapping

from hubmixin_core.errors import LayoutError

__all__ = ["CANONICAL_METADATA", "FRAMEWORK_KEY", "LAYOUT_KEY", "LAYOUT_VERSION", "canonical_metadata"]

_VERSION = re.compile(r"[0-9]+(?:\.[0-9]+)*")  # ASCII digits only: str.isdigit also accepts "²", which int() refuses

LAYOUT_KEY = "hubmixin.layout"
"""Header metadata key of the canonical layout's version (absent from files that hubmixin did not write)."""

LAYOUT_VERSION = "1"
"""The canonical layout this release writes: PyTorch names and tensor layouts. Files of a later one are refused."""

FRAMEWORK_KEY = "hubmixin.framework"
"""Header metadata key naming the framework that wrote the file (``torch``, ``flax``, ``keras-jax``, ...)."""

CANONICAL_METADATA: dict[str, str] = {"format": "pt", LAYOUT_KEY: LAYOUT_VERSION}
"""Header metadata of a canonical checkpoint: PyTorch names and layouts (transformers requires ``format``)."""


def canonical_metadata(framework: str) -> dict[str, str]:
    """:data:`CANONICAL_METADATA` plus the framework that writes the file.

    Examples:
        >>> canonical_metadata("flax")
        {'format': 'pt', 'hubmixin.layout': '1', 'hubmixin.framework': 'flax'}
    """
    return {**CANONICAL_METADATA, FRAMEWORK_KEY: framework}


def check_layout_version(metadata: Mapping[str, str], source: str) -> None:
    """Refuse a file written in a canonical layout later than :data:`LAYOUT_VERSION` (or an unreadable one).

    Raises:
        LayoutError: naming ``source``, the file's layout version and the one this release reads.
    """
    version = metadata.get(LAYOUT_KEY)
    if version is None or version == LAYOUT_VERSION:
        return
    if not _VERSION.fullmatch(version):
        raise LayoutError(
            f"{source}: layout version {version!r:.40} ({LAYOUT_KEY}) is not a version number (such as '1' or '2.0')"
        )
    if _later(version.split("."), [LAYOUT_VERSION]):
        raise LayoutError(
            f"{source}: written in canonical layout version {version:.40}; this hubmixin reads up to version "
            f"{LAYOUT_VERSION}: upgrade hubmixin to load it"
        )


def _later(version: list[str], than: list[str]) -> bool:
    """Whether the dotted version ``version`` (its parts ASCII digits) is later than ``than``: ``1.0`` is ``1``."""
    # compared by length first: int() refuses over 4,300 digits
    ours = [part.lstrip("0") or "0" for part in version]
    theirs = [part.lstrip("0") or "0" for part in than]
    width = max(len(ours), len(theirs))
    ours += ["0"] * (width - len(ours))
    theirs += ["0"] * (width - len(theirs))
    return [(len(p), p) for p in ours] > [(len(p), p) for p in theirs]
