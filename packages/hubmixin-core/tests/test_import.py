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


@pytest.mark.parametrize(
    ("module", "deferred"),
    [
        ("_hubmixin_pytest", "hubmixin_core"),  # pytest loads the plugin in every project hubmixin is installed in
        ("hubmixin_core", "ml_dtypes"),  # ~0.5 s to import: only when a bfloat16 or float8 tensor is read
    ],
)
def test_import_defers_what_is_slow_to_import(module: str, deferred: str) -> None:
    code = f"import sys, {module}; print({deferred!r} in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


def test_bfloat16_and_float8_are_there_when_asked_for() -> None:
    code = (
        "import sys; from hubmixin_core.weights import NUMPY_DTYPES, numpy_dtype, dtype_name; "
        "print(numpy_dtype('BF16').name, dtype_name('bfloat16'), 'F8_E5M2' in NUMPY_DTYPES, 'ml_dtypes' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["bfloat16", "BF16", "True", "True"]
