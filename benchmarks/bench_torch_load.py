"""Save and load a ~1 GB PyTorch model: hubmixin vs huggingface_hub's PyTorchModelHubMixin vs raw safetensors.

Every measurement runs in a fresh subprocess (imports done before the clock starts), which reports its wall time
and its peak RSS (``getrusage(RUSAGE_SELF).ru_maxrss``, so imports are included for every contender alike).
A load ends after a first touch of every page of every weight, so lazily memory-mapped tensors pay their page
faults inside the timed region. Runs are interleaved (the order rotates each round); the figures are medians
over ``--runs`` warm runs (the page cache holds the checkpoint) after one untimed warm-up round (``--warmup``).
A save's clock covers writing into the page cache, not ``fsync``; earlier saves are flushed (``os.sync``) before
it starts.

    .venv/bin/python benchmarks/bench_torch_load.py            # writes benchmarks/results/torch_load.json

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

import huggingface_hub
import safetensors
import safetensors.torch
import torch
from _stats import load_benchmark_parser, peak_rss_mib, rotated, run_benchmark, summary, with_ratios
from torch import nn

import hubmixin_torch

RESULTS = Path(__file__).resolve().parent / "results" / "torch_load.json"
LOADERS = ("hubmixin", "hubmixin_reference_file", "huggingface_hub", "safetensors")
"""Each library loads the file it saved (``hubmixin``: hubmixin's own); ``hubmixin_reference_file`` is hubmixin
loading the file huggingface_hub wrote, which raw ``safetensors`` reads too."""
SAVERS = ("hubmixin", "huggingface_hub", "safetensors")


class Stack(nn.Module):
    """``layers`` x ``Linear(width, width)``: 16 x 4096 x 4096 fp32 is 1.07 GB."""

    def __init__(self, layers: int = 16, width: int = 4096) -> None:
        super().__init__()
        self.layers = nn.ModuleList(nn.Linear(width, width) for _ in range(layers))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            x = layer(x)
        return x


class OurStack(Stack, hubmixin_torch.PyTorchModelHubMixin):
    """``Stack`` with hubmixin's mixin."""


class RefStack(Stack, huggingface_hub.PyTorchModelHubMixin):
    """``Stack`` with huggingface_hub's mixin."""


def _touch(tensors: list[torch.Tensor]) -> float:
    """Read one element of every memory page of every tensor (a first touch); returns a checksum."""
    total = 0.0
    for tensor in tensors:
        flat = tensor.detach().reshape(-1)
        step = max(1, 4096 // flat.element_size())
        total += float(flat[::step].sum())
    return total


def _child_load(contender: str, checkpoint: Path) -> float:
    start = time.perf_counter()
    if contender == "hubmixin":
        tensors = list(OurStack.from_pretrained(checkpoint.with_name("own-checkpoint")).state_dict().values())
    elif contender == "hubmixin_reference_file":
        tensors = list(OurStack.from_pretrained(checkpoint).state_dict().values())
    elif contender == "huggingface_hub":
        tensors = list(RefStack.from_pretrained(checkpoint).state_dict().values())
    else:
        tensors = list(safetensors.torch.load_file(checkpoint / "model.safetensors").values())
    _touch(tensors)
    return time.perf_counter() - start


def _child_save(contender: str, target: Path, layers: int, width: int) -> float:
    model = (OurStack if contender == "hubmixin" else RefStack)(layers=layers, width=width)
    start = time.perf_counter()
    if contender == "safetensors":
        target.mkdir()
        safetensors.torch.save_file(model.state_dict(), target / "model.safetensors", metadata={"format": "pt"})
    else:
        model.save_pretrained(target)
    return time.perf_counter() - start


def child(args: argparse.Namespace) -> None:
    """One measurement, in this (fresh) process; writes ``{"wall_s", "peak_rss_mib", "base_rss_mib"}``."""
    base = peak_rss_mib()
    if args.op == "load":
        wall = _child_load(args.contender, Path(args.path))
    else:
        wall = _child_save(args.contender, Path(args.path), args.layers, args.width)
    result = {"wall_s": wall, "peak_rss_mib": peak_rss_mib(), "base_rss_mib": base}
    Path(args.out).write_text(json.dumps(result))


def _measure(op: str, contender: str, path: Path, args: argparse.Namespace, scratch: Path) -> dict[str, float]:
    out = scratch / "result.json"
    command = [sys.executable, str(Path(__file__).resolve()), "--child", op, contender, str(path), str(out)]
    command += ["--layers", str(args.layers), "--width", str(args.width)]
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)  # the reference prints while loading
    result: dict[str, float] = json.loads(out.read_text())
    return result


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Write a checkpoint, then measure every contender's save and load; returns the report."""
    with tempfile.TemporaryDirectory(prefix="bench-torch-", dir=args.workdir) as tmp:
        scratch = Path(tmp)
        checkpoint = scratch / "checkpoint"
        _measure("save", "huggingface_hub", checkpoint, args, scratch)  # the reference's, read by the others
        _measure("save", "hubmixin", scratch / "own-checkpoint", args, scratch)  # ours, read by hubmixin
        size = (checkpoint / "model.safetensors").stat().st_size
        samples: dict[str, dict[str, list[dict[str, float]]]] = {"load": {}, "save": {}}
        for round_ in range(1 - args.warmup, args.runs + 1):  # rounds up to 0 warm the page cache, are dropped
            for contender in rotated(LOADERS, round_):  # who goes first changes every round
                result = _measure("load", contender, checkpoint, args, scratch)
                if round_ > 0:
                    samples["load"].setdefault(contender, []).append(result)
            for contender in rotated(SAVERS, round_):
                target = scratch / f"save-{contender}"
                os.sync()  # no writeback of an earlier save inside this one's clock
                result = _measure("save", contender, target, args, scratch)
                shutil.rmtree(target)
                if round_ > 0:
                    samples["save"].setdefault(contender, []).append(result)
    return {
        "model": f"{args.layers} x Linear({args.width}, {args.width}), float32",
        "checkpoint_bytes": size,
        "runs": args.runs,
        "warmup": args.warmup,
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "torch": torch.__version__,
            "huggingface_hub": huggingface_hub.__version__,
            "safetensors": safetensors.__version__,
            "hubmixin_torch": hubmixin_torch.__version__,
        },
        "load": with_ratios({c: summary(s) for c, s in samples["load"].items()}, "huggingface_hub"),
        "save": with_ratios({c: summary(s) for c, s in samples["save"].items()}, "huggingface_hub"),
    }


def table(report: dict[str, Any]) -> str:
    """The report as a Markdown table."""
    lines = [
        "| operation | contender | wall (s) | wall vs reference | peak RSS (MiB) | RSS vs reference |",
        "|---|---|---|---|---|---|",
    ]
    for op in ("load", "save"):
        for contender, entry in report[op].items():
            lines.append(
                f"| {op} | {contender} | {entry['wall_s']:.3f} | {entry['wall_ratio']:.3f}x "
                f"| {entry['peak_rss_mib']:.0f} | {entry['peak_rss_ratio']:.3f}x |"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark (or, with ``--child``, one measurement) and write the JSON report."""
    parser = load_benchmark_parser(__doc__.splitlines()[0], RESULTS)
    report = run_benchmark(parser.parse_args(argv), child, run, table)
    if report is None:
        return 0
    for contender, what in (("hubmixin", "its own file"), ("hubmixin_reference_file", "huggingface_hub's file")):
        load = report["load"][contender]
        wall, rss = load["wall_ratio"], load["peak_rss_ratio"]
        print(f"hubmixin load of {what}: {wall:.3f}x the reference's wall time, {rss:.3f}x its peak RSS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
