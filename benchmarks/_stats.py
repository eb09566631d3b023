"""What every load/save benchmark shares: peak RSS of this process, medians over runs, ratios, run order."""

from __future__ import annotations

import resource
import statistics
from typing import Any


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
