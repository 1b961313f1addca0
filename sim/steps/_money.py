"""Payments and refunds, shared by every kind that sells."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sim.steps._base import FloatArray, IntArray

if TYPE_CHECKING:
    from sim.model import FunnelModel


def take_payments(
    model: FunnelModel,
    step: int,
    who: IntArray,
    days: IntArray | int,
    amount: FloatArray | float,
    cogs: float,
    *,
    new_orders: bool,
) -> None:
    """Book one payment per entry of ``who`` on ``days``: revenue, fees, COGS, commissions.

    Payments on days past the horizon are not booked. ``new_orders`` is False for an order
    bump, whose amount joins its parent's order rather than making one of its own.
    """
    if who.size == 0:
        return
    if np.ndim(days) == 0:
        _book_one_day(model, step, who, int(days), amount, cogs, new_orders=new_orders)
        return
    ledger, pop, c = model.ledger, model.population, model.compiled
    days = np.asarray(days, dtype=np.int64)
    inside = days < ledger.horizon
    who, days = who[inside], days[inside]
    amounts = np.broadcast_to(np.asarray(amount, dtype=float), inside.shape)[inside]
    revenue = np.bincount(days, amounts, minlength=ledger.horizon)
    count = np.bincount(days, minlength=ledger.horizon)
    daily = ledger.daily
    daily["revenue"] += revenue
    daily["fees"] += revenue * c.payment_fee
    daily["cogs"] += count * cogs
    if new_orders:
        daily["orders"] += count
    commission = c.channel_commission[pop.channel[who]]
    if commission.any():
        ledger.add_on_days("spend", days, amounts * commission)
    ledger.tally("revenue", step, float(amounts.sum()))
    np.add.at(pop.revenue, who, amounts)  # a subscriber pays several times


def _book_one_day(
    model: FunnelModel,
    step: int,
    who: IntArray,
    day: int,
    amount: FloatArray | float,
    cogs: float,
    *,
    new_orders: bool,
) -> None:
    """The common case: today's purchases, each visitor once; plain sums, no binning."""
    ledger, pop, c = model.ledger, model.population, model.compiled
    n = who.size
    total = float(amount) * n if np.ndim(amount) == 0 else float(np.sum(amount))
    daily = ledger.daily
    daily["revenue"][day] += total
    daily["fees"][day] += total * c.payment_fee
    daily["cogs"][day] += cogs * n
    if new_orders:
        daily["orders"][day] += n
    if c.channel_commission.any():
        daily["spend"][day] += float(np.sum(amount * c.channel_commission[pop.channel[who]]))
    ledger.tally("revenue", step, total)
    pop.revenue[who] += amount


def schedule_refunds(
    model: FunnelModel, step: int, buyers: IntArray, price: float, rate: float, within: int
) -> None:
    """Refund a share ``rate`` of today's buyers, each on a day uniform in 1..within later."""
    if rate <= 0 or buyers.size == 0:
        return
    rng = model.rng
    refunded = buyers[rng.random(buyers.size) < rate]
    days = model.day + rng.integers(1, within + 1, size=refunded.size)
    inside = days < model.ledger.horizon
    refunded, days = refunded[inside], days[inside]
    model.ledger.add_on_days("refunds", days, price)
    model.ledger.tally("refunds", step, price * refunded.size)
    model.ledger.tally("refunded", step, refunded.size)
    if model.log is not None:
        model.log.add(refunded, days, step, "refund", price)
