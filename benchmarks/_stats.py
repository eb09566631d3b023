"""What every load/save benchmark shares: its options and main, peak RSS, medians over runs, ratios, run order."""

from __future__ import annotations

import argparse
import json
import resource
import statistics
from collections.abc import Callable
from pathlib import Path
from typing import Any

Report = dict[str, Any]


def peak_rss_mib() -> float:
    """Peak resident memory of this process so far, in MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def summary(samples: list[dict[str, float]], weights_mib: float | None = None) -> dict[str, Any]:
    """Medians of ``wall_s``, ``peak_rss_mib`` and ``base_rss_mib`` over ``samples`` (kept in the result).

    With ``weights_mib``, also ``rss_over_weights_mib``: the peak beyond the imports and one copy of the weights.
    """
    peak = statistics.median(s["peak_rss_mib"] for s in samples)
    base = statistics.median(s["base_rss_mib"] for s in samples)
    result: dict[str, Any] = {
        "wall_s": statistics.median(s["wall_s"] for s in samples),
        "peak_rss_mib": peak,
        "base_rss_mib": base,
    }
    if weights_mib is not None:
        result["rss_over_weights_mib"] = peak - base - weights_mib
    result["samples"] = samples
    return result


def with_ratios(results: dict[str, dict[str, Any]], reference: str) -> dict[str, dict[str, Any]]:
    """Add ``wall_ratio`` and ``peak_rss_ratio`` against the ``reference`` contender to every entry."""
    ref = results[reference]
    for entry in results.values():
        entry["wall_ratio"] = entry["wall_s"] / ref["wall_s"]
        entry["peak_rss_ratio"] = entry["peak_rss_mib"] / ref["peak_rss_mib"]
    return results


def rotated(items: tuple[str, ...], round_: int) -> tuple[str, ...]:
    """``items`` starting at position ``round_`` (mod its length): who goes first changes every round."""
    order = round_ % len(items)
    return items[order:] + items[:order]


def load_benchmark_parser(description: str, results: Path) -> argparse.ArgumentParser:
    """The options every load/save benchmark takes: the model's size, runs, warm-up rounds, where files go.

    ``--child OP CONTENDER PATH OUT`` (hidden) runs one measurement in a fresh process.
    """
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--child", nargs=4, metavar=("OP", "CONTENDER", "PATH", "OUT"), help=argparse.SUPPRESS)
    parser.add_argument("--layers", type=int, default=16)
    parser.add_argument("--width", type=int, default=4096)
    parser.add_argument("--runs", type=int, default=3, help="timed runs per contender (median reported)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed rounds first (0 for a smoke run)")
    parser.add_argument("--workdir", type=Path, default=None, help="where to write checkpoints (a temp dir)")
    parser.add_argument("--output", type=Path, default=results, help="JSON report")
    return parser


def run_benchmark(
    args: argparse.Namespace,
    child: Callable[[argparse.Namespace], None],
    run: Callable[[argparse.Namespace], Report],
    table: Callable[[Report], str],
) -> Report | None:
    """With ``--child``, one measurement (``None``); else the whole benchmark: its report, written and printed."""
    if args.child:
        args.op, args.contender, args.path, args.out = args.child
        child(args)
        return None
    report = run(args)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    print(table(report))
    return report
