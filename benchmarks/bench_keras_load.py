"""Save and load a ~1 GB Keras 3 model on the JAX, PyTorch and TensorFlow backends: hubmixin vs Keras' own weights.

Every measurement runs in a fresh subprocess with ``KERAS_BACKEND`` set to its backend (imports and the backend's
start-up done before the clock starts), which reports its wall time and its peak RSS
(``getrusage(RUSAGE_SELF).ru_maxrss``, so imports are included for every contender alike). A load ends when every
variable of the model holds its value: after ``jax.block_until_ready`` on JAX (which dispatches asynchronously),
when the load returns on PyTorch and TensorFlow (their CPU operations are synchronous, and no contender maps the
file lazily); converting every variable to numpy would add the same 1 GB copy to both contenders. Runs are
interleaved (the order rotates each round); the figures are medians over ``--runs`` warm runs (the page cache
holds the checkpoints) after one untimed warm-up round (``--warmup``). A save's clock covers writing into the page
cache, not ``fsync``; earlier saves are flushed (``os.sync``) before it starts.

Per backend, with ratios against Keras' own weights format:

- ``hubmixin``: ``KerasModelHubMixin.from_pretrained`` of the safetensors checkpoint ``save_pretrained`` wrote
  (layers built from the checkpoint's shapes, variables deferred, no random initialisation);
- ``keras``: what Keras does: the model constructed, built by a call on a dummy input (random initialisation),
  then ``model.load_weights("model.weights.h5")`` of the file ``model.save_weights`` wrote.

Saves compare ``save_pretrained`` (kernels transposed to the canonical ``[out, in]``) with ``save_weights``.

    .venv/bin/python benchmarks/bench_keras_load.py            # writes benchmarks/results/keras_load.json

Not part of the test suite.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _stats import load_benchmark_parser, peak_rss_mib, rotated, run_benchmark, summary, with_ratios

RESULTS = Path(__file__).resolve().parent / "results" / "keras_load.json"
BACKENDS = ("jax", "torch", "tensorflow")
CONTENDERS = ("hubmixin", "keras")
REFERENCE = "keras"
OPS = ("load", "save")
KERAS_WEIGHTS = "model.weights.h5"
TARGETS = {"wall_ratio": 1.0}
"""The issue's target for ``hubmixin``'s load against Keras' own ``load_weights``, on every backend."""


def _quiet_env(backend: str) -> dict[str, str]:
    env = dict(os.environ, KERAS_BACKEND=backend)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's start-up banner
    return env


def child(args: argparse.Namespace) -> None:
    """One measurement, in this (fresh) process; writes ``{"wall_s", "peak_rss_mib", "base_rss_mib"}``.

    Keras is imported here, after ``KERAS_BACKEND`` is set by the parent: it fixes its backend on import.
    """
    import keras
    import numpy as np

    from hubmixin_keras import KerasModelHubMixin

    class Stack(keras.Model, KerasModelHubMixin):  # type: ignore[misc]
        """``layers`` x ``Dense(width)`` on ``width`` inputs: 16 x 4096 x 4096 fp32 is 1.07 GB."""

        def __init__(self, layers: int = 16, width: int = 4096, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.blocks = [keras.layers.Dense(width) for _ in range(layers)]

        def call(self, x: Any) -> Any:
            for block in self.blocks:
                x = block(x)
            return x

    def built(layers: int, width: int) -> Any:
        """Keras' way: construct, then build by a call (every variable randomly initialised)."""
        model = Stack(layers=layers, width=width)
        model(np.zeros((1, width), "float32"))
        return model

    def ready(model: Any) -> None:
        """Wait until every variable's value is usable (JAX dispatches asynchronously; the others are eager)."""
        values = [variable.value for variable in model.variables]
        if keras.backend.backend() == "jax":
            import jax

            jax.block_until_ready(values)  # type: ignore[no-untyped-call]

    keras.ops.convert_to_numpy(keras.ops.ones((1,)))  # the backend starts before the clock, as imports do
    base = peak_rss_mib()
    path = Path(args.path)
    wall = 0.0
    if args.op == "init":  # the checkpoints every load reads, from one model; not a measurement
        model = built(args.layers, args.width)
        model.save_pretrained(path)
        model.save_weights(path / KERAS_WEIGHTS)
    elif args.op == "load":
        start = time.perf_counter()
        if args.contender == "hubmixin":
            model = Stack.from_pretrained(path)
        else:
            model = built(args.layers, args.width)
            model.load_weights(path / KERAS_WEIGHTS)
        ready(model)
        wall = time.perf_counter() - start
    else:
        model = Stack.from_pretrained(Path(args.checkpoint))  # any weights will do; not timed
        ready(model)
        start = time.perf_counter()
        if args.contender == "hubmixin":
            model.save_pretrained(path)
        else:
            path.mkdir()
            model.save_weights(path / KERAS_WEIGHTS)
        wall = time.perf_counter() - start
    result = {"wall_s": wall, "peak_rss_mib": peak_rss_mib(), "base_rss_mib": base}
    Path(args.out).write_text(json.dumps(result))


def _measure(op: str, contender: str, path: Path, backend: str, args: argparse.Namespace, scratch: Path) -> Any:
    out = scratch / "result.json"
    command = [sys.executable, str(Path(__file__).resolve()), "--child", op, contender, str(path), str(out)]
    command += ["--layers", str(args.layers), "--width", str(args.width), "--checkpoint", str(scratch / backend)]
    done = subprocess.run(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=_quiet_env(backend)
    )
    if done.returncode:
        raise SystemExit(f"{backend} {op} {contender} failed:\n{done.stderr}")
    return json.loads(out.read_text())


def _versions(backends: list[str]) -> dict[str, str]:
    """The versions of the packages measured, read without importing Keras (it would fix a backend here)."""
    from importlib.metadata import PackageNotFoundError, version

    names = ["keras", "numpy", "h5py", "safetensors", "hubmixin-keras", "hubmixin-core"]
    names += [{"tensorflow": "tensorflow-cpu"}.get(b, b) for b in backends]
    found = {}
    for name in names:
        try:
            found[name] = version(name)
        except PackageNotFoundError:  # tensorflow instead of tensorflow-cpu, say
            found[name] = version(name.removesuffix("-cpu")) if name.endswith("-cpu") else "?"
    return found


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Write each backend's checkpoints, then measure every contender's load and save per backend; the report."""
    backends: list[str] = args.backends
    unknown = sorted(set(backends) - set(BACKENDS))
    if unknown:
        raise SystemExit(f"--backends: unknown {unknown}; choose among {', '.join(BACKENDS)}")
    with tempfile.TemporaryDirectory(prefix="bench-keras-", dir=args.workdir) as tmp:
        scratch = Path(tmp)
        for backend in backends:  # each backend reads the files written on it
            _measure("init", "hubmixin", scratch / backend, backend, args, scratch)
        size = (scratch / backends[0] / "model.safetensors").stat().st_size
        h5_size = (scratch / backends[0] / KERAS_WEIGHTS).stat().st_size
        samples: dict[str, dict[str, dict[str, list[dict[str, float]]]]] = {b: {op: {} for op in OPS} for b in backends}
        for round_ in range(1 - args.warmup, args.runs + 1):  # rounds up to 0 warm the page cache, are dropped
            for backend in rotated(tuple(backends), round_):
                checkpoint = scratch / backend
                for contender in rotated(CONTENDERS, round_):
                    result = _measure("load", contender, checkpoint, backend, args, scratch)
                    if round_ > 0:
                        samples[backend]["load"].setdefault(contender, []).append(result)
                for contender in rotated(CONTENDERS, round_):
                    target = scratch / f"save-{contender}"
                    os.sync()  # no writeback of an earlier save inside this one's clock
                    result = _measure("save", contender, target, backend, args, scratch)
                    shutil.rmtree(target)
                    if round_ > 0:
                        samples[backend]["save"].setdefault(contender, []).append(result)
    weights_mib = size / 2**20
    report: dict[str, Any] = {
        "model": f"keras.Model with {args.layers} x Dense({args.width}) on {args.width} inputs, float32",
        "checkpoint_bytes": size,
        "keras_weights_bytes": h5_size,
        "runs": args.runs,
        "warmup": args.warmup,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), **_versions(backends)},
        "backends": {},
    }
    for backend in backends:
        entry = {
            op: with_ratios({c: summary(samples[backend][op][c], weights_mib) for c in CONTENDERS}, REFERENCE)
            for op in OPS
        }
        report["backends"][backend] = entry
    report["targets"] = {
        name: {
            "at_most": limit,
            "measured": {b: report["backends"][b]["load"]["hubmixin"][name] for b in backends},
            "holds": {b: report["backends"][b]["load"]["hubmixin"][name] <= limit for b in backends},
        }
        for name, limit in TARGETS.items()
    }
    return report


def table(report: dict[str, Any]) -> str:
    """The report as a Markdown table."""
    lines = [
        "| backend | operation | contender | wall (s) | wall vs Keras | peak RSS (MiB) | RSS vs Keras "
        "| RSS - base - weights (MiB) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for backend, ops in report["backends"].items():
        for op in OPS:
            for contender, e in ops[op].items():
                lines.append(
                    f"| {backend} | {op} | {contender} | {e['wall_s']:.3f} | {e['wall_ratio']:.3f}x "
                    f"| {e['peak_rss_mib']:.0f} | {e['peak_rss_ratio']:.2f}x | {e['rss_over_weights_mib']:.0f} |"
                )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark (or, with ``--child``, one measurement) and write the JSON report."""
    parser = load_benchmark_parser(__doc__.splitlines()[0], RESULTS)
    parser.add_argument("--checkpoint", help=argparse.SUPPRESS)
    parser.add_argument("--backends", nargs="+", default=list(BACKENDS), help="Keras backends to measure")
    report = run_benchmark(parser.parse_args(argv), child, run, table)
    if report is None:
        return 0
    for name, target in report["targets"].items():
        for backend, measured in target["measured"].items():
            verdict = "holds" if target["holds"][backend] else "does NOT hold"
            limit = target["at_most"]
            print(f"{backend}: hubmixin load {name} {measured:.3f}x Keras' own (target <= {limit}x) {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
