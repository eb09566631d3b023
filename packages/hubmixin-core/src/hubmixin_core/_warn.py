"""Warnings that point at the user's line, however deep in hubmixin and the framework they are raised."""

from __future__ import annotations

import os
import sys
import warnings
from pathlib import Path

__all__ = ["warn_user"]

_INTERNAL = ("hubmixin_core", "hubmixin_torch", "hubmixin_flax", "hubmixin_keras", "flax", "keras", "torch")
"""Packages whose frames are skipped: a model's construction runs through the framework's metaclass or
``nn.Module.__call__`` (a different depth in each)."""


def _internal_roots() -> tuple[str, ...]:
    """The directories of the :data:`_INTERNAL` packages imported so far (not folders of the same name)."""
    roots = []
    for name in _INTERNAL:
        file = getattr(sys.modules.get(name), "__file__", None)
        if file:
            roots.append(str(Path(file).parent) + os.sep)
    return tuple(roots)


def warn_user(message: str, category: type[Warning]) -> None:
    """``warnings.warn(message, category)`` attributed to the first frame outside hubmixin and the frameworks."""
    roots = _internal_roots()
    level, frame = 2, sys._getframe(1)
    while frame.f_back is not None and frame.f_code.co_filename.startswith(roots):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, category, stacklevel=level)
