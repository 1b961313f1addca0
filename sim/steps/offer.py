"""Offer: something sold once, shown after opt-in, a purchase, or a decline (a downsell)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from pydantic import model_validator

from sim.spec import Name, Referral, Refund, Repeat, Triggered
from sim.steps._base import CompileContext, IntArray, Trigger
from sim.steps._email import EMAIL_EVENTS, EMAIL_TALLIES
from sim.steps._kind import Reference, StepKind, one_of, shared_references
from sim.steps._money import REFUND, REFUND_FIGURES, schedule_refunds, take_payments
from sim.steps._record import record_of
from sim.steps._referral import CompiledReferral, refer
from sim.steps._repeat import REPEAT, REPEAT_TALLIES, CompiledRepeat, book_repeats
from sim.steps._selling import BUY, CART_LEFT, DECLINE, SHOWN, Pitch, decide, show, sold
from sim.steps._triggers import After, Gate, after_reference, compile_after

if TYPE_CHECKING:
    from sim.model import FunnelModel


class Offer(Triggered):
    """Something sold, shown ``delay_days`` after its trigger."""

    type: Literal["offer"]
    after: Name | After | None = None  # type: ignore[assignment]  # also a split on behaviour
    on_decline: Name | None = None
    refund: Refund = Refund()
    referral: Referral | None = None
    repeat: Repeat | None = None
    to_layer: Name | None = None  # shown only to the leads in this layer on its day

    @model_validator(mode="after")
    def _one_trigger(self) -> Offer:
        if (self.after is None) == (self.on_decline is None):
            raise ValueError(
                "an offer needs exactly one trigger: `after` (a step reached or bought) "
                "or `on_decline` (an offer declined)"
            )
        return self


# what `after:` of an offer, a subscription or a sales call may name
FOLLOWS = one_of("optin", "offer", "subscription", "sales_call", "stage", "payment")
# what selling the usual way writes to the event log
SALE_EVENTS = (SHOWN, BUY, DECLINE, REFUND)


@dataclass(frozen=True)
class CompiledOffer:
    """Shown to the visitors due today; buyers pay once and may be refunded later.

    ``new_orders`` is False for an order bump, whose amount joins its parent's order.
    """

    id: str
    index: int
    bit: int
    trigger: Trigger
    pitch: Pitch
    cogs: float
    refund_rate: float
    refund_within: int
    new_orders: bool = True
    kind: str = "offer"
    referral: CompiledReferral | None = None
    repeat: CompiledRepeat | None = None
    gate: Gate | None = None  # its split on behaviour, if it follows one
    abandon_rate: float = 0.0  # of its would-be buyers, at a cart's checkout

    def apply(self, model: FunnelModel, who: IntArray) -> None:
        """Show the offer, book the purchases, and tell the steps that follow."""
        record_of(model).add(self.index, "due", who)
        shown = show(model, self.index, self.pitch, who)
        buyers, decliners = decide(
            model,
            self.index,
            self.bit,
            self.pitch,
            shown,
            scenario_referral=self.referral is None,  # an offer's own referral replaces it
            abandon=(self.id, self.abandon_rate) if self.abandon_rate > 0 else None,
        )
        self.book(model, buyers)
        if model.log is not None:
            model.log.add(decliners, model.day, self.index, "decline")
        record_of(model).add(self.index, "declined", decliners)
        model.emit("declined", self.id, decliners)

    def sell_to(self, model: FunnelModel, buyers: IntArray) -> None:
        """Sell the offer today to ``buyers`` who decided elsewhere (carts won back)."""
        sold(
            model, self.index, self.bit, self.pitch, buyers, scenario_referral=self.referral is None
        )
        self.book(model, buyers)

    def book(self, model: FunnelModel, buyers: IntArray) -> None:
        """Book today's purchases of ``buyers`` and tell the steps that follow."""
        take_payments(
            model,
            self.index,
            buyers,
            self.pitch.price,
            self.cogs,
            new_orders=self.new_orders,
        )
        schedule_refunds(
            model, self.index, buyers, self.pitch.price, self.refund_rate, self.refund_within
        )
        if model.log is not None:
            model.log.add(buyers, model.day, self.index, "buy", self.pitch.price)
        if self.referral is not None:
            refer(model, self.index, self.referral, buyers)
        if self.repeat is not None:
            book_repeats(model, self.index, self.repeat, buyers)
        model.emit("bought", self.id, buyers)


def compile_step(spec: Offer, ctx: CompileContext) -> CompiledOffer:
    """Compile an ``offer`` step."""
    gate = None
    if spec.on_decline is not None:
        trigger = Trigger("declined", spec.on_decline, (spec.delay_days,))
    else:
        assert spec.after is not None  # the schema requires one of the two
        trigger, gate = compile_after(spec.id, spec.after, (spec.delay_days,), ctx)
    return compile_sale(
        spec,
        ctx,
        trigger,
        referral=CompiledReferral.compile(spec.referral, ctx),
        repeat=CompiledRepeat.compile(spec.repeat, spec.price, spec.cogs),
        gate=gate,
    )


def compile_sale(spec: Any, ctx: CompileContext, trigger: Trigger, **more: Any) -> CompiledOffer:
    """A one-time sale from any spec with price, value, take, cogs and refund.

    Offers, order bumps and win-backs all sell this way; ``more`` sets the fields that
    differ (``new_orders``, ``kind``, ``referral``, ``repeat``).
    """
    return CompiledOffer(
        id=spec.id,
        index=ctx.step_index[spec.id],
        bit=ctx.bits[spec.id],
        trigger=trigger,
        pitch=Pitch.compile(spec, ctx),
        cogs=spec.cogs,
        refund_rate=spec.refund.rate,
        refund_within=spec.refund.within_days,
        abandon_rate=ctx.abandon_rates.get(spec.id, 0.0),
        **more,
    )


def follows_references(spec: Any) -> Iterator[Reference]:
    """``after`` (a step reached or bought), then ``requires`` and ``on_decline``."""
    if spec.after is not None:
        yield after_reference(spec.after, FOLLOWS)
    yield from shared_references(spec)


KIND = StepKind(
    name="offer",
    spec=Offer,
    compile=compile_step,
    references=follows_references,
    sells=True,
    declinable=True,
    figures=(*REFUND_FIGURES, "referred", "repeat_orders", "repeat_revenue"),
    tallies=(*EMAIL_TALLIES, *REPEAT_TALLIES),
    daily=("repeat_orders",),  # repeat purchases (also counted in orders)
    # an email offer sends an email first; with a cart, would-be buyers may leave the checkout
    events=(*EMAIL_EVENTS, *SALE_EVENTS, REPEAT, CART_LEFT),
)
