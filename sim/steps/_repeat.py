"""Repeat purchases after a first purchase of an offer (BG/NBD counts, Gamma-Gamma values)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from sim.behavior import Draw, order_values, repeat_purchases
from sim.spec import Repeat
from sim.steps._base import FloatArray, IntArray
from sim.steps._kind import Event
from sim.tail import order_value_to_come, repeats_to_come

if TYPE_CHECKING:
    from sim.model import FunnelModel

REPEAT = Event("repeat", 13, "ordered again", paid=True)
REPEAT_TALLIES = ("tail_value",)  # the gross profit expected after the horizon


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
    A buyer whose purchase is refunded places no repeat order from the refund day on.
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
        _expect_tail(model, step, repeat, buyers, window, customer, when, np.empty(0))
        return
    if repeat.spend is None:
        amount = np.full(customer.size, repeat.price)
    else:
        amount = order_values(draw("spend"), customer, rank, n, *repeat.spend)
    _expect_tail(model, step, repeat, buyers, window, customer, when, amount)
    days = day + when.astype(np.int64)  # all within the horizon: the window ends there
    kept = model.population.kept(step, buyers[customer], days)  # none after a refund
    if not kept.all():
        customer, days, amount = customer[kept], days[kept], amount[kept]
    who = buyers[customer]
    ledger.repeat_orders(step, who, amount, days, repeat.cogs_share)
    model.population.revenue[buyers] += np.bincount(customer, amount, minlength=n)
    if model.log is not None:
        model.log.add(who, days, step, "repeat", amount)


def _expect_tail(
    model: FunnelModel,
    step: int,
    repeat: CompiledRepeat,
    buyers: IntArray,
    window: FloatArray,
    customer: IntArray,
    when: FloatArray,
    amount: FloatArray,
) -> None:
    """Tally the gross profit today's buyers' orders are expected to bring after the horizon.

    BG/NBD's conditional expectation given each buyer's repeat orders within the horizon
    (how many, the time of the last), times the expected value of an order (Gamma-Gamma
    given the buyer's own orders, or the price), less COGS and the payment fee; none for a
    buyer refunded within the horizon (docs/model.md §5.1).
    """
    n, c = buyers.size, model.compiled
    x = np.bincount(customer, minlength=n).astype(float)
    last = np.zeros(n)
    np.maximum.at(last, customer, when)
    orders = repeats_to_come(
        x,
        last,
        window,
        repeat.r,
        repeat.alpha,
        repeat.a,
        repeat.b,
        horizon=model.ledger.horizon,
        tail_days=c.tail_days,
        annual_rate=c.discount_rate,
    )
    if repeat.spend is None:
        value = np.full(n, repeat.price)
    else:
        spent = np.bincount(customer, amount, minlength=n)
        value = order_value_to_come(x, spent, *repeat.spend)
    margin = value * (1.0 - repeat.cogs_share - c.payment_fee)
    stands = model.population.kept(step, buyers, model.ledger.horizon)
    model.ledger.tally_each("tail_value", step, buyers, orders * margin * stands)
