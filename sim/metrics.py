"""KPIs of one replication, and their summary over replications (DESIGN §2, §4)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sim import kpis
from sim.ledger import DAILY, Ledger
from sim.population import Population

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


def _ratio(num: float, den: float) -> float:
    return num / den if den > 0 else math.nan


def replication_kpis(
    ledger: Ledger, population: Population, daily: dict[str, np.ndarray]
) -> dict[str, float]:
    """The KPIs of :data:`sim.kpis.KPIS` from one replication's books."""
    return kpis.compute(
        {name: float(ledger.daily[name].sum()) for name in DAILY},
        buyers=float(np.count_nonzero(population.column("bought"))),
        cumulative_cash=daily["cumulative_cash"],
    )


def daily_series(ledger: Ledger) -> dict[str, np.ndarray]:
    """The daily series with costs, cash and cumulative cash, in daily.csv's column order."""
    d = ledger.daily
    costs = d["cogs"] + d["fees"] + d["operating"]
    cash = d["revenue"] - d["refunds"] - d["spend"] - costs
    return {
        "day": np.arange(ledger.horizon),
        **d,
        "costs": costs,
        "cash": cash,
        "cumulative_cash": np.cumsum(cash),
    }


def step_tallies(
    ledger: Ledger,
    step_ids: tuple[str, ...],
    kinds: tuple[str, ...],
    teams: dict[str, tuple[str, ...]],
) -> dict[str, dict[str, float]]:
    """Per step: reached, converted, revenue, and the tallies its kind keeps.

    A sales step also has, per rep of its team (``teams``: step id → rep names), the
    figures ``reps.NAME.calls``, ``closes``, ``close_rate`` and ``revenue``.
    """
    out = {}
    for i, (step_id, kind) in enumerate(zip(step_ids, kinds, strict=True)):
        names = STEP_FIGURES + _KIND_FIGURES.get(kind, ())
        figures = {name: float(ledger.steps[name][i]) for name in names}
        if kind == "sales_call":
            figures["mean_wait_days"] = _ratio(figures.pop("waited_days"), figures["calls"])
        if i in ledger.reps:
            figures |= _rep_figures(ledger.reps[i], teams[step_id])
        out[step_id] = figures
    return out


# the tallies each kind reports besides reached, converted and revenue
_KIND_FIGURES = {
    "offer": ("refunds", "refunded", "referred", "repeat_orders", "repeat_revenue"),
    "order_bump": ("refunds", "refunded"),
    "email_sequence": ("unsubscribed",),
    "subscription": ("payments", "churned", "active_at_end"),
    "sales_call": (
        "disqualified",
        "calls",
        "dropped",
        "queued_at_end",
        "waited_days",
        "refunds",
        "refunded",
    ),
    "winback": ("refunds", "refunded"),
}


def _rep_figures(tallies: dict[str, np.ndarray], names: tuple[str, ...]) -> dict[str, float]:
    """Per rep of a sales team: calls, closes, close rate, revenue, keyed ``reps.NAME.figure``."""
    out = {}
    for i, name in enumerate(names):
        calls, closes = float(tallies["calls"][i]), float(tallies["closes"][i])
        out[f"reps.{name}.calls"] = calls
        out[f"reps.{name}.closes"] = closes
        out[f"reps.{name}.close_rate"] = _ratio(closes, calls)
        out[f"reps.{name}.revenue"] = float(tallies["revenue"][i])
    return out


def visitor_table(
    population: Population, segments: tuple[str, ...], channels: list[str]
) -> pd.DataFrame:
    """One row per visitor: where it came from, its traits, and where it ended."""
    col = population.column
    return pd.DataFrame(
        {
            "visitor": np.arange(population.size),
            "channel": pd.Categorical.from_codes(col("channel"), categories=channels),
            "segment": pd.Categorical.from_codes(col("segment"), categories=list(segments)),
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
    (payback never reached) is None, as is a bound that is infinite.
    """
    v = np.asarray(values, dtype=float)
    v = v[~np.isnan(v)]
    if v.size == 0:
        return {"mean": None, "lo": None, "hi": None}
    # infinity as a huge finite stand-in, so interpolation between order statistics holds
    lo, hi = np.quantile(np.minimum(v, _NEVER), INTERVAL)
    mean = float(v.mean()) if np.isfinite(v).all() else None
    return {"mean": mean, "lo": _finite(lo), "hi": _finite(hi)}


_NEVER = 1e300


def _finite(x: float) -> float | None:
    return float(x) if x < _NEVER / 2 else None
