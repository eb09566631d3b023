"""Fixtures of the hubmixin-flax tests: a 2x4 mesh of CPU devices, a small model and its saved directory."""

from __future__ import annotations

import os

# The package's pyproject sets this for nox ([tool.hubmixin] test-env); set it here too for a bare `pytest`.
# It only takes effect if no jax backend has started yet, hence before jax is imported.
_DEVICES = "--xla_force_host_platform_device_count=8"
if _DEVICES not in os.environ.get("XLA_FLAGS", ""):
    os.environ["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} {_DEVICES}".strip()

from pathlib import Path  # noqa: E402

import jax  # noqa: E402
import pytest  # noqa: E402
from flax_models import Net, make_net  # noqa: E402
from jax.sharding import Mesh  # noqa: E402


@pytest.fixture(scope="session")
def mesh() -> Mesh:
    """A ``(2, 4)`` mesh named ``("data", "model")`` over the eight forced CPU devices."""
    if jax.device_count() < 8:
        pytest.fail(f"the flax tests need 8 devices (XLA_FLAGS={_DEVICES}), jax has {jax.device_count()}")
    return jax.make_mesh((2, 4), ("data", "model"))


@pytest.fixture(scope="session")
def net() -> Net:
    """A small model whose every saved variable differs from its initial value (never mutated by tests)."""
    return make_net()


@pytest.fixture
def saved(net: Net, tmp_path: Path) -> Path:
    """``net`` saved by ``save_pretrained`` in a fresh directory (tests may rewrite its files)."""
    directory = tmp_path / "net"
    net.save_pretrained(directory)
    return directory
