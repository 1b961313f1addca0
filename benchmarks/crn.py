"""Common random numbers, measured: paired differences against independent seeds.

Usage:
    python benchmarks/crn.py [-n 40] [--seed 1]

For bundled scenarios and one-parameter changes (a price; an email open rate upstream of an
emailed offer; a subscription's churn), runs the base design and the changed one on the same
seed (paired: each visitor keeps their own dice, docs/model.md §6) and on another seed
(independent), and prints per KPI the variance of the replication-by-replication difference
both ways and their ratio: how many times fewer replications a comparison needs.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

import sim

ROOT = Path(__file__).resolve().parent.parent
# (scenario, change, what it is)
CHANGES = (
    ("pastry_school", "funnel.core_course.price=300", "a price: core course $290 → $300"),
    ("pastry_school", "funnel.tripwire.price=15", "a price: tripwire $9 → $15"),
    (
        "pastry_school",
        "segments.hobbyist.email.open_rate=0.33",
        "upstream: hobbyists' open rate 0.28 → 0.33",
    ),
    ("saas_trial", "funnel.plan.churn.rate=0.1", "a churn: plan 0.08 → 0.10"),
    ("eshop_loyalty", "funnel.first_order.price=27", "a price, with referrals and repeats"),
)
KPIS = ("profit", "revenue", "buyers", "leads")


def variance_ratios(
    scenario: str, change: str, n: int, seed: int
) -> dict[str, tuple[float, float]]:
    """Per KPI: (variance of the difference with independent seeds, with the same seed)."""
    path = ROOT / "scenarios" / f"{scenario}.yaml"
    base = sim.prepare(sim.load_scenario(path))
    changed = sim.prepare(sim.load_scenario(path, overrides=[change]))
    a = base.run(replications=n, seed=seed).replications
    same = changed.run(replications=n, seed=seed).replications
    other = changed.run(replications=n, seed=seed + 1000).replications
    return {
        k: (
            float(np.var(other[k] - a[k], ddof=1)),
            float(np.var(same[k] - a[k], ddof=1)),
        )
        for k in KPIS
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("-n", "--replications", type=int, default=40)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    print(f"variance of the paired difference vs independent seeds, {args.replications} reps")
    print(f"{'change':<58} {'kpi':<8} {'independent':>14} {'paired':>14} {'ratio':>8}")
    for scenario, change, label in CHANGES:
        ratios = variance_ratios(scenario, change, args.replications, args.seed)
        for kpi, (independent, paired) in ratios.items():
            ratio = f"{independent / paired:8.1f}" if paired > 0 else "     inf"
            print(
                f"{scenario + ': ' + label:<48} {kpi:<8} {independent:14.4g} {paired:14.4g} {ratio}"
            )


if __name__ == "__main__":
    main()
