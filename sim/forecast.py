"""The forecast a sales manager asks for: bookings by period with their spread, quota, velocity.

Read from a run's replications (docs/model.md §3.11): bookings are the revenue booked by
day, summed by week or month; P10/P50/P90 are over replications; the chance of quota is
the share of replications whose bookings over the horizon reach it. Only a funnel with a
``payment`` step has a forecast.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from sim.scenario import Scenario
from sim.steps._pipeline import PERIOD_DAYS, forecast_terms

QUANTILES = (0.1, 0.5, 0.9)


def _spread(values: np.ndarray) -> dict[str, float]:
    p10, p50, p90 = np.quantile(values, QUANTILES)
    return {"p10": float(p10), "p50": float(p50), "p90": float(p90)}


def pipeline_forecast(
    scenario: Scenario, per_rep: pd.DataFrame, revenue: Sequence[np.ndarray]
) -> dict[str, Any] | None:
    """The forecast of a pipeline from its replications, or None for a funnel without one.

    Args:
        scenario: the scenario run.
        per_rep: one row per replication: the KPIs and ``<step>.<figure>`` columns.
        revenue: per replication, the revenue booked on each day of the horizon.
    """
    terms = forecast_terms(scenario.funnel)
    if terms is None:
        return None
    days = PERIOD_DAYS[terms["period"]]
    daily = np.vstack(revenue)  # replication × day
    horizon = daily.shape[1]
    periods = []
    for k, start in enumerate(range(0, horizon, days)):
        booked = daily[:, start : start + days].sum(axis=1)
        end = min(start + days, horizon) - 1
        periods.append({"period": k + 1, "from_day": start, "to_day": end, **_spread(booked)})
    total = daily.sum(axis=1)
    quota = terms["quota"]
    return {
        "period": terms["period"],
        "bookings": periods,
        "total": _spread(total),
        "quota": quota,
        "chance_of_quota": None if quota is None else float(np.mean(total >= quota)),
        "weighted_pipeline": terms["weighted"],
        "simulated_pipeline": _simulated(per_rep, terms),
        "velocity": _velocity(per_rep, terms),
    }


def _col(per_rep: pd.DataFrame, steps: Sequence[str], figure: str) -> np.ndarray:
    return np.asarray(sum(per_rep[f"{s}.{figure}"].to_numpy() for s in steps), dtype=float)


def _simulated(per_rep: pd.DataFrame, terms: Mapping[str, Any]) -> float | None:
    """The mean money the open deals carried in brought in the run."""
    if not terms["carried"]:
        return None
    return float(_col(per_rep, terms["payments"], "carried_revenue").mean())


def _velocity(per_rep: pd.DataFrame, terms: Mapping[str, Any]) -> dict[str, float]:
    """Sales velocity from the run: deals × win rate × deal size ÷ cycle length, per day."""
    opened = _col(per_rep, terms["openers"], "converted") if terms["openers"] else 0.0
    deals = float(np.mean(opened)) + terms["carried"]
    won = float(_col(per_rep, terms["payments"], "converted").mean())
    revenue = float(_col(per_rep, terms["payments"], "revenue").mean())
    paid = _col(per_rep, terms["payments"], "converted")
    cycles = np.asarray(
        [per_rep[f"{s}.mean_days_to_close"].to_numpy() for s in terms["payments"]], dtype=float
    )
    weights = np.asarray([per_rep[f"{s}.converted"].to_numpy() for s in terms["payments"]])
    cycle = float(np.nansum(cycles * weights) / paid.sum()) if paid.sum() else math.nan
    win_rate = won / deals if deals else math.nan
    size = revenue / won if won else math.nan
    per_day = deals * win_rate * size / cycle if cycle and cycle == cycle else math.nan
    return {
        "deals": deals,
        "win_rate": win_rate,
        "deal_size": size,
        "cycle_days": cycle,
        "per_day": per_day,
    }
