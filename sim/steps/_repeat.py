"""Repeat purchases after a first purchase of an offer (BG/NBD counts, Gamma-Gamma values)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from sim.behavior import Draw, order_values, repeat_purchases
from sim.spec import Repeat
from sim.steps._base import IntArray
from sim.steps._kind import Event

if TYPE_CHECKING:
    from sim.model import FunnelModel

REPEAT = Event("repeat", 13, "ordered again", paid=True)


@dataclass(frozen=True)
class CompiledRepeat:
    """The repeat process of one offer's buyers (docs/model.md §3.7)."""

    r: float
    alpha: float
    a: float
    b: float
    spend: tuple[float, float, float] | None  # Gamma-Gamma (p, q, gamma); None: the price
    price: float
    cogs_share: float

    @classmethod
    def compile(cls, spec: Repeat | None, price: float, cogs: float) -> CompiledRepeat | None:
        """An offer's ``repeat:``, if it has one; COGS default to the offer's share."""
        if spec is None:
            return None
        share = spec.cogs_share
        if share is None:
            share = cogs / price if price > 0 else 0.0
        spend = None if spec.spend is None else (spec.spend.p, spec.spend.q, spec.spend.gamma)
        return cls(spec.r, spec.alpha, spec.a, spec.b, spend, price, min(share, 1.0))


def book_repeats(model: FunnelModel, step: int, repeat: CompiledRepeat, buyers: IntArray) -> None:
    """Draw today's buyers' repeat orders over the rest of the horizon, and book them.

    Like renewals, the orders are drawn now and booked on the days they fall on: the same
    law as deciding day by day, since nothing else in the model changes the process.
    """
    n = buyers.size
    if n == 0:
        return
    ledger, day = model.ledger, model.day
    window = np.full(n, float(ledger.horizon - day))

    def draw(purpose: str) -> Draw:
        return lambda k, who: model.uniforms(step, purpose, buyers[who], k)

    customer, when, rank = repeat_purchases(
        draw("repeat"), window, repeat.r, repeat.alpha, repeat.a, repeat.b
    )
    if customer.size == 0:
        return
    if repeat.spend is None:
        amount = np.full(customer.size, repeat.price)
    else:
        amount = order_values(draw("spend"), customer, rank, n, *repeat.spend)
    days = day + when.astype(np.int64)  # all within the horizon: the window ends there
    who = buyers[customer]
    ledger.repeat_orders(step, who, amount, days, repeat.cogs_share)
    model.population.revenue[buyers] += np.bincount(customer, amount, minlength=n)
    if model.log is not None:
        model.log.add(who, days, step, "repeat", amount)
