"""Upload and download of a large model file through LocalHub, over Xet and over plain LFS, with the real client.

The server runs in a process of its own (``LocalHub`` on loopback); each transfer mode runs the official
``huggingface_hub`` client in a fresh process, because the client reads ``HF_HUB_DISABLE_XET`` once at import:

- ``lfs``: ``HF_HUB_DISABLE_XET=1``, the file goes through the LFS batch API and one PUT, and comes back from
  ``/resolve/``;
- ``xet``: the client's default with ``hf_xet`` installed: chunks, xorbs and a shard to the Xet storage service,
  and a download through the reconstruction API.

Each mode pushes a model file (random bytes: weights do not compress), downloads it into an empty cache
(checked byte-identical), then pushes it again with 1 MiB changed in the middle (a fine-tuned layer), and
reports MiB/s and the bytes the server stored for each push. Earlier writes are flushed (``os.sync``) before each
timed transfer, so that none pays for the disk writes of the one before. ``server_download_mib_s`` is the same
file read over plain HTTP into a reused buffer (no file written, Xet files rebuilt by the server from its xorbs):
what the server alone sustains, apart from the client's hashing and disk writes.

Usage::

    .venv/bin/python benchmarks/bench_hub_transfer.py [--size-mib 1024] [--runs 1] [--modes lfs xet]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import multiprocessing
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "results" / "hub_transfer.json"
CHANGED_BYTES = 1 << 20
TARGET_LFS_MIB_S = 400.0
TARGET_XET_RATIO = 0.5

_CLIENT = r"""
import hashlib, http.client, json, os, sys, time
import huggingface_hub as hf

path, repo_id, changed = sys.argv[1], sys.argv[2], sys.argv[3]
api = hf.HfApi()
api.create_repo(repo_id, exist_ok=True)
figures = {}
os.sync()  # each timed transfer starts with no earlier writes (the model file, the last transfer) being flushed
start = time.perf_counter()
api.upload_file(path_or_fileobj=path, path_in_repo="model.safetensors", repo_id=repo_id)
figures["upload_s"] = time.perf_counter() - start
os.sync()
start = time.perf_counter()
local = hf.hf_hub_download(repo_id, "model.safetensors", cache_dir=os.environ["BENCH_CACHE"])
figures["download_s"] = time.perf_counter() - start
digest = hashlib.sha256()
with open(local, "rb") as file:
    while chunk := file.read(1 << 24):
        digest.update(chunk)
figures["download_sha256"] = digest.hexdigest()
# The server alone: the same bytes over plain HTTP into a reused buffer, no file written, no Xet client.
url = hf.hf_hub_url(repo_id, "model.safetensors")
host = url.split("/")[2]
connection = http.client.HTTPConnection(host)
start = time.perf_counter()
connection.request("GET", url.split(host, 1)[1], headers={"Authorization": "Bearer " + os.environ["HF_TOKEN"]})
response, buffer, received = connection.getresponse(), bytearray(1 << 23), 0
while count := response.readinto(buffer):
    received += count
figures["server_download_s"] = time.perf_counter() - start
assert response.status == 200 and received == os.path.getsize(local), (response.status, received)
print(json.dumps(figures), flush=True)
sys.stdin.readline()  # the parent measures the first push's storage, then lets the second push go
os.sync()
start = time.perf_counter()
api.upload_file(path_or_fileobj=changed, path_in_repo="model.safetensors", repo_id=repo_id)
print(json.dumps({"second_upload_s": time.perf_counter() - start}), flush=True)
"""


def _serve(root: str, conn: Connection) -> None:
    from hubmixin_core.testing import LocalHub

    with LocalHub(root) as hub:
        conn.send((hub.endpoint, hub.token, hub.username))
        conn.recv()  # until the parent says stop


def _disk_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) if folder.is_dir() else 0


def _write_model(path: Path, size: int) -> str:
    digest = hashlib.sha256()
    with path.open("wb") as file:
        left = size
        while left:
            chunk = os.urandom(min(left, 1 << 24))
            file.write(chunk)
            digest.update(chunk)
            left -= len(chunk)
    return digest.hexdigest()


def _changed_copy(source: Path, target: Path) -> None:
    shutil.copyfile(source, target)
    with target.open("r+b") as file:
        file.seek(source.stat().st_size // 2)
        file.write(os.urandom(CHANGED_BYTES))


def _run_mode(mode: str, model: Path, changed: Path, expected: str, workdir: Path, run: int) -> dict[str, float]:
    root = workdir / f"hub-{mode}-{run}"
    parent, child = multiprocessing.get_context("spawn").Pipe()
    server = multiprocessing.get_context("spawn").Process(target=_serve, args=(str(root), child))
    server.start()
    try:
        endpoint, token, username = parent.recv()
        home = Path(tempfile.mkdtemp(dir=workdir, prefix=f"client-{mode}-"))
        env = {k: v for k, v in os.environ.items() if not k.startswith("HF_")}
        env |= {"HF_ENDPOINT": endpoint, "HF_TOKEN": token, "HF_HOME": str(home), "BENCH_CACHE": str(home / "c")}
        env |= {"HF_HUB_DISABLE_TELEMETRY": "1", "HF_HUB_DISABLE_PROGRESS_BARS": "1"}
        if mode == "lfs":
            env["HF_HUB_DISABLE_XET"] = "1"
        client = subprocess.Popen(
            [sys.executable, "-c", _CLIENT, str(model), f"{username}/model", str(changed)],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert client.stdin is not None and client.stdout is not None
        first = json.loads(client.stdout.readline())
        stored_first = _disk_bytes(root)
        client.stdin.write("\n")
        client.stdin.flush()
        second = json.loads(client.stdout.readline())
        if client.wait() != 0:
            raise RuntimeError(f"the {mode} client failed")
        stored_second = _disk_bytes(root)
        shutil.rmtree(home, ignore_errors=True)
    finally:
        parent.send("stop")
        server.join()
    if first["download_sha256"] != expected:
        raise RuntimeError(f"{mode}: the downloaded file differs from the uploaded one")
    mib = model.stat().st_size / 2**20
    shutil.rmtree(root, ignore_errors=True)
    return {
        "upload_s": first["upload_s"],
        "download_s": first["download_s"],
        "upload_mib_s": mib / first["upload_s"],
        "download_mib_s": mib / first["download_s"],
        "server_download_mib_s": mib / first["server_download_s"],
        "second_upload_s": second["second_upload_s"],
        "stored_after_first_push_mib": stored_first / 2**20,
        "stored_by_second_push_mib": (stored_second - stored_first) / 2**20,
    }


def _best(runs: list[dict[str, float]]) -> dict[str, float]:
    """Per figure, the best run (highest rate, least time); storage figures are the same in every run."""
    best = dict(runs[0])
    for figures in runs[1:]:
        for key, value in figures.items():
            best[key] = max(best[key], value) if key.endswith("mib_s") else min(best[key], value)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--modes", nargs="+", choices=["lfs", "xet"], default=["lfs", "xet"])
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="bench-hub-")) if args.workdir is None else args.workdir
    workdir.mkdir(parents=True, exist_ok=True)
    model, changed = workdir / "model.safetensors", workdir / "changed.safetensors"
    expected = _write_model(model, args.size_mib << 20)
    _changed_copy(model, changed)
    report: dict[str, Any] = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "size_mib": args.size_mib,
        "changed_mib": CHANGED_BYTES / 2**20,
        "runs": args.runs,
        "modes": {},
    }
    for mode in args.modes:
        runs = [_run_mode(mode, model, changed, expected, workdir, run) for run in range(args.runs)]
        report["modes"][mode] = _best(runs)
        print(mode, json.dumps(report["modes"][mode], indent=1), flush=True)
    if {"lfs", "xet"} <= set(report["modes"]):
        lfs, xet = report["modes"]["lfs"], report["modes"]["xet"]
        report["targets"] = {
            "lfs_mib_s": {"target": TARGET_LFS_MIB_S, "upload": lfs["upload_mib_s"], "download": lfs["download_mib_s"]},
            "xet_vs_lfs": {
                "target": TARGET_XET_RATIO,
                "upload": xet["upload_mib_s"] / lfs["upload_mib_s"],
                "download": xet["download_mib_s"] / lfs["download_mib_s"],
            },
        }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    if args.workdir is None:
        shutil.rmtree(workdir, ignore_errors=True)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
