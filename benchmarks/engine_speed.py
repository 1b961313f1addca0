"""Engine speed: a bundled scenario scaled to N visitors, one replication, no event log.

Usage:
    python benchmarks/engine_speed.py [SCENARIO] [--visitors N] [--repeat R]
    python benchmarks/engine_speed.py [SCENARIO] --sizes [--replications B]

Scales every channel by the same factor (paid channels: budget and half-saturation budget
together, which scales the Hill curve's clicks exactly), runs R times in this process and
prints the median visitors per second. With ``--sizes``: at 5,000, 20,000, 100,000 and
1,000,000 visitors, one replication at a time and in batches of B replications (as
``sim run`` and the optimizer run them), visitors per second of this process's CPU time
each way (so that other load on the machine does not count), and each size's batches
against one replication of the largest size.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from pathlib import Path

import sim
from sim.compile import compile_scenario
from sim.runner import run_batch, run_replication

ROOT = Path(__file__).resolve().parent.parent


def scale_overrides(scenario: sim.Scenario, visitors: float) -> list[str]:
    """``--set`` overrides that scale the scenario's traffic to about ``visitors``."""
    compiled = compile_scenario(scenario)
    expected = sum(ch.visitors_per_day for ch in compiled.channels) * compiled.acquisition
    f = visitors / expected
    out = []
    for name, ch in scenario.channels.items():
        if ch.type == "paid":
            out.append(f"channels.{name}.daily_budget={ch.daily_budget * f!r}")
            if ch.half_saturation_budget is not None:
                out.append(
                    f"channels.{name}.half_saturation_budget={ch.half_saturation_budget * f!r}"
                )
        elif ch.type != "referral":  # referred visitors scale with the buyers who bring them
            out.append(f"channels.{name}.visitors_per_day={ch.visitors_per_day * f!r}")
    return out


SIZES = (5_000, 20_000, 100_000, 1_000_000)


def speed(scenario: str, visitors: float, replications: int, batch: int, repeat: int) -> float:
    """Median visitors per second: ``replications`` replications in batches of ``batch``."""
    base = sim.load_scenario(scenario)
    compiled = compile_scenario(
        sim.load_scenario(scenario, overrides=scale_overrides(base, visitors))
    )
    rates = []
    for r in range(repeat):
        first = r * replications
        started = time.process_time()  # this process's CPU: other load does not count
        done = 0.0
        for i in range(first, first + replications, batch):
            chunk = range(i, min(i + batch, first + replications))
            done += sum(res.kpis["visitors"] for res in run_batch(compiled, base.seed, chunk))
        rates.append(done / (time.process_time() - started))
    return statistics.median(rates)


def sizes(scenario: str, replications: int, repeat: int, counts: tuple[int, ...] = SIZES) -> None:
    """Print visitors per second at each size, alone and in batches."""
    print(f"scenario     {scenario}")
    rows = []
    for n in counts:
        reps = replications if n < 1_000_000 else 1
        rows.append(
            (n, speed(scenario, n, reps, 1, repeat), speed(scenario, n, reps, reps, repeat))
        )
    largest, top, _ = rows[-1]  # the largest size, one replication at a time
    print(
        f"{'visitors':>12} {'one at a time':>16} {'batches of ' + str(replications):>16} "
        f"{'batches vs ' + format(largest, ','):>22}"
    )
    for n, alone, batched in rows:
        print(f"{n:>12,} {alone:>16,.0f} {batched:>16,.0f} {batched / top:>22.0%}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument(
        "scenario", nargs="?", default=str(ROOT / "scenarios" / "pastry_school.yaml")
    )
    parser.add_argument("--visitors", type=float, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--sizes", action="store_true", help="speed at several sizes")
    parser.add_argument("--replications", type=int, default=8, help="a batch (--sizes)")
    parser.add_argument("--sizes-list", default=",".join(map(str, SIZES)), help="(--sizes)")
    args = parser.parse_args()
    if args.sizes:
        counts = tuple(int(x) for x in args.sizes_list.split(","))
        sizes(args.scenario, args.replications, args.repeat, counts)
        return

    base = sim.load_scenario(args.scenario)
    overrides = scale_overrides(base, args.visitors)
    compiled = compile_scenario(sim.load_scenario(args.scenario, overrides=overrides))
    rates, visitors = [], 0.0
    for r in range(args.repeat):
        started = time.perf_counter()
        result = run_replication(compiled, base.seed, r)
        elapsed = time.perf_counter() - started
        visitors = result.kpis["visitors"]
        rates.append(visitors / elapsed)
    print(f"scenario     {args.scenario}")
    print(f"overrides    {' '.join('--set ' + o for o in overrides)}")
    cpu = platform.processor() or platform.machine()
    print(f"machine      {cpu}, {os.cpu_count()} cores, python {platform.python_version()}")
    print(f"visitors     {visitors:,.0f} per replication, horizon {compiled.horizon} days")
    print(
        f"speed        {statistics.median(rates):,.0f} visitors/s (median of {args.repeat}; "
        f"min {min(rates):,.0f}, max {max(rates):,.0f})"
    )


if __name__ == "__main__":
    main()
