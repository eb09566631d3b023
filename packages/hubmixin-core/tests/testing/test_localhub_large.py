"""A 200 MB upload and download round-trip, with the server's peak memory measured in its own process."""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import huggingface_hub as hf
import pytest

from hubmixin_core.testing import configure_client
from hubmixin_core.testing.pytest_plugin import LFS_UPLOAD_WARNING_FILTER

SIZE = 200 * 1024 * 1024
BLOCK = 8 * 1024 * 1024


def _memory_kib(pid: int, field: str) -> int:
    """``VmRSS`` (current) or ``VmHWM`` (peak) resident memory of a process, in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"{field} not found")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while block := file.read(BLOCK):
            digest.update(block)
    return digest.hexdigest()


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="measures memory through /proc")
@pytest.mark.filterwarnings(LFS_UPLOAD_WARNING_FILTER)
def test_200mb_round_trip_is_byte_identical_and_streamed(tmp_path: Path) -> None:
    source = tmp_path / "big.bin"
    digest = hashlib.sha256()
    with source.open("wb") as file:
        for _ in range(SIZE // BLOCK):
            block = os.urandom(BLOCK)
            digest.update(block)
            file.write(block)
    root = tmp_path / "hub"
    command = [sys.executable, "-m", "hubmixin_core.testing._cli", "hub", "serve", "--root", str(root)]
    try:
        with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as server:
            assert server.stdout is not None
            banner = [server.stdout.readline() for _ in range(4)]
            exports = dict(part.split("=", 1) for part in banner[3].split()[1:])  # "  export HF_ENDPOINT=..."
            endpoint, token = exports["HF_ENDPOINT"], exports["HF_TOKEN"]
            with configure_client(endpoint, token=token, cache_dir=tmp_path / "client"):
                repo_id = hf.create_repo("big").repo_id
                baseline = _memory_kib(server.pid, "VmRSS")
                hf.upload_file(path_or_fileobj=str(source), path_in_repo="big.bin", repo_id=repo_id)
                downloaded = Path(hf.hf_hub_download(repo_id, "big.bin"))
                peak = _memory_kib(server.pid, "VmHWM")
                assert downloaded.stat().st_size == SIZE
                assert _sha256(downloaded) == digest.hexdigest()
                assert hf.get_hf_file_metadata(hf.hf_hub_url(repo_id, "big.bin")).etag == digest.hexdigest()
            server.send_signal(signal.SIGTERM)
            assert server.wait(timeout=10) == 0
        growth_mib = (peak - baseline) / 1024
        print(
            f"\nLocalHub server: baseline RSS {baseline / 1024:.1f} MiB, peak {peak / 1024:.1f} MiB "
            f"(+{growth_mib:.1f} MiB) for a {SIZE >> 20} MiB round-trip"
        )
        assert growth_mib < 32, f"the server grew by {growth_mib:.1f} MiB: it must stream, not buffer files"
    finally:
        for path in (source, root, tmp_path / "client"):  # do not leave 600 MB in pytest's kept tmp dirs
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
