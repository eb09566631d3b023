"""``hubmixin hub serve`` refuses bad arguments with one line naming the problem, never a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

_SERVE = [sys.executable, "-m", "hubmixin_core.testing._cli", "hub", "serve"]


@pytest.mark.parametrize("port", ["65536", "-1", "http"])
def test_a_bad_port_is_a_usage_error(port: str) -> None:
    result = subprocess.run([*_SERVE, "--port", port], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert f"argument --port: {port!r} is not a TCP port (0-65535)" in result.stderr.splitlines()[-1]


def test_an_unusable_data_folder_is_named(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    result = subprocess.run([*_SERVE, "--root", str(blocker / "hub")], capture_output=True, text=True, timeout=60)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [
        f"hubmixin hub serve: error: cannot use data folder {blocker / 'hub'}: Not a directory"
    ]


def test_a_bad_organization_is_a_usage_error() -> None:
    result = subprocess.run([*_SERVE, "--org", "a--b"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [
        "hubmixin hub serve: error: Invalid organization name 'a--b': use letters, digits and single '-' "
        "(not ['api', 'buckets', 'datasets', 'kernels', 'models', 'spaces'])"
    ]
    taken = subprocess.run([*_SERVE, "--org", "localuser"], capture_output=True, text=True, timeout=60)
    assert taken.returncode == 2 and "'localuser' is a user" in taken.stderr
