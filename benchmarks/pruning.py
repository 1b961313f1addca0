"""What pruning saves: the same study with and without it, on the same seeds.

Usage:
    python benchmarks/pruning.py [SCENARIO] [--trials N] [--set PATH=VALUE ...]

Runs the scenario's search twice in memory (same sampler seed, same replication seeds):
once with the median pruner (a trial reports after a quarter of its replications, and
is stopped there if clearly worse) and once without. Prints wall time, replications simulated, and the best
design of each re-evaluated on the same fresh seeds.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from optimize import StudyConfig, optimize_scenario

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument(
        "scenario", nargs="?", default=str(ROOT / "scenarios" / "pastry_school.yaml")
    )
    parser.add_argument("--trials", type=int, default=100)
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    args = parser.parse_args()
    text = Path(args.scenario).read_text(encoding="utf-8")
    rows = []
    for prune in (False, True):
        config = StudyConfig(
            text,
            args.scenario,
            overrides=tuple(args.overrides),
            storage="memory",
            trials=args.trials,
            prune=prune,
        )
        started = time.perf_counter()
        result = optimize_scenario(config, top_k=5)
        search = time.perf_counter() - started
        n = result.search_replications
        simulated = 0
        for t in result.study.trials:
            # a pruned trial stopped at the last rung it reported (an invalid design ran
            # none); the others ran them all
            pruned = t.state.name == "PRUNED"
            simulated += max(t.intermediate_values, default=0) if pruned else n
        kpi = result.goals[0][0]
        rows.append(
            (prune, search, simulated, result.counts["pruned"], result.best.objective(kpi), kpi)
        )
    print(f"scenario {args.scenario}, {args.trials} trials")
    print(
        f"{'pruning':8} {'seconds':>8} {'replications run':>17} {'pruned':>7} {'best (re-evaluated)':>20}"
    )
    for prune, seconds, simulated, pruned, best, kpi in rows:
        print(
            f"{'on' if prune else 'off':8} {seconds:8.1f} {simulated:17,d} {pruned:7d} {best:17.4g} {kpi}"
        )
    off, on = rows
    print(
        f"pruning saved {1 - on[1] / off[1]:.0%} of the time and {1 - on[2] / off[2]:.0%} of the replications"
    )


if __name__ == "__main__":
    main()
