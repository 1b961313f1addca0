"""Win-back: leads who said no (or went cold) are contacted again by retargeting, at a cost.

Retargeting reaches a lead whether or not they still read the emails, so unlike an email
offer it does not need a subscribed lead; every contact costs ``cost_per_contact``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from sim.scenario import Winback
from sim.steps._base import CompileContext, IntArray, Trigger
from sim.steps._money import schedule_refunds, take_payments
from sim.steps._selling import Pitch, decide, show

if TYPE_CHECKING:
    from sim.model import FunnelModel


@dataclass(frozen=True)
class CompiledWinback:
    """Contacts the leads due today, except those who have bought meanwhile; sells like an offer.

    ``skip`` is the bit mask of purchases that make a contact pointless: the declined step
    itself (bought later by another path), or any purchase at all for a lead gone cold.
    """

    id: str
    index: int
    bit: int
    trigger: Trigger
    pitch: Pitch
    skip: np.uint64
    cost_per_contact: float
    cogs: float
    refund_rate: float
    refund_within: int
    kind: str = "winback"

    def apply(self, model: FunnelModel, who: IntArray) -> None:
        """Contact the leads due, show the offer, book purchases, tell the steps that follow."""
        pop, ledger, day = model.population, model.ledger, model.day
        who = who[(pop.bought[who] & self.skip) == 0]
        ledger.add_daily("operating", day, self.cost_per_contact * who.size)
        ledger.add_daily("contacts", day, who.size)
        shown = show(model, self.index, self.pitch, who)
        buyers, decliners = decide(model, self.index, self.bit, self.pitch, shown)
        take_payments(model, self.index, buyers, self.pitch.price, self.cogs, new_orders=True)
        schedule_refunds(
            model, self.index, buyers, self.pitch.price, self.refund_rate, self.refund_within
        )
        if model.log is not None:
            model.log.add(buyers, day, self.index, "buy", self.pitch.price)
            model.log.add(decliners, day, self.index, "decline")
        model.emit("bought", self.id, buyers)
        model.emit("declined", self.id, decliners)


def compile_step(spec: Winback, ctx: CompileContext) -> CompiledWinback:
    """Compile a ``winback`` step."""
    if spec.on_decline is not None:
        trigger = Trigger("declined", spec.on_decline, (spec.delay_days,))
        skip = ctx.mask([spec.on_decline])
    else:
        assert spec.after is not None  # the schema requires one of the two
        trigger = Trigger("optin", spec.after, (spec.delay_days,))
        skip = np.uint64(np.iinfo(np.uint64).max)  # gone cold: bought nothing at all
    return CompiledWinback(
        id=spec.id,
        index=ctx.step_index[spec.id],
        bit=ctx.bits[spec.id],
        trigger=trigger,
        pitch=Pitch.compile(spec, ctx),
        skip=skip,
        cost_per_contact=spec.cost_per_contact,
        cogs=spec.cogs,
        refund_rate=spec.refund.rate,
        refund_within=spec.refund.within_days,
    )
