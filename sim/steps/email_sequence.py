"""Email sequence: emails on given days after opt-in, each warming those who open it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import Field

from sim.spec import Amount, Day, Name, StepSpec
from sim.steps._base import CompileContext, IntArray, Trigger
from sim.steps._email import EMAIL_EVENTS, EMAIL_TALLIES, send_email
from sim.steps._kind import Reference, StepKind, one_of

if TYPE_CHECKING:
    from sim.model import FunnelModel


class EmailSequence(StepSpec):
    """Emails sent on given days after opt-in."""

    type: Literal["email_sequence"]
    after: Name
    days: Annotated[list[Day], Field(min_length=1)]
    cost_per_email: Amount = 0.0


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
        model.ledger.tally("reached", self.index, sent)
        model.ledger.tally("converted", self.index, opened)


def compile_step(spec: EmailSequence, ctx: CompileContext) -> CompiledEmailSequence:
    """Compile an ``email_sequence`` step."""
    return CompiledEmailSequence(
        id=spec.id,
        index=ctx.step_index[spec.id],
        trigger=Trigger("optin", spec.after, tuple(spec.days)),
        cost_per_email=spec.cost_per_email,
    )


def _references(spec: EmailSequence) -> Iterator[Reference]:
    yield Reference(("after",), spec.after, one_of("optin"))


KIND = StepKind(
    name="email_sequence",
    spec=EmailSequence,
    compile=compile_step,
    references=_references,
    figures=("unsubscribed",),
    tallies=EMAIL_TALLIES,
    events=EMAIL_EVENTS,
    label="emails sent → opened",
    counts_visitors=False,
)
