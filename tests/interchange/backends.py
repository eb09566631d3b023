"""Running a command once per Keras backend (fixed per process), side by side."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence
from pathlib import Path

BACKENDS = ("jax", "torch", "tensorflow")
ONE_THREAD = {
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "TF_NUM_INTRAOP_THREADS": "1",
    "TF_NUM_INTEROP_THREADS": "1",
    "XLA_FLAGS": "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1",
    "TF_CPP_MIN_LOG_LEVEL": "2",
}
"""Each process on one thread: several processes of several thread pools each would fight over a small
machine's cores."""


def run_per_backend(
    command: Sequence[str], backends: Sequence[str], *, cwd: Path, env: dict[str, str] | None = None, timeout: int = 900
) -> dict[str, str]:
    """Run ``command`` under each Keras backend of ``backends`` at once; the failures' output tails by backend."""
    runs = {
        backend: subprocess.Popen(
            list(command),
            cwd=cwd,
            env={**os.environ, **ONE_THREAD, **(env or {}), "KERAS_BACKEND": backend},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for backend in backends
    }
    failed = {}
    for backend, run in runs.items():
        output, _ = run.communicate(timeout=timeout)
        if run.returncode != 0:
            failed[backend] = output[-6000:]
    return failed
