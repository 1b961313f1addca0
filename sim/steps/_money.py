"""Payments and refunds, shared by every kind that sells."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sim.steps._base import FloatArray, IntArray
from sim.steps._kind import Event

if TYPE_CHECKING:
    from sim.model import FunnelModel

REFUND = Event("refund", 9, "refunded", paid=True)
REFUND_FIGURES = ("refunds", "refunded")  # the step tallies of schedule_refunds


def take_payments(
    model: FunnelModel,
    step: int,
    who: IntArray,
    amount: float | FloatArray,
    cogs: float,
    *,
    new_orders: bool,
) -> None:
    """Book today's purchases, one per visitor in ``who`` (:meth:`sim.ledger.Ledger.sale`).

    ``amount`` is one price for all, or one per buyer (deals of different sizes).
    ``new_orders`` is False for an order bump, whose amount joins its parent's order rather
    than making one of its own.
    """
    if who.size == 0:
        return
    model.ledger.sale(step, who, amount, model.day, cogs=cogs, new_orders=new_orders)
    model.population.revenue[who] += amount


def take_renewals(
    model: FunnelModel,
    step: int,
    who: IntArray,
    renewals: IntArray,
    period: int,
    price: float,
    cogs: float,
) -> None:
    """Book the renewals of subscribers who joined today.

    ``who[i]`` pays ``renewals[i]`` times, on days ``today + k · period``, k = 1 … renewals[i]
    (all within the horizon).
    """
    model.ledger.renewals(step, who, renewals, model.day, period, price, cogs=cogs)
    model.population.revenue[who] += price * renewals


def schedule_refunds(
    model: FunnelModel,
    step: int,
    buyers: IntArray,
    price: float | FloatArray,
    rate: float,
    within: int,
) -> None:
    """Refund a share ``rate`` of today's buyers, each on a day uniform in 1..within later.

    ``price`` is what each paid: one amount for all, or one per buyer. Whether and when
    are each buyer's own draws, so they do not depend on how many others bought. The
    population keeps each refund's day: from then on the purchase no longer meets
    ``requires``, and the repeat orders and referred friends it would still bring are
    dropped (§3.3).
    """
    if rate <= 0 or buyers.size == 0:
        return
    chosen = model.uniforms(step, "refund", buyers) < rate
    refunded = buyers[chosen]
    wait = np.floor(model.uniforms(step, "refund", refunded, 1) * within).astype(np.int64)
    days = model.day + 1 + wait
    inside = days < model.ledger.horizon
    refunded, days = refunded[inside], days[inside]
    if isinstance(price, np.ndarray):
        price = price[chosen][inside]
    model.ledger.refund(step, refunded, price, days)
    model.population.refund(step, refunded, days)  # what the purchase led to stops there
    if model.log is not None:
        model.log.add(refunded, days, step, "refund", price)
