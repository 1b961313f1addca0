"""Win-back: leads who said no (or went cold) are contacted again by retargeting, at a cost.

Retargeting reaches a lead whether or not they still read the emails, so unlike an email
offer it does not need a subscribed lead; every contact costs ``cost_per_contact``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np
from pydantic import model_validator

from sim.spec import Amount, Day, Name, Rate, Refund, Sellable
from sim.steps._base import CompileContext, IntArray, Trigger
from sim.steps._kind import Reference, StepKind, one_of, shared_references
from sim.steps._money import REFUND_FIGURES
from sim.steps._selling import Pitch, meeting
from sim.steps.offer import SALE_EVENTS, CompiledOffer, compile_sale

if TYPE_CHECKING:
    from sim.model import FunnelModel


class Winback(Sellable):
    """Leads who declined (or went cold) are contacted again by retargeting, at a cost."""

    type: Literal["winback"]
    on_decline: Name | None = None
    after: Name | None = None  # an optin: leads who have bought nothing by then
    delay_days: Day = 30
    cost_per_contact: Amount = 0.0
    trust_gain: Rate = 0.0
    requires: list[Name] = []
    refund: Refund = Refund()

    @model_validator(mode="after")
    def _one_trigger(self) -> Winback:
        if (self.after is None) == (self.on_decline is None):
            raise ValueError(
                "a winback needs exactly one trigger: `on_decline` (a step declined) or "
                "`after` (an optin: leads who went cold, having bought nothing)"
            )
        return self


@dataclass(frozen=True)
class CompiledWinback:
    """Contacts the leads due today, except those who have bought meanwhile; sells like an offer.

    ``skip`` is the bit mask of purchases that make a contact pointless: the declined step
    itself (bought later by another path), or any purchase at all for a lead gone cold.
    """

    id: str
    index: int
    trigger: Trigger
    offer: CompiledOffer  # what is sold to the contacted, and how
    skip: np.uint64
    cost_per_contact: float
    kind: str = "winback"

    @property
    def pitch(self) -> Pitch:
        """The offer's price, take, value and trust gain."""
        return self.offer.pitch

    @property
    def cogs(self) -> float:
        """COGS per sale."""
        return self.offer.cogs

    def apply(self, model: FunnelModel, who: IntArray) -> None:
        """Contact the leads due (at a cost each) and show them the offer."""
        ledger = model.ledger
        who = who[(model.population.bought[who] & self.skip) == 0]
        who = meeting(model, who, self.pitch)  # only those it may show to are paid for
        ledger.cost_each("acquisition", model.day, self.cost_per_contact, who, step=self.index)
        ledger.count("contacts", model.day, who)
        self.offer.apply(model, who)


def compile_step(spec: Winback, ctx: CompileContext) -> CompiledWinback:
    """Compile a ``winback`` step."""
    if spec.on_decline is not None:
        trigger = Trigger("declined", spec.on_decline, (spec.delay_days,))
        skip = ctx.mask([spec.on_decline])
    else:
        assert spec.after is not None  # the schema requires one of the two
        trigger = Trigger("optin", spec.after, (spec.delay_days,))
        skip = np.uint64(np.iinfo(np.uint64).max)  # gone cold: bought nothing at all
    offer = compile_sale(spec, ctx, trigger, kind="winback")
    return CompiledWinback(
        id=spec.id,
        index=offer.index,
        trigger=trigger,
        offer=offer,
        skip=skip,
        cost_per_contact=spec.cost_per_contact,
    )


def _references(spec: Winback) -> Iterator[Reference]:
    if spec.after is not None:
        yield Reference(("after",), spec.after, one_of("optin"))
    yield from shared_references(spec)


KIND = StepKind(
    name="winback",
    spec=Winback,
    compile=compile_step,
    references=_references,
    sells=True,
    declinable=True,
    figures=REFUND_FIGURES,
    daily=("contacts",),  # win-back contacts
    events=SALE_EVENTS,
)
