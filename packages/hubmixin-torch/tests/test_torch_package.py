"""Package-level properties: imports, public API, docstring examples."""

from __future__ import annotations

import doctest
import subprocess
import sys

import hubmixin_torch
from hubmixin_torch import _checkpoint, _construct, _dtypes, _load, _mixin, _save


def test_import_loads_no_other_framework() -> None:
    code = (
        "import sys, hubmixin_torch\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in {'jax', 'flax', 'tensorflow', 'keras'})\n"
        "bad += ['ml_dtypes'] * ('ml_dtypes' in sys.modules)  # ~0.5 s to import: only for a float8 numpy read\n"
        "print(bad)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_public_api() -> None:
    assert hubmixin_torch.__all__ == ["PyTorchModelHubMixin", "__version__"]
    assert hubmixin_torch.PyTorchModelHubMixin.__doc__


def test_docstring_examples() -> None:
    for module in (hubmixin_torch, _mixin, _dtypes, _save, _construct, _checkpoint, _load):
        failures, _ = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
        assert failures == 0, module.__name__
