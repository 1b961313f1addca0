"""The benchmark still runs: ``benchmarks/run.py --quick`` at tiny sizes prints its table.

Nothing here is timed; the figures at these sizes mean nothing. This only keeps the
benchmark from rotting as the engine changes under it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

TINY = (
    ("--visitors", "3000"),
    ("--naive-visitors", "1000"),
    ("--check-visitors", "1000"),
    ("--check-replications", "3"),
    ("--repeat", "1"),
    ("--optimize-trials", "4"),
    ("--optimize-visitors", "1000"),
    ("--optimize-replications", "2"),
    ("--optimize-jobs", "1"),
)


def test_quick_benchmark_prints_its_table_and_writes_results(tmp_path: Path) -> None:
    results = tmp_path / "results.json"
    committed = ROOT / "benchmarks" / "results.json"
    before = committed.stat().st_mtime_ns if committed.exists() else None
    command = [sys.executable, str(ROOT / "benchmarks" / "run.py"), "--quick"]
    command += [arg for pair in TINY for arg in pair] + ["--results", str(results)]
    proc = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)

    assert proc.returncode == 0, proc.stdout + proc.stderr
    for line in (
        "machine",
        "agreement: engine vs naive Mesa",
        "speed: visitors per second",
        "engine, event log off",
        "engine, event log on",
        "naive Mesa, one agent each",
        "memory: peak resident",
        "sim optimize: 4 trials, 1,000 visitors x 2 replications, --jobs 1",
        "targets",
    ):
        assert line in proc.stdout, f"{line!r} missing from:\n{proc.stdout}"
    data = json.loads(results.read_text(encoding="utf-8"))
    assert data["optimize"]["trials"] == 4
    assert data["optimize"]["seconds"] > 0
    assert "split_one_worker" not in data["optimize"]  # --quick skips the split
    assert data["memory"]["engine_large"] is None  # --quick skips the 10M run
    assert set(data["speed"]["ratios"]) == {"engine", "engine_events"}
    after = committed.stat().st_mtime_ns if committed.exists() else None
    assert after == before, "the smoke run must not overwrite benchmarks/results.json"


def test_crn_benchmark_prints_a_ratio_per_change_and_kpi() -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "crn.py"), "-n", "3"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "core course $290 → $300" in proc.stdout
    assert "upstream" in proc.stdout
    assert "churn" in proc.stdout


def test_engine_speed_prints_every_size_alone_and_in_batches() -> None:
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "engine_speed.py"),
            str(ROOT / "benchmarks" / "canonical.yaml"),
            "--sizes",
            "--sizes-list",
            "2000,3000",
            "--replications",
            "2",
            "--repeat",
            "1",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "batches of 2" in proc.stdout
    assert "2,000" in proc.stdout
    assert "3,000" in proc.stdout
