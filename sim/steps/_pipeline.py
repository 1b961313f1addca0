"""What the steps of a sales pipeline share: time in a stage, and a deal's owner and amount.

A deal's amount and its owner live on the visitor (``Population.deal`` and ``owner``): set
when a sales call opens the deal (or from a CSV of open deals), read by the stages the
owner works and by the payment that closes it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Annotated, Any

import numpy as np
from pydantic import Field

from sim._special import ndtr, ndtri
from sim.behavior import deal_values
from sim.spec import MAX_DAYS, MAX_SPREAD, Number, Spec
from sim.steps._base import FloatArray, IntArray
from sim.steps._kind import one_of

if TYPE_CHECKING:
    from sim.model import FunnelModel

# what `after:` of a stage or a payment may name: every step after which someone moves on
PIPELINE_FOLLOWS = one_of("optin", "offer", "subscription", "sales_call", "stage", "payment")


class StageTime(Spec):
    """Days a deal spends in a stage: lognormal with this median and spread, in whole days.

    ``spread`` is the sigma of the logarithm: ``e^spread`` is the factor by which a
    typical deal is faster or slower than the median (0: every deal takes the median).
    """

    median: Annotated[Number, Field(ge=0, le=MAX_DAYS)] = 0.0
    spread: Annotated[Number, Field(ge=0, le=MAX_SPREAD)] = 0.0


def days_in_stage(u: FloatArray, median: float, spread: float) -> IntArray:
    """Whole days in a stage: ``round(median · e^(spread · z))``, ``z = Φ⁻¹(u)``, at most a horizon.

    Examples:
        >>> days_in_stage(np.array([0.5, 0.975]), 10.0, 0.5).tolist()
        [10, 27]
        >>> days_in_stage(np.array([0.1, 0.9]), 7.0, 0.0).tolist()
        [7, 7]
    """
    if median <= 0:
        return np.zeros(u.size, dtype=np.int64)
    days = np.floor(median * np.exp(spread * ndtri(u)) + 0.5)
    return np.minimum(days, MAX_DAYS).astype(np.int64)


def deal_amounts(
    model: FunnelModel, step: int, who: IntArray, price: float, spread: float
) -> FloatArray:
    """Each deal's amount: the one it carries, else drawn around ``price`` (and kept)."""
    pop = model.population
    amount = pop.deal[who].copy()
    new = amount <= 0
    if new.any():
        amount[new] = deal_values(model.uniforms(step, "amount", who[new]), price, spread)
        pop.deal[who[new]] = amount[new]
    return amount


def days_left(u: FloatArray, median: float, spread: float, elapsed: IntArray) -> IntArray:
    """Days still to spend in a stage for deals already there ``elapsed`` days.

    The time in the stage is drawn given that it is at least ``elapsed``: the uniform is
    moved into the part of the law above ``elapsed − ½`` (a rounded time ``T ≥ elapsed``).

    Examples:
        >>> days_left(np.array([0.5]), 10.0, 0.0, np.array([4])).tolist()
        [6]
        >>> bool((days_left(np.full(3, 0.01), 10.0, 0.5, np.array([0, 20, 40])) >= 0).all())
        True
    """
    if median <= 0 or spread == 0:
        return np.asarray(np.maximum(days_in_stage(u, median, spread) - elapsed, 0), np.int64)
    floor = np.where(
        elapsed > 0, ndtr(np.log(np.maximum(elapsed - 0.5, 1e-300) / median) / spread), 0.0
    )
    moved = np.minimum(floor + u * (1 - floor), 1 - 1e-16)
    return np.asarray(np.maximum(days_in_stage(moved, median, spread) - elapsed, 0), np.int64)


PERIOD_DAYS = {"week": 7, "month": 30}


def forecast_terms(funnel: Sequence[Any]) -> dict[str, Any] | None:
    """What a pipeline's forecast needs from its steps, or None for a funnel without one.

    The quota and period (of the first payment step giving them), the deals a run opens
    (the sales steps of ``outcome: deal``), the payment steps, and the open deals carried
    in with their weighted value: each deal's amount times its chance to close as a CRM
    reckons it, the product of the rates of the stages from its own to the payment, times
    the share that pays (a rate given per segment counts as their mean).
    """
    payments = [s for s in funnel if s.type == "payment"]
    if not payments:
        return None
    quota = next((p for p in payments if p.quota is not None), payments[0])
    openers = [s for s in funnel if s.type == "sales_call" and s.outcome == "deal"]
    weighted, carried = 0.0, 0
    for step in openers:
        if step.open_deals is not None:
            for deal in step.open_deals.deals:
                weighted += deal.amount * _chance_from(funnel, deal.stage, deal.owner)
                carried += 1
    return {
        "quota": quota.quota,
        "period": quota.period,
        "openers": [s.id for s in openers],
        "payments": [s.id for s in payments],
        "carried": carried,
        "weighted": weighted if carried else None,
    }


def _chance_from(funnel: Sequence[Any], step_id: str, owner: str) -> float:
    """A CRM's chance that a deal in ``step_id`` closes: the rates from there to the money."""
    by_id = {s.id: s for s in funnel}
    chance, seen = 1.0, set()
    while step_id in by_id and step_id not in seen:
        seen.add(step_id)
        step = by_id[step_id]
        if step.type == "payment":
            return chance * (1 - float(step.never_pays))
        rate = step.rep_rates.get(owner, step.rate)
        chance *= float(np.mean(list(rate.values()))) if isinstance(rate, dict) else rate
        step_id = next(
            (s.id for s in funnel if s.type in ("stage", "payment") and s.after == step_id), ""
        )
    return 0.0  # a chain that never reaches a payment never closes


def rep_figures(
    reps: Mapping[int, dict[str, FloatArray]], step: int, names: Sequence[str]
) -> dict[str, float]:
    """Per rep of step ``step``'s team: calls, closes, close rate and revenue, ``reps.NAME.figure``.

    ``reps`` is the books' per-rep tallies by step (none booked: no figures). With a
    ``days_to_close`` tally, also each rep's mean days to close.
    """
    out: dict[str, float] = {}
    tallies = reps.get(step)
    if tallies is None:
        return out
    for i, name in enumerate(names):
        calls, closes = float(tallies["calls"][i]), float(tallies["closes"][i])
        out[f"reps.{name}.calls"] = calls
        out[f"reps.{name}.closes"] = closes
        out[f"reps.{name}.close_rate"] = closes / calls if calls > 0 else math.nan
        out[f"reps.{name}.revenue"] = float(tallies["revenue"][i])
        if "days_to_close" in tallies:
            days = float(tallies["days_to_close"][i])
            out[f"reps.{name}.days_to_close"] = days / closes if closes > 0 else math.nan
    return out
