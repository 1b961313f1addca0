"""KPIs of each replication, a batch's at once, and their summary (DESIGN §2, §4)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from sim import kpis
from sim.kpis import Value
from sim.ledger import COST_LINES, DAILY, Ledger
from sim.population import Population
from sim.steps import STEP_KINDS
from sim.steps._layers import daily_layers
from sim.tail import present_values

FloatArray = NDArray[np.float64]

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


def horizon_sums(ledger: Ledger) -> dict[str, Value]:
    """Each daily series and cost line of the books summed over the horizon.

    One replication's books give a number each, a batch's an array with one value per
    replication: each row summed on its own, the same sum, bit for bit, as alone.
    """
    books = ledger.daily | {line: ledger.lines[line] for line in COST_LINES}
    return {name: values.sum(axis=-1) for name, values in books.items()}


def replication_kpis(
    ledger: Ledger,
    sums: Mapping[str, Value],
    buyers: Sequence[int],
    daily: Mapping[str, FloatArray],
    *,
    discount_rate: float = 0.0,
) -> list[dict[str, float]]:
    """The KPIs of :data:`sim.kpis.KPIS` of each replication of the books.

    A batch's are computed for all its replications at once (:func:`sim.kpis.compute_each`).

    Args:
        ledger: the books of one replication or of a batch.
        sums: the books summed over the horizon (:func:`horizon_sums`).
        buyers: per replication, the visitors who bought at least once
            (:func:`buyers_per_replication`).
        daily: the daily series (:func:`daily_series`).
        discount_rate: the annual rate the present values are discounted at.
    """
    tallies = ledger.steps
    tail = tallies["tail_value"].sum(axis=-1) if "tail_value" in tallies else 0.0
    totals = {**sums, **present_values(daily, tail, discount_rate)}
    cash = daily["cumulative_cash"]
    if ledger.replications == 1:  # plain numbers: faster than arrays of one
        (one,) = replication_rows(totals, 1)
        return [kpis.compute(one, buyers=float(buyers[0]), cumulative_cash=cash)]
    return kpis.compute_each(totals, buyers=np.array(buyers, dtype=float), cumulative_cash=cash)


def buyers_per_replication(population: Population, replications: int) -> list[int]:
    """How many visitors of each replication of a batch bought at least once."""
    bought = population.column("bought") != 0
    if replications == 1:
        return [int(np.count_nonzero(bought))]
    rep = population.column("replication").compress(bought)  # faster than a mask's index
    return [int(n) for n in np.bincount(rep, minlength=replications)]


def daily_series(ledger: Ledger, layers: tuple[str, ...] = ()) -> dict[str, FloatArray]:
    """The daily series with costs, cash and cumulative cash, in daily.csv's column order.

    One replication's books give one value per day, a batch's one row per replication.
    With ``layers`` (their names), the leads in each layer at the end of each day follow.
    """
    d = {name: ledger.daily[name] for name in DAILY}
    costs = d["cogs"] + d["fees"] + d["operating"]
    cash = d["revenue"] - d["refunds"] - d["spend"] - costs
    days = np.arange(ledger.horizon)
    return {
        "day": days if ledger.replications == 1 else np.tile(days, (ledger.replications, 1)),
        **d,
        "costs": costs,
        "cash": cash,
        "cumulative_cash": np.cumsum(cash, axis=-1),
        **daily_layers(layers, ledger.daily),
    }


def step_tallies(ledger: Ledger, compiled: CompiledScenario) -> list[dict[str, dict[str, float]]]:
    """Per replication of the books, per step: reached, converted, revenue, and its kind's.

    A kind may derive figures of its own from these and one replication's books (a sales
    step's mean wait, and per rep of its team ``reps.NAME.calls``, ``closes``,
    ``close_rate``, …).
    """
    kinds = [STEP_KINDS[name] for name in compiled.step_kinds]
    shown = [
        (i, step_id, STEP_FIGURES + kind.figures)
        for i, (step_id, kind) in enumerate(zip(compiled.step_ids, kinds, strict=True))
    ]
    figures = set().union(*(names for _, _, names in shown))
    rows = {f: np.atleast_2d(ledger.steps[f]).tolist() for f in figures}  # replication, step
    out = [
        {step_id: {f: rows[f][r][i] for f in names} for i, step_id, names in shown}
        for r in range(ledger.replications)
    ]
    if any(kind.tally is not None for kind in kinds):
        for r, tallies in enumerate(out):
            _derive(ledger.replication(r), compiled, tallies)
    return out


def _derive(
    books: Ledger, compiled: CompiledScenario, tallies: dict[str, dict[str, float]]
) -> None:
    """Let each step's kind derive its own figures from its tallies and one replication's books."""
    for step in compiled.steps:
        derive = STEP_KINDS[compiled.step_kinds[step.index]].tally
        if derive is not None:
            step_id = compiled.step_ids[step.index]
            tallies[step_id] = derive(books, step, tallies[step_id])


def replication_rows(figures: Mapping[str, Value], replications: int) -> list[dict[str, float]]:
    """Figures of one replication (numbers) or of a batch (arrays), as plain numbers for each."""
    if replications == 1:
        return [{name: float(value) for name, value in figures.items()}]
    columns = [np.asarray(values).tolist() for values in figures.values()]
    return [dict(zip(figures, row, strict=True)) for row in zip(*columns, strict=True)]


def daily_rows(daily: dict[str, FloatArray], replications: int) -> list[dict[str, FloatArray]]:
    """The daily series of one replication, or of each of a batch (views of its rows)."""
    if replications == 1:
        return [daily]
    return [dict(zip(daily, rows, strict=True)) for rows in zip(*daily.values(), strict=True)]


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
