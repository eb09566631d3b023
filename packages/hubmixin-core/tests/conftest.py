"""Settings the core tests need wherever they run (the package's sdist runs them outside the monorepo)."""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    """Register the ``slow`` marker (the monorepo's pyproject registers it too)."""
    config.addinivalue_line("markers", "slow: long-running (large files); deselect with -m 'not slow'")
