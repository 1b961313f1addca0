"""Opt-in page with a lead magnet: the entry step every arriving visitor meets."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from sim.spec import Amount, SegmentRate, StepSpec
from sim.steps._base import CompileContext, FloatArray, IntArray, Trigger
from sim.steps._kind import Event, Reference, StepKind
from sim.steps._layers import MOVED, joined

if TYPE_CHECKING:
    from sim.model import FunnelModel


class Optin(StepSpec):
    """The entry step: every arriving visitor meets it and opts in with ``rate``."""

    type: Literal["optin"]
    rate: SegmentRate
    cost_per_lead: Amount = 0.0


_ON_ARRIVAL = Trigger("arrive", "", (0,))


@dataclass(frozen=True)
class CompiledOptin:
    """A visitor becomes a lead with the segment's rate; the others leave."""

    id: str
    index: int
    rate: FloatArray
    cost_per_lead: float
    kind: str = "optin"
    trigger: Trigger | None = _ON_ARRIVAL

    def apply(self, model: FunnelModel, who: IntArray) -> None:
        """Opt in today's arrivals."""
        pop = model.population
        joins = model.uniforms(self.index, "optin", who) < self.rate[pop.segment[who]]
        leads = who[joins]
        pop.lead[leads] = True
        pop.subscribed[leads] = True
        ledger = model.ledger
        ledger.tally("reached", self.index, who)
        # the cost first: it counts the leads once for the books, the tally and series reuse it
        ledger.cost_each("acquisition", model.day, self.cost_per_lead, leads, step=self.index)
        ledger.tally("converted", self.index, leads)
        ledger.count("leads", model.day, leads)
        if model.log is not None:
            model.log.add(leads, model.day, self.index, "optin")
            model.log.add(who[~joins], model.day, self.index, "leave")
        joined(model, self.index, leads)
        model.emit("optin", self.id, leads)


def compile_step(spec: Optin, ctx: CompileContext) -> CompiledOptin:
    """Compile an ``optin`` step."""
    return CompiledOptin(
        id=spec.id,
        index=ctx.step_index[spec.id],
        rate=ctx.per_segment(spec.rate),
        cost_per_lead=spec.cost_per_lead,
    )


def _no_references(spec: Optin) -> Iterator[Reference]:
    return iter(())


def _on_arrival(spec: Optin) -> None:
    return None  # every arriving visitor meets it


KIND = StepKind(
    name="optin",
    spec=Optin,
    compile=compile_step,
    references=_no_references,
    trigger=_on_arrival,
    entry=True,
    after_event="optin",
    converted="leads",
    events=(
        Event("optin", 1, "opted in"),
        Event("leave", 2, "left without opting in"),
        MOVED,  # a lead's moves between layers (at the step whose outcome moved it)
    ),
)
