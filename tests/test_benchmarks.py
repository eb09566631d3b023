"""The benchmark harness runs end to end (on a tiny model, so the suite stays fast) and reports every figure."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parent.parent


def test_torch_benchmark_reports_all_contenders(tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    cmd = [sys.executable, "benchmarks/bench_torch_load.py", "--layers", "2", "--width", "32", "--runs", "1"]
    cmd += ["--warmup", "0", "--output", str(out), "--workdir", str(tmp_path)]
    subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True)
    report = json.loads(out.read_text())
    for op, own in (("load", {"hubmixin_reference_file"}), ("save", set())):
        assert set(report[op]) == {"hubmixin", "huggingface_hub", "safetensors", *own}
        assert report[op]["huggingface_hub"]["wall_ratio"] == 1.0
        for figures in report[op].values():
            assert figures["wall_s"] > 0 and figures["peak_rss_mib"] > figures["base_rss_mib"] > 0
            assert figures["wall_ratio"] > 0 and figures["peak_rss_ratio"] > 0


def test_flax_benchmark_reports_all_contenders(tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    cmd = [sys.executable, "benchmarks/bench_flax_load.py", "--layers", "2", "--width", "32", "--runs", "1"]
    cmd += ["--warmup", "0", "--output", str(out), "--workdir", str(tmp_path)]
    subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True)
    report = json.loads(out.read_text())
    expected = {
        "load": ({"hubmixin", "ad_hoc", "safetensors"}, "ad_hoc"),
        "save": ({"hubmixin", "safetensors"}, "safetensors"),
        "sharded_load": ({"hubmixin", "hubmixin_sharded"}, "hubmixin"),
    }
    for op, (contenders, reference) in expected.items():
        assert set(report[op]) == contenders
        assert report[op][reference]["wall_ratio"] == 1.0
        for figures in report[op].values():
            assert figures["wall_s"] > 0 and figures["peak_rss_mib"] > figures["base_rss_mib"] > 0
            assert figures["wall_ratio"] > 0 and figures["peak_rss_ratio"] > 0
    assert set(report["targets"]) == {"wall_ratio", "peak_rss_ratio"}


def test_keras_benchmark_reports_all_contenders(tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    cmd = [sys.executable, "benchmarks/bench_keras_load.py", "--layers", "2", "--width", "32", "--runs", "1"]
    cmd += ["--warmup", "0", "--backends", "jax", "--output", str(out), "--workdir", str(tmp_path)]
    subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True)
    report = json.loads(out.read_text())
    assert set(report["backends"]) == {"jax"}
    for op in ("load", "save"):
        assert set(report["backends"]["jax"][op]) == {"hubmixin", "keras"}
        assert report["backends"]["jax"][op]["keras"]["wall_ratio"] == 1.0
        for figures in report["backends"]["jax"][op].values():
            assert figures["wall_s"] > 0 and figures["peak_rss_mib"] > figures["base_rss_mib"] > 0
            assert figures["wall_ratio"] > 0 and figures["peak_rss_ratio"] > 0
    assert set(report["targets"]) == {"wall_ratio"}
    assert set(report["targets"]["wall_ratio"]["holds"]) == {"jax"}


def test_interchange_benchmark_reports_all_contenders(tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    cmd = [sys.executable, "benchmarks/bench_interchange_load.py", "--layers", "2", "--width", "32", "--runs", "1"]
    cmd += ["--warmup", "0", "--output", str(out), "--workdir", str(tmp_path)]
    subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True)
    report = json.loads(out.read_text())
    expected = {
        "flax": {"hubmixin_from_torch", "hubmixin_own", "native", "orbax"},
        "keras_jax": {"hubmixin_from_torch", "hubmixin_own", "native"},
    }
    for group, contenders in expected.items():
        assert set(report[group]) == contenders
        assert report[group]["native"]["wall_ratio"] == 1.0
        for figures in report[group].values():
            # >=: at this size, Flax's native load adds well under 1 MiB to the RSS after imports
            assert figures["wall_s"] > 0 and figures["peak_rss_mib"] >= figures["base_rss_mib"] > 0
            assert figures["wall_ratio"] > 0 and figures["peak_rss_ratio"] > 0
    assert set(report["targets"]) == {"wall_ratio"}
    assert set(report["targets"]["wall_ratio"]["holds"]) == set(expected)


def test_hub_transfer_benchmark_reports_both_paths(tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    cmd = [sys.executable, "benchmarks/bench_hub_transfer.py", "--size-mib", "12", "--runs", "1"]
    subprocess.run([*cmd, "--output", str(out), "--workdir", str(tmp_path)], cwd=ROOT, check=True, capture_output=True)
    report = json.loads(out.read_text())
    assert set(report["modes"]) == {"lfs", "xet"}
    for figures in report["modes"].values():
        assert figures["upload_mib_s"] > 0 and figures["download_mib_s"] > 0 and figures["server_download_mib_s"] > 0
        assert figures["stored_after_first_push_mib"] >= 12
    # The second push changes 1 MiB: LFS stores the whole file again, Xet only the chunks around the change.
    assert report["modes"]["lfs"]["stored_by_second_push_mib"] >= 12
    assert report["modes"]["xet"]["stored_by_second_push_mib"] < 4
    assert set(report["targets"]) == {"lfs_mib_s", "xet_vs_lfs"}
