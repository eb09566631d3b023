"""Make ``hubmixin_core.params`` importable without running the package it generates code for.

The spec module imports only the standard library; loading it through a bare package object means a stale or
broken generated module can never stop the generator that repairs it.
"""

from __future__ import annotations

import sys
import types
from pathlib import Path

__all__ = ["import_spec_only"]

_CORE = Path(__file__).resolve().parent.parent / "packages" / "hubmixin-core" / "src" / "hubmixin_core"


def import_spec_only() -> None:
    """Register a bare ``hubmixin_core`` package (unless already imported) whose submodules load on demand."""
    if "hubmixin_core" in sys.modules:
        return
    package = types.ModuleType("hubmixin_core")
    package.__path__ = [str(_CORE)]
    sys.modules["hubmixin_core"] = package
