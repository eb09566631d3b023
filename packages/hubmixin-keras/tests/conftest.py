"""Fixtures of the hubmixin-keras tests: a small model and its saved directory, under this process' backend.

Keras fixes its backend per process (``KERAS_BACKEND``); nox runs this folder once per backend.
"""

from __future__ import annotations

import os

# jax (and TensorFlow's XLA) compile every new op shape once, even eagerly: with these tiny models, compiling is
# most of the jax run's time, and XLA's optimisation passes most of compiling. Set before keras imports jax.
_FAST_COMPILE = "--xla_backend_optimization_level=0 --xla_llvm_disable_expensive_passes=true"
if "xla_backend_optimization_level" not in os.environ.get("XLA_FLAGS", ""):
    os.environ["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} {_FAST_COMPILE}".strip()

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
from keras_models import Net, make_net  # noqa: E402


@pytest.fixture(scope="session")
def net() -> Net:
    """A small model whose every variable differs from its initial value (never mutated by tests)."""
    return make_net()


@pytest.fixture
def saved(net: Net, tmp_path: Path) -> Path:
    """``net`` saved by ``save_pretrained`` in a fresh directory (tests may rewrite its files)."""
    directory = tmp_path / "net"
    net.save_pretrained(directory)
    return directory
