"""Email sequence: emails on given days after its trigger, each warming those who open it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import Field, model_validator

from sim.spec import MAX_DAYS, Amount, Day, Days, Name, SegmentRate, StepSpec, Whole
from sim.steps._base import CompileContext, FloatArray, IntArray, Trigger
from sim.steps._email import EMAIL_EVENTS, EMAIL_FIGURES, EMAIL_TALLIES, send_email
from sim.steps._kind import Reference, StepKind
from sim.steps._layers import in_layer
from sim.steps._triggers import After, Gate, after_reference, compile_after
from sim.steps.offer import FOLLOWS

if TYPE_CHECKING:
    from sim.model import FunnelModel


class EmailSequence(StepSpec):
    """Emails sent on given days after the step it follows (or a split on behaviour).

    The days are ``days``, or ``count`` emails ``every_days`` apart from ``first_day``.
    """

    type: Literal["email_sequence"]
    after: Name | After
    days: Annotated[list[Day], Field(min_length=1)] | None = None
    count: Annotated[Whole, Field(ge=1, le=MAX_DAYS)] | None = None
    every_days: Days = 1
    first_day: Day = 0
    cost_per_email: Amount = 0.0
    click_rate: SegmentRate | None = None  # among readers; None: each segment's own
    to_layer: Name | None = None  # only to the leads in this layer on the day of each email

    @model_validator(mode="after")
    def _one_schedule(self) -> EmailSequence:
        if (self.days is None) == (self.count is None):
            raise ValueError("give the emails' `days`, or `count` (with `every_days`), not both")
        return self

    @property
    def schedule(self) -> tuple[int, ...]:
        """The day of each email, counted from the trigger."""
        if self.days is not None:
            return tuple(self.days)
        assert self.count is not None  # the validator requires one of the two
        return tuple(self.first_day + k * self.every_days for k in range(self.count))


@dataclass(frozen=True)
class CompiledEmailSequence:
    """Due once per email; reached counts emails sent, converted counts emails opened."""

    id: str
    index: int
    trigger: Trigger
    cost_per_email: float
    click_rate: FloatArray | None = None
    gate: Gate | None = None  # its split on behaviour, if it follows one
    layer: int = -1  # addressed to the leads in this layer (its number); -1: to all
    kind: str = "email_sequence"

    def apply(self, model: FunnelModel, who: IntArray) -> None:
        """Send today's email of the sequence to the leads due for one."""
        if self.layer >= 0:
            who = in_layer(model, self.layer, who)
        sent = send_email(model, self.index, who, self.cost_per_email, self.click_rate)
        model.ledger.tally("reached", self.index, sent.recipients)
        model.ledger.tally("converted", self.index, sent.opened)


def compile_step(spec: EmailSequence, ctx: CompileContext) -> CompiledEmailSequence:
    """Compile an ``email_sequence`` step."""
    trigger, gate = compile_after(spec.id, spec.after, spec.schedule, ctx)
    return CompiledEmailSequence(
        id=spec.id,
        index=ctx.step_index[spec.id],
        trigger=trigger,
        cost_per_email=spec.cost_per_email,
        click_rate=None if spec.click_rate is None else ctx.per_segment(spec.click_rate),
        gate=gate,
        layer=-1 if spec.to_layer is None else ctx.layers[spec.to_layer],
    )


def _references(spec: EmailSequence) -> Iterator[Reference]:
    yield after_reference(spec.after, FOLLOWS)


KIND = StepKind(
    name="email_sequence",
    spec=EmailSequence,
    compile=compile_step,
    references=_references,
    figures=EMAIL_FIGURES,
    tallies=EMAIL_TALLIES,
    events=EMAIL_EVENTS,
    label="emails sent → opened",
    counts_visitors=False,
)
