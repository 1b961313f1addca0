"""KPIs of one replication, and their summary over replications (DESIGN §2, §4)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from sim import kpis
from sim.ledger import COST_LINES, DAILY, Ledger
from sim.population import Population
from sim.steps import STEP_KINDS
from sim.steps._layers import daily_layers
from sim.tail import present_values

if TYPE_CHECKING:
    from sim.compile import CompiledScenario

STEP_FIGURES = ("reached", "converted", "revenue")
INTERVAL = (0.05, 0.95)  # the 90% interval: 5th and 95th percentile over replications


@dataclass(frozen=True)
class ReplicationResult:
    """What one replication produced: KPIs, per-step tallies and the daily series."""

    kpis: dict[str, float]
    steps: dict[str, dict[str, float]]  # step id -> tally -> value
    daily: dict[str, np.ndarray]  # series name -> one value per day
    events: pd.DataFrame | None = None
    visitors: pd.DataFrame | None = None  # with the event log: one row per visitor
    breakdown: dict[str, pd.DataFrame] | None = None  # by_step, by_channel, by_segment
    layers: dict[str, dict[str, float]] | None = None  # layer name -> figure -> value


def _ratio(num: float, den: float) -> float:
    return num / den if den > 0 else math.nan


def replication_kpis(
    ledger: Ledger,
    buyers: int,
    daily: dict[str, np.ndarray],
    *,
    discount_rate: float = 0.0,
) -> dict[str, float]:
    """The KPIs of :data:`sim.kpis.KPIS` from one replication's books and its buyers.

    ``buyers``: the visitors of the replication who bought at least once
    (:func:`buyers_per_replication`).
    """
    tail = float(ledger.steps["tail_value"].sum()) if "tail_value" in ledger.steps else 0.0
    sums = {name: float(ledger.daily[name].sum()) for name in DAILY}
    sums |= {line: float(ledger.lines[line].sum()) for line in COST_LINES}
    return kpis.compute(
        sums | present_values(daily, tail, discount_rate),
        buyers=float(buyers),
        cumulative_cash=daily["cumulative_cash"],
    )


def buyers_per_replication(population: Population, replications: int) -> list[int]:
    """How many visitors of each replication of a batch bought at least once."""
    bought = population.column("bought") != 0
    if replications == 1:
        return [int(np.count_nonzero(bought))]
    rep = population.column("replication")[bought]
    return [int(n) for n in np.bincount(rep, minlength=replications)]


def daily_series(ledger: Ledger, layers: tuple[str, ...] = ()) -> dict[str, np.ndarray]:
    """The daily series with costs, cash and cumulative cash, in daily.csv's column order.

    With ``layers`` (their names), the leads in each layer at the end of each day follow.
    """
    d = {name: ledger.daily[name] for name in DAILY}
    costs = d["cogs"] + d["fees"] + d["operating"]
    cash = d["revenue"] - d["refunds"] - d["spend"] - costs
    return {
        "day": np.arange(ledger.horizon),
        **d,
        "costs": costs,
        "cash": cash,
        "cumulative_cash": np.cumsum(cash),
        **daily_layers(layers, ledger.daily),
    }


def step_tallies(ledger: Ledger, compiled: CompiledScenario) -> dict[str, dict[str, float]]:
    """Per step: reached, converted, revenue, and the figures its kind reports.

    A kind may derive figures of its own from these and the books (a sales step's mean
    wait, and per rep of its team ``reps.NAME.calls``, ``closes``, ``close_rate``, …).
    """
    by_index = {step.index: step for step in compiled.steps}
    out = {}
    for i, (step_id, name) in enumerate(zip(compiled.step_ids, compiled.step_kinds, strict=True)):
        kind = STEP_KINDS[name]
        figures = {f: float(ledger.steps[f][i]) for f in STEP_FIGURES + kind.figures}
        if kind.tally is not None:
            figures = kind.tally(ledger, by_index[i], figures)
        out[step_id] = figures
    return out


def visitor_table(
    population: Population, segments: tuple[str, ...], channels: list[str]
) -> pd.DataFrame:
    """One row per visitor: where it came from, its traits, and where it ended."""
    col = population.column
    return pd.DataFrame(
        {
            "visitor": np.arange(population.size),
            "channel": pd.Categorical.from_codes(col("channel"), categories=pd.Index(channels)),
            "segment": pd.Categorical.from_codes(col("segment"), categories=pd.Index(segments)),
            "arrival_day": col("arrival_day"),
            "wtp_scale": col("wtp_scale"),
            "junk": col("junk"),
            "lead": col("lead"),
            "subscribed_at_end": col("subscribed") & col("lead"),
            "trust_at_end": col("trust"),
            "revenue": col("revenue"),
        }
    )


# --- summaries over replications ---------------------------------------------------------


def describe(values: np.ndarray) -> dict[str, float | None]:
    """Mean and 90% interval (5th, 95th percentile) of one figure over replications.

    NaN (an undefined ratio) is left out; a mean over values that include infinity
    (payback never reached) is None, as is a bound that is infinite, and ``never`` then
    counts the replications whose value is infinite.
    """
    v = np.asarray(values, dtype=float)
    v = v[~np.isnan(v)]
    if v.size == 0:
        return {"mean": None, "lo": None, "hi": None}
    # infinity as a huge finite stand-in, so interpolation between order statistics holds
    lo, hi = np.quantile(np.minimum(v, _NEVER), INTERVAL)
    never = int(np.count_nonzero(np.isinf(v)))
    if never:
        return {"mean": None, "lo": _finite(lo), "hi": _finite(hi), "never": never}
    return {"mean": float(v.mean()), "lo": _finite(lo), "hi": _finite(hi)}


_NEVER = 1e300


def _finite(x: float) -> float | None:
    return float(x) if x < _NEVER / 2 else None
