"""Load a ~1 GB MLP saved by PyTorch into Flax NNX and into Keras 3 (JAX), against each framework's native load.

One model, written three times with the same module tree (``blocks.N``, ``N`` < ``--layers``, each a
``width x width`` linear layer) and the same ``__init__`` arguments: a ``torch.nn.Module`` with
``hubmixin_torch.PyTorchModelHubMixin``, an ``nnx.Module`` with ``hubmixin_flax.FlaxModelHubMixin`` and a
``keras.Model`` with ``hubmixin_keras.KerasModelHubMixin``. PyTorch's ``save_pretrained`` writes the checkpoint
(the canonical layout: ``blocks.N.weight`` ``[out, in]``); Flax and Keras load it with ``strict=True``, check
their outputs against PyTorch's on a fixed input, and write their own hubmixin checkpoint and native file from
the loaded weights (not timed).

Every measurement runs in a fresh subprocess (imports and the backend's start-up done before the clock starts;
Keras' with ``KERAS_BACKEND=jax``), which reports its wall time and its peak RSS
(``getrusage(RUSAGE_SELF).ru_maxrss``, so imports are included for every contender of a group alike). A load ends
when every weight is ready on its device (``jax.block_until_ready``). Runs are interleaved (the order of the
groups and of the contenders in each rotates each round); the figures are medians over ``--runs`` warm runs (the
page cache holds the files) after ``--warmup`` untimed rounds.

Two groups, each with ratios against its framework's native load (the issue's target: ``hubmixin_from_torch``
at most 1.5x ``native``'s wall time):

- ``flax``: ``hubmixin_from_torch`` is ``FlaxModelHubMixin.from_pretrained`` of the PyTorch-saved directory;
  ``hubmixin_own`` of the directory Flax's ``save_pretrained`` wrote (for context); ``native`` is what a Flax
  user does with Flax's own format, following Flax's checkpointing guide with ``flax.serialization`` in place of
  Orbax: the state saved as ``flax.serialization.to_bytes(nnx.to_pure_dict(nnx.state(model)))`` in
  ``model.msgpack``; loaded by building the model abstractly (``nnx.eval_shape``, no initialisation),
  ``flax.serialization.msgpack_restore`` of the file, ``jax.device_put`` of its arrays,
  ``nnx.replace_by_pure_dict`` into the abstract state and ``nnx.merge``; ``orbax`` (for context) is that guide
  as written: the state saved with ``orbax.checkpoint.StandardCheckpointer``, restored into the abstract state.
- ``keras_jax``: ``hubmixin_from_torch`` is ``KerasModelHubMixin.from_pretrained`` of the PyTorch-saved
  directory; ``hubmixin_own`` of the directory Keras' ``save_pretrained`` wrote; ``native`` is Keras' own
  weights: the model constructed and built by a call on a dummy input (random initialisation), then
  ``model.load_weights("model.weights.h5")`` of the file ``model.save_weights`` wrote.

    .venv/bin/python benchmarks/bench_interchange_load.py      # writes benchmarks/results/interchange_load.json

Not part of the test suite.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _stats import load_benchmark_parser, peak_rss_mib, rotated, run_benchmark, summary, with_ratios

RESULTS = Path(__file__).resolve().parent / "results" / "interchange_load.json"
CONTENDERS = ("hubmixin_from_torch", "hubmixin_own", "native")
GROUPS = {"flax": (*CONTENDERS, "orbax"), "keras_jax": CONTENDERS}
REFERENCE = "native"
KERAS_WEIGHTS = "model.weights.h5"
FLAX_STATE = "model.msgpack"
ORBAX_STATE = "orbax"
REFERENCE_OUTPUT = "reference_output.npy"
TARGETS = {"wall_ratio": 1.5}
"""The issue's target for ``hubmixin_from_torch`` against the target framework's native load (at most)."""


def _env(group: str) -> dict[str, str]:
    """The child's environment: Keras fixes its backend on import, from ``KERAS_BACKEND``."""
    env = dict(os.environ)
    if group == "keras_jax":
        env["KERAS_BACKEND"] = "jax"
    return env


def _probe(width: int) -> Any:
    """The fixed input every framework's model is checked on."""
    import numpy as np

    return np.random.default_rng(7).standard_normal((2, width)).astype(np.float32)


def _check(output: Any, scratch: Path, framework: str) -> None:
    """``output`` (on ``_probe``) matches PyTorch's: the weights were loaded where they belong."""
    import numpy as np

    expected = np.load(scratch / "torch" / REFERENCE_OUTPUT)
    error = float(np.max(np.abs(np.asarray(output) - expected)))
    scale = float(np.max(np.abs(expected)))
    if not error <= 1e-4 * max(scale, 1.0):
        raise SystemExit(f"{framework}: outputs differ from PyTorch's by {error} (scale {scale})")


# PyTorch: writes the checkpoint only (imported in its own child).


def _torch_init(scratch: Path, layers: int, width: int) -> None:
    import numpy as np
    import torch
    from torch import nn

    import hubmixin_torch

    class Stack(nn.Module, hubmixin_torch.PyTorchModelHubMixin):
        """``layers`` x ``Linear(width, width)``: 16 x 4096 x 4096 fp32 is 1.07 GB."""

        def __init__(self, layers: int = 16, width: int = 4096) -> None:
            super().__init__()
            self.blocks = nn.ModuleList(nn.Linear(width, width) for _ in range(layers))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            for block in self.blocks:
                x = block(x)
            return x

    torch.manual_seed(0)
    model = Stack(layers=layers, width=width)
    model.save_pretrained(scratch / "torch")
    with torch.no_grad():
        output = model(torch.from_numpy(_probe(width))).numpy()
    np.save(scratch / "torch" / REFERENCE_OUTPUT, output)


# Flax NNX


def _flax_child(op: str, contender: str, scratch: Path, layers: int, width: int) -> tuple[float, float]:
    """``(wall_s, base_rss_mib)`` of one Flax load (or, for ``init``, Flax's files and no time)."""
    import flax.serialization
    import jax
    import orbax.checkpoint as ocp  # type: ignore[import-untyped]
    from flax import nnx

    import hubmixin_flax

    class Stack(nnx.Module, hubmixin_flax.FlaxModelHubMixin):
        """``layers`` x ``nnx.Linear(width, width)`` in an ``nnx.List``."""

        def __init__(self, layers: int = 16, width: int = 4096, *, rngs: nnx.Rngs) -> None:
            self.blocks = nnx.List([nnx.Linear(width, width, rngs=rngs) for _ in range(layers)])

        def __call__(self, x: jax.Array) -> jax.Array:
            for block in self.blocks:
                x = block(x)
            return x

    def native(path: Path) -> Stack:
        """Flax's way: an abstract model, the msgpack file's arrays on the device, merged into it."""
        abstract = nnx.eval_shape(lambda: Stack(layers=layers, width=width, rngs=nnx.Rngs(0)))
        graphdef, state = nnx.split(abstract)
        restored = jax.device_put(flax.serialization.msgpack_restore(path.read_bytes()))
        nnx.replace_by_pure_dict(state, restored)
        return nnx.merge(graphdef, state)

    def orbax(path: Path) -> Stack:
        """Flax's checkpointing guide as written: an abstract model, Orbax restoring its state, merged."""
        abstract = nnx.eval_shape(lambda: Stack(layers=layers, width=width, rngs=nnx.Rngs(0)))
        graphdef, state = nnx.split(abstract)
        with ocp.StandardCheckpointer() as checkpointer:
            restored = checkpointer.restore(path, state)
        return nnx.merge(graphdef, restored)

    jax.devices()  # the backend starts before the clock, as imports do
    base = peak_rss_mib()
    if op == "init":  # the Flax files, from the PyTorch checkpoint; not a measurement
        model = Stack.from_pretrained(scratch / "torch", strict=True)
        _check(model(jax.numpy.asarray(_probe(width))), scratch, "flax")
        model.save_pretrained(scratch / "flax")
        state = flax.serialization.to_bytes(nnx.to_pure_dict(nnx.state(model)))
        (scratch / "flax" / FLAX_STATE).write_bytes(state)
        _check(native(scratch / "flax" / FLAX_STATE)(jax.numpy.asarray(_probe(width))), scratch, "flax native")
        with ocp.StandardCheckpointer() as checkpointer:
            checkpointer.save((scratch / "flax" / ORBAX_STATE).absolute(), nnx.state(model))
        _check(orbax(scratch / "flax" / ORBAX_STATE)(jax.numpy.asarray(_probe(width))), scratch, "flax orbax")
        return 0.0, base
    start = time.perf_counter()
    if contender == "hubmixin_from_torch":
        model = Stack.from_pretrained(scratch / "torch", strict=True)
    elif contender == "hubmixin_own":
        model = Stack.from_pretrained(scratch / "flax", strict=True)
    elif contender == "native":
        model = native(scratch / "flax" / FLAX_STATE)
    else:
        model = orbax((scratch / "flax" / ORBAX_STATE).absolute())
    jax.block_until_ready(nnx.state(model))  # type: ignore[no-untyped-call]
    return time.perf_counter() - start, base


# Keras 3 on JAX (imported in children with KERAS_BACKEND=jax)


def _keras_child(op: str, contender: str, scratch: Path, layers: int, width: int) -> tuple[float, float]:
    """``(wall_s, base_rss_mib)`` of one Keras load (or, for ``init``, Keras' files and no time)."""
    import jax
    import keras
    import numpy as np

    from hubmixin_keras import KerasModelHubMixin

    class Stack(keras.Model, KerasModelHubMixin):  # type: ignore[misc]
        """``layers`` x ``Dense(width)`` on ``width`` inputs."""

        def __init__(self, layers: int = 16, width: int = 4096, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.blocks = [keras.layers.Dense(width) for _ in range(layers)]

        def call(self, x: Any) -> Any:
            for block in self.blocks:
                x = block(x)
            return x

    def built() -> Any:
        """Keras' way: construct, then build by a call (every variable randomly initialised)."""
        model = Stack(layers=layers, width=width)
        model(np.zeros((1, width), "float32"))
        return model

    if keras.backend.backend() != "jax":
        raise SystemExit(f"keras_jax: KERAS_BACKEND is {keras.backend.backend()!r}, not 'jax'")
    keras.ops.convert_to_numpy(keras.ops.ones((1,)))  # the backend starts before the clock, as imports do
    base = peak_rss_mib()
    own = scratch / "keras_jax"
    if op == "init":  # the Keras files, from the PyTorch checkpoint; not a measurement
        model = Stack.from_pretrained(scratch / "torch", strict=True)
        _check(keras.ops.convert_to_numpy(model(_probe(width))), scratch, "keras_jax")
        model.save_pretrained(own)
        model.save_weights(own / KERAS_WEIGHTS)
        reloaded = built()
        reloaded.load_weights(own / KERAS_WEIGHTS)
        _check(keras.ops.convert_to_numpy(reloaded(_probe(width))), scratch, "keras_jax native")
        return 0.0, base
    start = time.perf_counter()
    if contender == "hubmixin_from_torch":
        model = Stack.from_pretrained(scratch / "torch", strict=True)
    elif contender == "hubmixin_own":
        model = Stack.from_pretrained(own, strict=True)
    else:
        model = built()
        model.load_weights(own / KERAS_WEIGHTS)
    jax.block_until_ready([variable.value for variable in model.variables])  # type: ignore[no-untyped-call]
    return time.perf_counter() - start, base


def child(args: argparse.Namespace) -> None:
    """One measurement, in this (fresh) process; writes ``{"wall_s", "peak_rss_mib", "base_rss_mib"}``.

    The frameworks are imported here, so that each child holds only its own group's (and Keras reads
    ``KERAS_BACKEND``, set by the parent); the base RSS is taken once the imports and the backend's start-up are
    done, before any model exists.
    """
    scratch = Path(args.path)
    wall, base = 0.0, peak_rss_mib()
    if args.group == "torch":  # writes the checkpoint; only ever an init
        _torch_init(scratch, args.layers, args.width)
    elif args.group == "flax":
        wall, base = _flax_child(args.op, args.contender, scratch, args.layers, args.width)
    else:
        wall, base = _keras_child(args.op, args.contender, scratch, args.layers, args.width)
    result = {"wall_s": wall, "peak_rss_mib": peak_rss_mib(), "base_rss_mib": base}
    Path(args.out).write_text(json.dumps(result))


def _measure(op: str, group: str, contender: str, scratch: Path, args: argparse.Namespace) -> dict[str, float]:
    out = scratch / "result.json"
    command = [sys.executable, str(Path(__file__).resolve()), "--child", op, contender, str(scratch), str(out)]
    command += ["--group", group, "--layers", str(args.layers), "--width", str(args.width)]
    done = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=_env(group))
    if done.returncode:
        raise SystemExit(f"{group} {op} {contender} failed:\n{done.stderr}")
    result: dict[str, float] = json.loads(out.read_text())
    return result


def _versions() -> dict[str, str]:
    """The versions of the packages measured, read without importing them (Keras would fix a backend here)."""
    from importlib.metadata import PackageNotFoundError, version

    names = ["torch", "jax", "flax", "orbax-checkpoint", "keras", "numpy", "h5py", "msgpack", "safetensors"]
    names += ["hubmixin-core", "hubmixin-torch", "hubmixin-flax", "hubmixin-keras"]
    found = {}
    for name in names:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = "?"
    return found


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Write the PyTorch checkpoint and each framework's files, then measure every load; the report."""
    with tempfile.TemporaryDirectory(prefix="bench-interchange-", dir=args.workdir) as tmp:
        scratch = Path(tmp)
        for group in ("torch", *GROUPS):  # PyTorch first: Flax and Keras write theirs from its checkpoint
            _measure("init", group, "", scratch, args)
        sizes = {
            "torch": (scratch / "torch" / "model.safetensors").stat().st_size,
            "flax": (scratch / "flax" / "model.safetensors").stat().st_size,
            "flax_msgpack": (scratch / "flax" / FLAX_STATE).stat().st_size,
            "keras_jax": (scratch / "keras_jax" / "model.safetensors").stat().st_size,
            "flax_orbax": sum(f.stat().st_size for f in (scratch / "flax" / ORBAX_STATE).rglob("*") if f.is_file()),
            "keras_jax_h5": (scratch / "keras_jax" / KERAS_WEIGHTS).stat().st_size,
        }
        samples: dict[str, dict[str, list[dict[str, float]]]] = {group: {} for group in GROUPS}
        for round_ in range(1 - args.warmup, args.runs + 1):  # rounds up to 0 warm the page cache, are dropped
            for group in rotated(tuple(GROUPS), round_):
                for contender in rotated(GROUPS[group], round_):
                    result = _measure("load", group, contender, scratch, args)
                    if round_ > 0:
                        samples[group].setdefault(contender, []).append(result)
    weights_mib = sizes["torch"] / 2**20
    report: dict[str, Any] = {
        "model": f"{args.layers} x {args.width} x {args.width} linear layers (blocks.N), float32",
        "file_bytes": sizes,
        "runs": args.runs,
        "warmup": args.warmup,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), **_versions()},
    }
    for group, contenders in GROUPS.items():
        report[group] = with_ratios({c: summary(samples[group][c], weights_mib) for c in contenders}, REFERENCE)
    report["targets"] = {
        name: {
            "at_most": limit,
            "measured": {g: report[g]["hubmixin_from_torch"][name] for g in GROUPS},
            "holds": {g: report[g]["hubmixin_from_torch"][name] <= limit for g in GROUPS},
        }
        for name, limit in TARGETS.items()
    }
    return report


def table(report: dict[str, Any]) -> str:
    """The report as a Markdown table."""
    lines = [
        "| target | contender | wall (s) | wall vs native | peak RSS (MiB) | RSS vs native "
        "| RSS - base - weights (MiB) |",
        "|---|---|---|---|---|---|---|",
    ]
    for group in GROUPS:
        for contender, e in report[group].items():
            lines.append(
                f"| {group} | {contender} | {e['wall_s']:.3f} | {e['wall_ratio']:.3f}x | {e['peak_rss_mib']:.0f} "
                f"| {e['peak_rss_ratio']:.2f}x | {e['rss_over_weights_mib']:.0f} |"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark (or, with ``--child``, one measurement) and write the JSON report."""
    parser = load_benchmark_parser(__doc__.splitlines()[0], RESULTS)
    parser.add_argument("--group", help=argparse.SUPPRESS)
    report = run_benchmark(parser.parse_args(argv), child, run, table)
    if report is None:
        return 0
    for name, target in report["targets"].items():
        for group, measured in target["measured"].items():
            verdict = "holds" if target["holds"][group] else "does NOT hold"
            limit = target["at_most"]
            print(f"{group}: PyTorch checkpoint load {name} {measured:.3f}x native (target <= {limit}x) {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
