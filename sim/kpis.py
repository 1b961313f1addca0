"""The one table of KPIs: what each is, how it is computed, shown and used (docs/model.md §5).

Every place that lists KPIs reads :data:`KPIS`: the replication's figures
(:func:`compute`), the economics table, ``summary.json``, the run report's cards and
economics table, ``sim compare``, the optimizer's objectives, constraints and report.
Adding a KPI is one entry here, placed where the economics table should show it; a
formula may use the KPIs above it.

Examples:
    >>> KPIS["cac"].label, KPIS["cac"].unit
    ('CAC (traffic + selling / buyer)', 'money')
    >>> headline()[:3]
    ['profit', 'profitable', 'cash_low']
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from numpy.typing import NDArray

Unit = Literal["money", "share", "count", "days", "ratio"]
Direction = Literal["maximize", "minimize"]
# A KPI's part in the economics lines that add up to profit: money in, money out, or the
# total of the lines above it (gross profit, profit).
Line = Literal["in", "out", "total"]
FloatArray = NDArray[np.float64]
# A figure of one replication (a plain number), or of each replication of a batch (an array).
Value = float | FloatArray


@dataclass(frozen=True)
class Totals:
    """One replication's books, or a batch's, summed over the horizon: what formulas read.

    ``t[name]`` is a KPI computed so far (those above in the table), else the sum of the
    ledger's daily figure or cost line of that name (:data:`sim.ledger.DAILY`,
    :data:`sim.ledger.COST_LINES`), summed over the horizon. For a batch every figure is
    an array, one value per replication, and a formula computes its KPI for all at once:
    numpy's elementwise arithmetic is that of plain numbers, so each replication's value
    is the one it has alone.
    """

    sums: Mapping[str, Value]  # each daily figure and cost line of the ledger, summed
    buyers: Value  # visitors who bought at least once
    cumulative_cash: FloatArray  # one value per day (a batch's: replications × days)
    kpis: dict[str, Value] = field(default_factory=dict)  # filled by compute(), in order

    def __getitem__(self, name: str) -> Value:
        """A KPI computed so far, else a daily figure's sum."""
        return self.kpis[name] if name in self.kpis else self.sums[name]


Formula = Callable[[Totals], Value]


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
    line: Line | None = None  # its part in the lines that add up to profit, if it is one


def _ratio(num: Value, den: Value) -> Value:
    """``num / den``, NaN where the denominator is not positive (an undefined KPI)."""
    if isinstance(den, np.ndarray):
        out: FloatArray = np.full(den.shape, math.nan)
        return np.divide(num, den, out=out, where=den > 0)
    return num / den if den > 0 else math.nan


def _positive(value: Value) -> Value:
    """1.0 where ``value`` is above 0, else 0.0."""
    return (value > 0).astype(float) if isinstance(value, np.ndarray) else float(value > 0)


def payback_day(cumulative_cash: FloatArray) -> Value:
    """First day from which cumulative cash stays ≥ 0 to the end; infinity if it ends below.

    Touching zero does not count if the cash falls back below it later. One series gives
    a number; a batch's (one row per replication) one value per row.

    Examples:
        >>> payback_day(np.array([-5.0, -1.0, 2.0])), payback_day(np.array([-1.0]))
        (2.0, inf)
        >>> payback_day(np.array([-5.0, 1.0, -1.0, 3.0])), payback_day(np.array([1.0, -1.0]))
        (3.0, inf)
        >>> payback_day(np.array([[-5.0, 1.0], [1.0, 2.0]])).tolist()
        [1.0, 0.0]
    """
    rows = np.atleast_2d(cumulative_cash)
    days = rows.shape[1]
    if days == 0:
        day = np.full(rows.shape[0], math.inf)
    else:
        below = rows < 0
        after_last_below = days - np.argmax(below[:, ::-1], axis=1)
        day = np.where(below.any(axis=1), after_last_below, 0).astype(float)
        day = np.where(rows[:, -1] < 0, math.inf, day)
    return float(day[0]) if cumulative_cash.ndim == 1 else day


def cash_low(cumulative_cash: FloatArray) -> Value:
    """The lowest point of cumulative cash, counting the start (0): ``min(0, min cash)``.

    Minus the money the funnel needs before it pays for itself. One series gives a
    number; a batch's (one row per replication) one value per row.

    Examples:
        >>> cash_low(np.array([-5.0, -7.0, 2.0])), cash_low(np.array([1.0, 3.0]))
        (-7.0, 0.0)
    """
    rows = np.atleast_2d(cumulative_cash)
    lowest = rows.min(axis=1) if rows.shape[1] else np.zeros(rows.shape[0])
    low = np.where(lowest < 0.0, lowest, 0.0)  # as min(0.0, lowest): 0.0 for NaN
    return float(low[0]) if cumulative_cash.ndim == 1 else low


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
    # --- the economics lines: every cost on one line, adding up to profit -----------------
    "revenue": Kpi(
        _sum("revenue"),
        "money",
        "revenue",
        headline=4,
        key_figure=2,
        direction="maximize",
        line="in",
    ),
    "refunds": Kpi(_sum("refunds"), "money", "refunds", direction="minimize", line="out"),
    "cogs": Kpi(_sum("cogs"), "money", "cost of goods", direction="minimize", line="out"),
    "fees": Kpi(_sum("fees"), "money", "payment fees", direction="minimize", line="out"),
    "gross_profit": Kpi(
        lambda t: t["revenue"] - t["refunds"] - t["cogs"] - t["fees"],
        "money",
        "gross profit",
        headline=5,
        direction="maximize",
        line="total",
    ),
    "traffic_spend": Kpi(_sum("traffic"), "money", "traffic", line="out"),
    "acquisition": Kpi(_sum("acquisition"), "money", "acquisition & selling", line="out"),
    "fixed_costs": Kpi(_sum("fixed"), "money", "fixed costs", direction="minimize", line="out"),
    "profit": Kpi(
        # = gross_profit − traffic_spend − acquisition − fixed_costs; summed as the daily
        # cash is (``operating`` holds acquisition and fixed costs), to the same last digit
        lambda t: (
            t["revenue"] - t["refunds"] - t["spend"] - (t["cogs"] + t["fees"] + t["operating"])
        ),
        "money",
        "profit",
        headline=1,
        key_figure=1,
        direction="maximize",
        line="total",
    ),
    # --- break-even and risk, per replication --------------------------------------------
    "profitable": Kpi(
        lambda t: _positive(t["profit"]),
        "share",
        "chance of profit",
        headline=2,
        direction="maximize",
    ),
    "cash_low": Kpi(
        lambda t: cash_low(t.cumulative_cash),
        "money",
        "lowest cumulative cash",
        headline=3,
        direction="maximize",
    ),
    "cr1": Kpi(_per("leads", "visitors"), "share", "CR1 (leads / visitors)", direction="maximize"),
    "cr2": Kpi(_per("buyers", "leads"), "share", "CR2 (buyers / leads)", direction="maximize"),
    "cpl": Kpi(_per("spend", "leads"), "money", "CPL (traffic / lead)", direction="minimize"),
    "paid_cac": Kpi(
        _per("traffic_spend", "buyers"),
        "money",
        "paid CAC (traffic / buyer)",
        direction="minimize",
    ),
    "cac": Kpi(
        lambda t: _ratio(t["traffic_spend"] + t["acquisition"], t["buyers"]),
        "money",
        "CAC (traffic + selling / buyer)",
        headline=7,
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
    "roas": Kpi(
        _per("revenue", "spend"), "ratio", "ROAS (revenue / traffic)", direction="maximize"
    ),
    "poas": Kpi(
        _per("gross_profit", "spend"),
        "ratio",
        "POAS (gross profit / traffic)",
        headline=6,
        key_figure=6,
        direction="maximize",
    ),
    "payback_day": Kpi(
        lambda t: payback_day(t.cumulative_cash),
        "days",
        "payback day",
        headline=8,
        key_figure=7,
        direction="minimize",
    ),
    "ltv_cac": Kpi(_per("ltv", "cac"), "ratio", "LTV / CAC (fully loaded)", direction="maximize"),
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
    sums: Mapping[str, float], *, buyers: float, cumulative_cash: FloatArray
) -> dict[str, float]:
    """Every KPI of one replication, in table order (NaN where a denominator is 0).

    Args:
        sums: each daily figure of the ledger and each of its cost lines
            (:data:`sim.ledger.COST_LINES`), summed over the horizon.
        buyers: visitors who bought at least once.
        cumulative_cash: the cumulative cash, one value per day.
    """
    totals = Totals(sums, buyers, cumulative_cash)
    for name, kpi in KPIS.items():
        totals.kpis[name] = kpi.formula(totals)
    return totals.kpis  # type: ignore[return-value]  # plain numbers in, plain numbers out


def compute_each(
    sums: Mapping[str, Value], *, buyers: FloatArray, cumulative_cash: FloatArray
) -> list[dict[str, float]]:
    """Every KPI of each of several replications, computed for all at once, in table order.

    Each replication's KPIs are those :func:`compute` gives it alone, bit for bit.

    Args:
        sums: as :func:`compute`'s, one value per replication (or one for all).
        buyers: per replication, visitors who bought at least once.
        cumulative_cash: the cumulative cash, one row per replication, one column per day.

    Examples:
        >>> books = ("visitors", "leads", "orders", "revenue", "refunds", "cogs", "fees",
        ...          "spend", "operating", "traffic", "acquisition", "fixed")
        >>> sums = dict.fromkeys(books, np.zeros(2)) | {"revenue": np.array([3.0, 4.0]),
        ...                                             "orders": np.array([2.0, 0.0])}
        >>> two = compute_each(sums, buyers=np.ones(2), cumulative_cash=np.zeros((2, 1)))
        >>> [kpis["aov"] for kpis in two], [kpis["profit"] for kpis in two]
        ([1.5, nan], [3.0, 4.0])
    """
    totals = Totals(sums, buyers, cumulative_cash)
    columns = []
    for name, kpi in KPIS.items():
        value = np.asarray(kpi.formula(totals), dtype=float)
        if value.shape != buyers.shape:  # a formula may give one number for all
            value = np.broadcast_to(value, buyers.shape)
        totals.kpis[name] = value
        columns.append(value.tolist())
    return [dict(zip(totals.kpis, row, strict=True)) for row in zip(*columns, strict=True)]


def lines() -> list[str]:
    """The economics lines, in table order: each money in or out, and their totals."""
    return [name for name, kpi in KPIS.items() if kpi.line is not None]


def profit_formula() -> str:
    """How the lines make profit, as text: ``profit = revenue - refunds - ...``.

    Examples:
        >>> profit_formula()
        'profit = revenue - refunds - cogs - fees - traffic_spend - acquisition - fixed_costs'
    """
    terms = [("- " if KPIS[n].line == "out" else "") + n for n in lines()]
    kept = [t for t in terms if KPIS[t.removeprefix("- ")].line != "total"]
    return "profit = " + " ".join(kept)


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
