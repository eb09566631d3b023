"""hubmixin_core is framework-neutral: importing it (and its test server) imports no ML framework."""

from __future__ import annotations

import subprocess
import sys

import pytest

FRAMEWORKS = ("torch", "jax", "flax", "tensorflow", "keras")


@pytest.mark.parametrize("module", ["hubmixin_core", "hubmixin_core.weights", "hubmixin_core.testing"])
def test_import_pulls_in_no_framework(module: str) -> None:
    code = f"import sys, {module}; print(','.join(m for m in {FRAMEWORKS!r} if m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == ""
