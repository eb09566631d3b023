"""Fixtures of the hubmixin-torch tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from torch_models import Net, trained_net


@pytest.fixture
def net() -> Net:
    """A small trained-looking model."""
    return trained_net(Net)


@pytest.fixture
def saved(net: Net, tmp_path: Path) -> Path:
    """``net`` saved by ``save_pretrained``."""
    directory = tmp_path / "net"
    net.save_pretrained(directory)
    return directory
