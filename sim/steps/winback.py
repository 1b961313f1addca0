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
from sim.steps._selling import Pitch, meeting
from sim.steps.offer import CompiledOffer, compile_sale

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
        who = meeting(model, who, self.pitch.requires)  # only those it may show to are paid for
        ledger.cost_each("acquisition", model.day, self.cost_per_contact, who, step=self.index)
        ledger.count("contacts", model.day, who.size)
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
