"""The one table of KPIs: what each is, how it is computed, shown and used (docs/model.md §5).

Every place that lists KPIs reads :data:`KPIS`: the replication's figures
(:func:`compute`), the economics table, ``summary.json``, the run report's cards and
economics table, ``sim compare``, the optimizer's objectives, constraints and report.
Adding a KPI is one entry here, placed where the economics table should show it; a
formula may use the KPIs above it.

Examples:
    >>> KPIS["cac"].label, KPIS["cac"].unit
    ('CAC (spend / buyer)', 'money')
    >>> headline()
    ['profit', 'revenue', 'gross_profit', 'poas', 'cac', 'payback_day']
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

Unit = Literal["money", "share", "count", "days", "ratio"]
Direction = Literal["maximize", "minimize"]


@dataclass(frozen=True)
class Totals:
    """One replication's books, summed over the horizon: what KPI formulas read.

    ``t[name]`` is a KPI computed so far (those above in the table), else the sum of the
    ledger's daily figure of that name (:data:`sim.ledger.DAILY`).
    """

    sums: Mapping[str, float]  # each daily figure of the ledger, summed over the horizon
    buyers: float  # visitors who bought at least once
    cumulative_cash: np.ndarray  # one value per day
    kpis: dict[str, float] = field(default_factory=dict)  # filled by compute(), in order

    def __getitem__(self, name: str) -> float:
        """A KPI computed so far, else a daily figure's sum."""
        return self.kpis[name] if name in self.kpis else self.sums[name]


Formula = Callable[[Totals], float]


@dataclass(frozen=True)
class Kpi:
    """One KPI: its formula, how it is shown, and how the reports and optimizer use it."""

    formula: Formula
    unit: Unit
    label: str  # as the economics table and the report's cards show it
    headline: int | None = None  # its place among the headline figures (1 first), or None
    key_figure: int | None = None  # its place among the optimizer's key figures, or None
    optimizable: bool = True  # may be an objective or a constraint of ``sim optimize``
    direction: Direction | None = None  # which way is better, where one is


def _ratio(num: float, den: float) -> float:
    """``num / den``, NaN where the denominator is not positive (an undefined KPI)."""
    return num / den if den > 0 else math.nan


def payback_day(cumulative_cash: np.ndarray) -> float:
    """First day whose cumulative cash is ≥ 0; infinity if it never is.

    Examples:
        >>> payback_day(np.array([-5.0, -1.0, 2.0])), payback_day(np.array([-1.0]))
        (2.0, inf)
    """
    hits = np.flatnonzero(cumulative_cash >= 0)
    return float(hits[0]) if hits.size else math.inf


def _sum(name: str) -> Formula:
    return lambda t: t[name]


def _per(num: str, den: str) -> Formula:
    return lambda t: _ratio(t[num], t[den])


def _value(name: str) -> Formula:
    """A discounted figure of :func:`sim.tail.present_values` (NaN where none was given)."""
    return lambda t: t.sums.get(name, math.nan)


# In the order the economics table shows them.
KPIS: dict[str, Kpi] = {
    "visitors": Kpi(_sum("visitors"), "count", "visitors", direction="maximize"),
    "leads": Kpi(_sum("leads"), "count", "leads", direction="maximize"),
    "buyers": Kpi(lambda t: t.buyers, "count", "buyers", key_figure=3, direction="maximize"),
    "orders": Kpi(_sum("orders"), "count", "orders", direction="maximize"),
    "revenue": Kpi(
        _sum("revenue"), "money", "revenue", headline=2, key_figure=2, direction="maximize"
    ),
    "refunds": Kpi(_sum("refunds"), "money", "refunds", direction="minimize"),
    "traffic_spend": Kpi(_sum("spend"), "money", "traffic spend"),
    "other_costs": Kpi(
        lambda t: t["cogs"] + t["fees"] + t["operating"],
        "money",
        "other costs",
        direction="minimize",
    ),
    "gross_profit": Kpi(
        lambda t: t["revenue"] - t["refunds"] - t["cogs"] - t["fees"],
        "money",
        "gross profit",
        headline=3,
        direction="maximize",
    ),
    "profit": Kpi(
        lambda t: t["revenue"] - t["refunds"] - t["spend"] - t["other_costs"],
        "money",
        "profit",
        headline=1,
        key_figure=1,
        direction="maximize",
    ),
    "cr1": Kpi(_per("leads", "visitors"), "share", "CR1 (leads / visitors)", direction="maximize"),
    "cr2": Kpi(_per("buyers", "leads"), "share", "CR2 (buyers / leads)", direction="maximize"),
    "cpl": Kpi(_per("spend", "leads"), "money", "CPL (spend / lead)", direction="minimize"),
    "cac": Kpi(
        _per("spend", "buyers"),
        "money",
        "CAC (spend / buyer)",
        headline=5,
        key_figure=4,
        direction="minimize",
    ),
    "aov": Kpi(_per("revenue", "orders"), "money", "AOV (revenue / order)", direction="maximize"),
    "ltv": Kpi(
        _per("gross_profit", "buyers"),
        "money",
        "LTV (gross profit / buyer)",
        key_figure=5,
        direction="maximize",
    ),
    "roas": Kpi(_per("revenue", "spend"), "ratio", "ROAS (revenue / spend)", direction="maximize"),
    "poas": Kpi(
        _per("gross_profit", "spend"),
        "ratio",
        "POAS (gross profit / spend)",
        headline=4,
        key_figure=6,
        direction="maximize",
    ),
    "payback_day": Kpi(
        lambda t: payback_day(t.cumulative_cash),
        "days",
        "payback day",
        headline=6,
        key_figure=7,
        direction="minimize",
    ),
    "ltv_cac": Kpi(_per("ltv", "cac"), "ratio", "LTV / CAC", direction="maximize"),
    "profit_per_visitor": Kpi(
        _per("profit", "visitors"), "money", "profit per visitor", direction="maximize"
    ),
    # --- value still to come (docs/model.md §5.1): discounted, and past the horizon ---
    "npv": Kpi(_value("npv"), "money", "NPV (discounted cash)", direction="maximize"),
    "ltv_discounted": Kpi(
        lambda t: _ratio(_value("gross_profit_pv")(t), t["buyers"]),
        "money",
        "discounted LTV",
        direction="maximize",
    ),
    "tail_value": Kpi(_value("tail_value"), "money", "value still to come", direction="maximize"),
    "ltv_with_tail": Kpi(
        lambda t: _ratio(_value("gross_profit_pv")(t) + t["tail_value"], t["buyers"]),
        "money",
        "LTV with value to come",
        direction="maximize",
    ),
}


def compute(
    sums: Mapping[str, float], *, buyers: float, cumulative_cash: np.ndarray
) -> dict[str, float]:
    """Every KPI of one replication, in table order (NaN where a denominator is 0).

    Args:
        sums: each daily figure of the ledger, summed over the horizon.
        buyers: visitors who bought at least once.
        cumulative_cash: the cumulative cash, one value per day.
    """
    totals = Totals(sums, buyers, cumulative_cash)
    for name, kpi in KPIS.items():
        totals.kpis[name] = kpi.formula(totals)
    return totals.kpis


def headline() -> list[str]:
    """The headline figures (the run report's cards), in their order."""
    return _placed("headline")


def key_figures() -> list[str]:
    """What the optimizer reports of every design besides its objectives, in order."""
    return _placed("key_figure")


def optimizable() -> list[str]:
    """The KPIs ``sim optimize`` may maximize, minimize or constrain, in table order."""
    return [name for name, kpi in KPIS.items() if kpi.optimizable]


def _placed(place: Literal["headline", "key_figure"]) -> list[str]:
    ranks = {name: getattr(kpi, place) for name, kpi in KPIS.items()}
    placed = {name: rank for name, rank in ranks.items() if rank is not None}
    return sorted(placed, key=placed.__getitem__)  # stable: a tie keeps the table's order
