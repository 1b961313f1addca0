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
against one replication of the largest size. The sizes run in turn, R rounds after one
that warms up; each figure is the median over the rounds, with the lowest and highest.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from pathlib import Path

import sim
from sim.compile import CompiledScenario, compile_scenario
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


def _compiled(scenario: str, visitors: float) -> tuple[CompiledScenario, int]:
    base = sim.load_scenario(scenario)
    compiled = compile_scenario(
        sim.load_scenario(scenario, overrides=scale_overrides(base, visitors))
    )
    return compiled, base.seed


def _rate(
    compiled: CompiledScenario, seed: int, first: int, replications: int, batch: int
) -> float:
    """Visitors per second of processor time: ``replications`` replications in batches."""
    started = time.process_time()  # this process's CPU: other load does not count
    done = 0.0
    for i in range(first, first + replications, batch):
        chunk = range(i, min(i + batch, first + replications))
        done += sum(res.kpis["visitors"] for res in run_batch(compiled, seed, chunk))
    return done / (time.process_time() - started)


def speed(scenario: str, visitors: float, replications: int, batch: int, repeat: int) -> float:
    """Median visitors per second: ``replications`` replications in batches of ``batch``."""
    compiled, seed = _compiled(scenario, visitors)
    rates = [_rate(compiled, seed, r * replications, replications, batch) for r in range(repeat)]
    return statistics.median(rates)


def _spread(values: list[float]) -> str:
    """``median (min–max)`` of a list of rates or shares."""
    return f"{statistics.median(values):,.0f} ({min(values):,.0f}-{max(values):,.0f})"


def sizes(scenario: str, replications: int, repeat: int, counts: tuple[int, ...] = SIZES) -> None:
    """Print visitors per second at each size, alone and in batches, with their spread.

    The measurements go in rounds: each round runs every size once each way, in turn, so
    that a change in the machine's speed during the run reaches all of them alike. Each
    figure is the median over ``repeat`` rounds (after one round that is not counted: the
    first runs pay for loading code and growing the process's memory), with the lowest and
    highest in brackets; "batches vs" is each round's batched rate over the largest size's
    one-at-a-time rate in the same round, so it too is a median of paired figures.
    """
    print(f"scenario     {scenario}")
    largest = counts[-1]
    setups = {n: _compiled(scenario, n) for n in counts}
    reps = {n: replications if n < 1_000_000 else 1 for n in counts}
    alone: dict[int, list[float]] = {n: [] for n in counts}
    batched: dict[int, list[float]] = {n: [] for n in counts}
    for r in range(repeat + 1):
        for n in counts:
            (compiled, seed), k = setups[n], reps[n]
            one = _rate(compiled, seed, r * k, k, 1)
            many = one if k == 1 else _rate(compiled, seed, r * k, k, k)
            if r:  # the first round warms up
                alone[n].append(one)
                batched[n].append(many)
    top = alone[largest]
    print(f"visitors per second of processor time, median of {repeat} rounds (lowest-highest)")
    print(
        f"{'visitors':>12} {'one at a time':>33} {'batches of ' + str(replications):>33} "
        f"{'batches vs ' + format(largest, ','):>22}"
    )
    for n in counts:
        shares = [100 * b / t for b, t in zip(batched[n], top, strict=True)]
        print(
            f"{n:>12,} {_spread(alone[n]):>33} {_spread(batched[n]):>33} "
            f"{_spread(shares).replace(' (', '% ('):>22}"
        )


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
