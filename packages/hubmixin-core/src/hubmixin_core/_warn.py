"""Warnings that point at the user's line, however deep in hubmixin and the framework they are raised."""

from __future__ import annotations

import sys
import warnings
from pathlib import PurePath

__all__ = ["warn_user"]

_INTERNAL = frozenset({"hubmixin_core", "hubmixin_torch", "hubmixin_flax", "hubmixin_keras", "flax", "keras", "torch"})
"""Packages whose frames are skipped: a model's construction runs through the framework's metaclass or
``nn.Module.__call__`` (a different depth in each)."""


def warn_user(message: str, category: type[Warning]) -> None:
    """``warnings.warn(message, category)`` attributed to the first frame outside hubmixin and the frameworks."""
    level, frame = 2, sys._getframe(1)
    while frame.f_back is not None and _INTERNAL & set(PurePath(frame.f_code.co_filename).parts):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, category, stacklevel=level)
