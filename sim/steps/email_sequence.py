"""Email sequence: emails on given days after opt-in, each warming those who open it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sim.scenario import EmailSequence
from sim.steps._base import CompileContext, IntArray, Trigger
from sim.steps._email import send_email

if TYPE_CHECKING:
    from sim.model import FunnelModel


@dataclass(frozen=True)
class CompiledEmailSequence:
    """Due once per email; reached counts emails sent, converted counts emails opened."""

    id: str
    index: int
    trigger: Trigger
    cost_per_email: float
    kind: str = "email_sequence"

    def apply(self, model: FunnelModel, who: IntArray) -> None:
        """Send today's email of the sequence to the leads due for one."""
        sent, opened = send_email(model, self.index, who, self.cost_per_email)
        model.ledger.tally("reached", self.index, sent.size)
        model.ledger.tally("converted", self.index, opened.size)


def compile_step(spec: EmailSequence, ctx: CompileContext) -> CompiledEmailSequence:
    """Compile an ``email_sequence`` step."""
    return CompiledEmailSequence(
        id=spec.id,
        index=ctx.step_index[spec.id],
        trigger=Trigger("optin", spec.after, tuple(spec.days)),
        cost_per_email=spec.cost_per_email,
    )
