"""`sim optimize` on the canonical workload: wall time, and where a trial's time goes.

Usage:
    python benchmarks/optimize_speed.py [--trials 200] [--jobs 2] [--visitors 20000] [--replications 8]
        [--runs 1] [--vs CHECKOUT] [--no-split]

Two measurements, side by side:

- the whole command as a user runs it, in a fresh process: ``sim optimize`` with ``--jobs``
  workers on the default SQLite storage, search then re-evaluation and outputs (wall time,
  trials per second, and processor time: user + system of the command and the simulation
  processes it started). ``--runs R`` runs it R times and prints medians. ``--vs CHECKOUT``
  also runs the same command from another checkout of the project (``git worktree add
  ../old <commit>``), the two in turn (``A B A B …``), and prints each one's medians and
  the ratio taken pair by pair, so that a machine whose speed drifts does not tilt it.
  ``--trials 1`` measures the command's fixed cost (loading, storage, re-evaluation,
  outputs);
- the same search in this process with ``--jobs 1``, its time split by instrumenting the
  parts a trial spends it in: the simulation (``run_replication`` and a trial's batches,
  ``PreparedScenario.run_replications``), the sampler (TPE's
  ``sample_relative`` / ``sample_independent``), the storage (opening the stored study,
  writing each finished trial to it, reading other processes' trials), and the rest:
  Optuna's in-memory bookkeeping, building each design, the search loop.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import optuna
from engine_speed import scale_overrides

import optimize.mirror
import optimize.study
import sim
import sim.runner
from optimize import StudyConfig
from optimize.study import run_workers

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
CANONICAL = HERE / "canonical.yaml"
SEARCH = """
search:
  funnel.tripwire.price: {low: 3, high: 30}
  funnel.core.price: {low: 90, high: 400}
  funnel.club.price: {low: 10, high: 40}
  channels.ads.daily_budget: {low: 100, high: 2000, log: true}
"""


def scenario_text() -> str:
    """The canonical scenario with a search section (the file itself stays unchanged)."""
    return CANONICAL.read_text(encoding="utf-8") + SEARCH


def overrides(visitors: float) -> list[str]:
    return scale_overrides(sim.load_scenario(CANONICAL), visitors)


def command_wall_time(
    trials: int, jobs: int, visitors: float, replications: int, root: Path = ROOT
) -> dict[str, float]:
    """Run ``sim optimize`` from the checkout ``root`` as a user would; wall and processor time."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "canonical_search.yaml"
        path.write_text(scenario_text(), encoding="utf-8")
        cmd = [
            sys.executable,
            "-m",
            "cli",
            "optimize",
            str(path),
            "--trials",
            str(trials),
            "--jobs",
            str(jobs),
            "-n",
            str(replications),
            "--out",
            str(Path(tmp) / "out"),
        ]
        for o in overrides(visitors):
            cmd += ["--set", o]
        env = {**os.environ, "PYTHONPATH": str(root)}
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        subprocess.run(cmd, cwd=root, env=env, check=True, capture_output=True, text=True)
        seconds = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"seconds": seconds, "cpu": cpu, "trials_per_second": trials / seconds}


def compare_commands(
    args: argparse.Namespace, other: Path | None
) -> tuple[list[dict[str, float]], list[dict[str, float]]]:
    """``args.runs`` runs of the command here and, in turn, from ``other`` (if given)."""
    ours: list[dict[str, float]] = []
    theirs: list[dict[str, float]] = []
    for _ in range(args.runs):
        ours.append(command_wall_time(args.trials, args.jobs, args.visitors, args.replications))
        if other is not None:
            theirs.append(
                command_wall_time(args.trials, args.jobs, args.visitors, args.replications, other)
            )
    return ours, theirs


def _median(runs: list[dict[str, float]], key: str) -> float:
    return statistics.median(r[key] for r in runs)


def _timed(target: Any, name: str, bucket: str, totals: Counter[str]) -> Callable[[], None]:
    original = getattr(target, name)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            totals[bucket] += time.perf_counter() - started

    setattr(target, name, wrapper)
    return lambda: setattr(target, name, original)


def time_split(trials: int, visitors: float, replications: int) -> dict[str, float]:
    """``--jobs 1`` in this process on SQLite; seconds in simulation, sampler, storage, rest."""
    totals: Counter[str] = Counter()
    undo = [
        _timed(sim.runner, "run_replication", "simulation", totals),
        _timed(sim.runner.PreparedScenario, "run_replications", "simulation", totals),
        _timed(optuna.samplers.TPESampler, "sample_relative", "sampler", totals),
        _timed(optuna.samplers.TPESampler, "sample_independent", "sampler", totals),
        _timed(optimize.study, "open_study", "storage", totals),
        _timed(optimize.mirror.Mirror, "store", "storage", totals),
        _timed(optimize.mirror.Mirror, "sync", "storage", totals),
    ]
    try:
        with tempfile.TemporaryDirectory() as tmp:
            config = StudyConfig(
                scenario_text(),
                "canonical",
                overrides=tuple(overrides(visitors)),
                storage=f"sqlite:///{tmp}/study.db",
                trials=trials,
                replications=replications,
            )
            started = time.perf_counter()
            run_workers(config)
            total = time.perf_counter() - started
    finally:
        for restore in undo:
            restore()
    parts = {name: totals[name] for name in ("simulation", "sampler", "storage")}
    return {"total": total, **parts, "rest": total - sum(parts.values())}


SPLIT = ("simulation", "sampler", "storage", "rest")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--visitors", type=float, default=20_000)
    parser.add_argument("--replications", type=int, default=8)
    parser.add_argument("--runs", type=int, default=1, help="runs of the whole command")
    parser.add_argument("--vs", type=Path, help="another checkout, run in turn with this one")
    parser.add_argument("--no-split", action="store_true", help="skip the in-process split")
    args = parser.parse_args()
    ours, theirs = compare_commands(args, args.vs)
    print(
        f"sim optimize, canonical at {args.visitors:,.0f} visitors x {args.replications} replications, "
        f"{args.trials} trials"
    )
    runs = f"median of {args.runs} runs" if args.runs > 1 else "one run"
    print(
        f"  whole command, --jobs {args.jobs} ({runs}): {_median(ours, 'seconds'):.1f} s wall, "
        f"{_median(ours, 'cpu'):.1f} s processor "
        f"({_median(ours, 'trials_per_second'):.1f} trials/s)"
    )
    if theirs:
        print(
            f"  the same from {args.vs}: {_median(theirs, 'seconds'):.1f} s wall, "
            f"{_median(theirs, 'cpu'):.1f} s processor"
        )
        for key, what in (("seconds", "wall"), ("cpu", "processor")):
            ratios = [b[key] / a[key] for a, b in zip(ours, theirs, strict=True)]
            print(
                f"    {what} time, theirs / ours, pair by pair: median {statistics.median(ratios):.2f}x"
            )
    if args.no_split:
        return
    split = time_split(args.trials, args.visitors, args.replications)
    print(f"  search alone, --jobs 1:    {split['total']:.1f} s")
    for part in SPLIT:
        print(f"    {part:18} {split[part]:6.1f} s  {split[part] / split['total']:5.0%}")


if __name__ == "__main__":
    main()
