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
    """Book today's purchases, one per visitor in ``who``: revenue, fees, COGS, commissions.

    ``amount`` is one price for all, or one per buyer (deals of different sizes).
    ``new_orders`` is False for an order bump, whose amount joins its parent's order rather
    than making one of its own.
    """
    if who.size == 0:
        return
    ledger, pop, c, day = model.ledger, model.population, model.compiled, model.day
    n = who.size
    total = float(amount.sum()) if isinstance(amount, np.ndarray) else amount * n
    daily = ledger.daily
    daily["revenue"][day] += total
    daily["fees"][day] += total * c.payment_fee
    daily["cogs"][day] += cogs * n
    if new_orders:
        daily["orders"][day] += n
    if c.pays_commission:
        daily["spend"][day] += float(np.sum(amount * c.channel_commission[pop.channel[who]]))
    ledger.tally("revenue", step, total)
    pop.revenue[who] += amount


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

    ``who[i]`` pays ``renewals[i]`` times, on days ``today + k · period``, k = 1 … renewals[i].
    All joined the same day, so the payments due at renewal k are those of the subscribers
    with at least k renewals: counted per k rather than listed one by one.
    """
    most = int(renewals.max(initial=0))
    if most == 0:
        return
    ledger, pop, c = model.ledger, model.population, model.compiled
    payers = _at_least(renewals, most, None)  # payers[k-1]: subscribers paying renewal k
    days = model.day + period * np.arange(1, most + 1)
    daily = ledger.daily
    daily["revenue"][days] += price * payers
    daily["fees"][days] += price * payers * c.payment_fee
    daily["cogs"][days] += cogs * payers
    daily["orders"][days] += payers
    if c.pays_commission:
        commission = c.channel_commission[pop.channel[who]]
        daily["spend"][days] += price * _at_least(renewals, most, commission)
    ledger.tally("revenue", step, price * float(renewals.sum()))
    pop.revenue[who] += price * renewals


def _at_least(counts: IntArray, most: int, weights: FloatArray | None) -> FloatArray:
    """For k = 1 … most: how many (or how much weight) of ``counts`` are ≥ k."""
    per_count = np.bincount(counts, weights, minlength=most + 1)
    return np.cumsum(per_count[::-1])[::-1][1:]


def schedule_refunds(
    model: FunnelModel,
    step: int,
    buyers: IntArray,
    price: float | FloatArray,
    rate: float,
    within: int,
) -> None:
    """Refund a share ``rate`` of today's buyers, each on a day uniform in 1..within later.

    ``price`` is what each paid: one amount for all, or one per buyer.
    """
    if rate <= 0 or buyers.size == 0:
        return
    rng = model.dice(step)
    chosen = rng.random(buyers.size) < rate
    refunded = buyers[chosen]
    days = model.day + rng.integers(1, within + 1, size=refunded.size)
    inside = days < model.ledger.horizon
    refunded, days = refunded[inside], days[inside]
    if isinstance(price, np.ndarray):
        price = price[chosen][inside]
        total = float(price.sum())
    else:
        total = price * refunded.size
    model.ledger.add_on_days("refunds", days, price)
    model.ledger.tally("refunds", step, total)
    model.ledger.tally("refunded", step, refunded.size)
    if model.log is not None:
        model.log.add(refunded, days, step, "refund", price)
