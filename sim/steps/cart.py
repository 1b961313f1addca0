"""Cart: the checkout of an offer, which some would-be buyers leave; reminders win some back.

``offer`` names the offer whose checkout this is. Of those who would buy it, a share
``abandon_rate`` start checking out and leave: they are no buyers and make no order. Each
reminder goes, ``after_hours`` hours after the checkout, to the subscribed leads among them
who have not bought the offer since, and wins back a share ``recover_rate`` of them; a
recovered cart is a purchase of the offer at its price, booked as the offer's sale.

The engine steps in days: a checkout happens at hour 0 of its day, so a reminder ``h``
hours later acts on day ``floor(h / 24)`` after it (reminders at 1 and 23 hours act the
same day as the checkout, one after the other). docs/model.md §3.12.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, ClassVar, Literal

import numpy as np
from pydantic import Field

from sim.spec import MAX_DAYS, Amount, Name, Number, Rate, Spec, StepSpec
from sim.steps._base import CompileContext, IntArray, Trigger
from sim.steps._kind import Event, Reference, StepKind, one_of
from sim.steps._record import record_of
from sim.steps._selling import ABANDONED, CART_LEFT
from sim.steps.offer import CompiledOffer

if TYPE_CHECKING:
    from sim.model import FunnelModel

Hours = Annotated[Number, Field(ge=0, le=24 * MAX_DAYS)]


class CartReminder(Spec):
    """One reminder: sent ``after_hours`` after the checkout; wins back ``recover_rate``."""

    after_hours: Hours
    recover_rate: Rate


class Cart(StepSpec):
    """The checkout of ``offer``: abandoned by a share of its would-be buyers, then reminders."""

    type: Literal["cart"]
    offer: Name
    abandon_rate: Rate
    reminders: list[CartReminder] = []
    cost_per_reminder: Amount = 0.0


@dataclass(frozen=True)
class CompiledCart:
    """Due on the day of each abandoned checkout and on each day a reminder is sent.

    Reached counts abandoned carts, converted counts recovered ones.
    """

    id: str
    index: int
    trigger: Trigger
    offer: str
    reminder_days: tuple[int, ...]  # each reminder's day after the checkout, in order
    recover_rates: tuple[float, ...]
    cost_per_reminder: float
    kind: str = "cart"
    recalls_itself: ClassVar[bool] = True  # it counts how many times each cart came due

    def apply(self, model: FunnelModel, who: IntArray) -> None:
        """Count today's abandoned carts and send the reminders due today."""
        record = record_of(model)
        # the how-many-th time the cart is due for each: the index of today's delay
        visit = record.times(self.index, "due", who).astype(np.int64)
        record.add(self.index, "due", who)
        model.ledger.tally("reached", self.index, who[visit == 0])
        today = np.asarray(self.trigger.delays)[np.minimum(visit, len(self.trigger.delays) - 1)]
        for k, day in enumerate(self.reminder_days):
            self._remind(model, k, who[today == day])

    def _remind(self, model: FunnelModel, k: int, who: IntArray) -> None:
        """Send reminder ``k`` to those of ``who`` still to buy, and sell to who comes back."""
        pop = model.population
        offer = _sale_of(model, self.offer)
        holds = (pop.bought[who] >> np.uint64(offer.bit)) & np.uint64(1) == 1
        who = who[pop.subscribed[who] & ~holds]
        if who.size == 0:
            return
        model.ledger.cost_each(
            "acquisition", model.day, self.cost_per_reminder, who, step=self.index
        )
        model.ledger.tally("reminders", self.index, who)
        if model.log is not None:
            model.log.add(who, model.day, self.index, "cart_reminder")
        back = who[model.uniforms(self.index, "recover", who, draw=k) < self.recover_rates[k]]
        model.ledger.tally("converted", self.index, back)
        if model.log is not None:  # who comes back sees the offer again, in the cart
            model.log.add(back, model.day, offer.index, "shown", offer.pitch.price)
        offer.sell_to(model, back)


def _sale_of(model: FunnelModel, step_id: str) -> CompiledOffer:
    """The compiled offer named ``step_id`` (its price, cogs, refunds and bit)."""
    found = next(s for s in model.compiled.steps if s.id == step_id and s.kind == "offer")
    assert isinstance(found, CompiledOffer)
    return found


def compile_step(spec: Cart, ctx: CompileContext) -> CompiledCart:
    """Compile a ``cart``: due on the checkout's day and on each reminder's day."""
    reminders = sorted(spec.reminders, key=lambda r: r.after_hours)
    days = tuple(int(r.after_hours // 24) for r in reminders)
    return CompiledCart(
        id=spec.id,
        index=ctx.step_index[spec.id],
        trigger=Trigger(ABANDONED, spec.offer, tuple(sorted({0, *days}))),
        offer=spec.offer,
        reminder_days=days,
        recover_rates=tuple(float(r.recover_rate) for r in reminders),
        cost_per_reminder=spec.cost_per_reminder,
    )


def _references(spec: Cart) -> Iterator[Reference]:
    yield Reference(("offer",), spec.offer, one_of("offer"))


def _checks_out(spec: Cart) -> tuple[str, float]:
    return spec.offer, float(spec.abandon_rate)


def _at_checkout(spec: Cart) -> tuple[str, str]:
    return "offer", spec.offer


KIND = StepKind(
    name="cart",
    spec=Cart,
    compile=compile_step,
    references=_references,
    trigger=_at_checkout,
    checkout=_checks_out,
    figures=("reminders",),
    events=(CART_LEFT, Event("cart_reminder", 61, "sent a cart reminder")),
    label="abandoned carts → recovered",
)
