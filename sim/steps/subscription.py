"""Subscription: joined like an offer, billed every period until the subscriber churns."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np
from numpy.typing import NDArray

from sim.behavior import renewals_survived
from sim.spec import Amount, Churn, Days, Name, Triggered
from sim.steps._base import CompileContext, IntArray, Trigger
from sim.steps._email import EMAIL_EVENTS, EMAIL_TALLIES
from sim.steps._kind import Event, StepKind
from sim.steps._money import take_payments, take_renewals
from sim.steps._selling import DECLINE, SHOWN, Pitch, decide, show
from sim.steps.offer import follows_references
from sim.tail import one_renewals_to_come

if TYPE_CHECKING:
    from sim.model import FunnelModel


class Subscription(Triggered):
    """Joined like an offer; bills every period until churn."""

    type: Literal["subscription"]
    after: Name
    period_days: Days = 30
    first_price: Amount | None = None
    churn: Churn

    @property
    def first_payment(self) -> float:
        """The price of the first period (an intro price when one is set)."""
        return self.price if self.first_price is None else self.first_price


@dataclass(frozen=True)
class CompiledSubscription:
    """Joiners pay the first period now; each renewal they survive is billed later.

    The renewals a subscriber survives are drawn at joining (docs/model.md §3.4): the same
    law as a churn draw before each renewal, at a fraction of the cost. A joiner whose
    willingness to pay does not reach the renewal price (an intro price below it) pays
    no renewal: churned at renewal for the price.
    """

    id: str
    index: int
    bit: int
    trigger: Trigger
    pitch: Pitch
    price: float
    period: int
    churn_rate: float
    churn_shape: float
    cogs: float
    kind: str = "subscription"

    def apply(self, model: FunnelModel, who: IntArray) -> None:
        """Show the subscription; bill joiners for every period they stay within the horizon."""
        shown = show(model, self.index, self.pitch, who)
        joiners, decliners = decide(model, self.index, self.bit, self.pitch, shown)
        day, horizon = model.day, model.ledger.horizon
        take_payments(model, self.index, joiners, self.pitch.price, self.cogs, new_orders=True)
        survived = renewals_survived(
            model.uniforms(self.index, "churn", joiners), self.churn_rate, self.churn_shape
        )
        priced_out = self._priced_out(model, joiners)
        if priced_out is not None:
            survived[priced_out] = 0  # they leave at the first renewal
        billable = (horizon - 1 - day) // self.period  # renewals that fall inside the horizon
        renewals = np.minimum(survived, billable)
        take_renewals(model, self.index, joiners, renewals, self.period, self.price, self.cogs)
        churners = survived < billable
        ledger = model.ledger
        ledger.tally_each("payments", self.index, joiners, renewals + 1)
        ledger.people("subscribers", self.index, joiners)
        ledger.people("churned", self.index, joiners[churners])
        ledger.tally("active_at_end", self.index, joiners[~churners])
        staying = ~churners if priced_out is None else ~churners & ~priced_out
        self._expect_tail(model, billable, joiners[staying])
        if model.log is not None:
            if priced_out is None:
                priced_out = np.zeros(joiners.size, dtype=np.bool_)
            payer = np.repeat(joiners, renewals)
            k = np.arange(payer.size) - np.repeat(np.cumsum(renewals) - renewals, renewals) + 1
            model.log.add(joiners, day, self.index, "subscribe", self.pitch.price)
            model.log.add(payer, day + k * self.period, self.index, "renew", self.price)
            churn_days = day + (survived + 1) * self.period
            left = churners & ~priced_out
            model.log.add(joiners[left], churn_days[left], self.index, "churn")
            gone = churners & priced_out
            model.log.add(joiners[gone], churn_days[gone], self.index, "churn_price")
            model.log.add(decliners, day, self.index, "decline")
        model.emit("bought", self.id, joiners)
        model.emit("declined", self.id, decliners)

    def _expect_tail(self, model: FunnelModel, paid: int, active: IntArray) -> None:
        """Tally the gross profit today's joiners still subscribed at the end will bring.

        Each has paid the ``paid`` renewals within the horizon; the renewals to come are
        the churn law's, conditional on that (docs/model.md §5.1), less COGS and the fee.
        """
        if active.size == 0:
            return
        c = model.compiled
        renewals = one_renewals_to_come(
            model.day,
            paid,
            self.period,
            self.churn_rate,
            self.churn_shape,
            model.ledger.horizon,
            c.tail_days,
            c.discount_rate,
        )
        margin = self.price * (1.0 - c.payment_fee) - self.cogs
        model.ledger.tally_each("tail_value", self.index, active, renewals * margin)

    def _priced_out(self, model: FunnelModel, joiners: IntArray) -> NDArray[np.bool_] | None:
        """Joiners whose willingness to pay covers the first price but not the renewal price.

        ``wtp_scale · value < price`` (docs/model.md §3.4); nobody (None) unless an intro
        price is below the renewal price.
        """
        if self.price <= self.pitch.price:
            return None
        pop = model.population
        return pop.wtp_scale[joiners] * self.pitch.value[pop.segment[joiners]] < self.price


def compile_step(spec: Subscription, ctx: CompileContext) -> CompiledSubscription:
    """Compile a ``subscription`` step."""
    return CompiledSubscription(
        id=spec.id,
        index=ctx.step_index[spec.id],
        bit=ctx.bits[spec.id],
        trigger=Trigger(ctx.trigger_event(spec.after), spec.after, (spec.delay_days,)),
        pitch=Pitch.compile(spec, ctx, price=spec.first_payment),
        price=spec.price,
        period=spec.period_days,
        churn_rate=spec.churn.rate,
        churn_shape=spec.churn.shape,
        cogs=spec.cogs,
    )


KIND = StepKind(
    name="subscription",
    spec=Subscription,
    compile=compile_step,
    references=follows_references,
    sells=True,
    declinable=True,
    figures=("payments", "churned", "active_at_end"),
    tallies=(*EMAIL_TALLIES, "tail_value"),
    events=(
        *EMAIL_EVENTS,
        SHOWN,
        DECLINE,
        Event("subscribe", 10, "subscribed", paid=True),
        Event("renew", 11, "renewal paid", paid=True),
        Event("churn", 12, "churned"),
        Event("churn_price", 18, "churned at renewal: price"),
    ),
)
