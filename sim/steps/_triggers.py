"""Splits on behaviour: a step for the leads who did (or did not) something with an earlier step.

``after: {step: welcome, when: clicked, within_days: 3}`` reads: ``within_days`` days after
``welcome`` first acted on a lead (its first email's day; an offer's day), look at what the
lead did with it so far; the leads who ``clicked`` pass, and the step acts on them after its
own delays, counted from that moment. This is the trigger → delay → split of email
automation tools, evaluated at one moment (docs/model.md §3.10).

The kinds that accept the form (offers, email sequences) compile it with :func:`compile_after`;
the split itself is a :class:`Gate`, placed by compile right before its step, that lets the
passing leads through with the event ``passed``. The checks read :func:`after_problems`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from numpy.typing import NDArray

from sim.spec import Day, Name, Spec
from sim.steps._base import CompileContext, IntArray, Trigger
from sim.steps._kind import Reference
from sim.steps._record import record_of

if TYPE_CHECKING:
    from sim.model import FunnelModel
    from sim.steps._kind import StepKind

When = Literal[
    "opened",
    "clicked",
    "not_opened",
    "not_clicked",
    "unsubscribed",
    "bought",
    "declined",
    "not_bought",
]
# what a lead can do with an email (a sequence, or an offer sent by email)
EMAIL_BEHAVIOURS: tuple[str, ...] = (
    "opened",
    "clicked",
    "not_opened",
    "not_clicked",
    "unsubscribed",
)
# what a lead can do with something for sale
SALE_BEHAVIOURS: tuple[str, ...] = ("bought", "declined", "not_bought")
PASSED = "passed"  # the event a gate emits for the leads that pass its split


class After(Spec):
    """A split: leads who did ``when`` with ``step`` by ``within_days`` after it began."""

    step: Name
    when: When
    within_days: Day = 0


def after_reference(after: str | After, follows: Callable[[StepKind], bool]) -> Reference:
    """What ``after`` names: a step it follows (of a kind ``follows`` accepts) or splits on.

    A split may name a step of any kind here: :func:`after_problems` says why a split on
    a kind that is neither an email nor an offer can never fire.
    """
    if isinstance(after, After):
        return Reference(("after", "step"), after.step, _any_kind)
    return Reference(("after",), after, follows)


def _any_kind(kind: StepKind) -> bool:
    return True


def source_of(after: str | After | None) -> str | None:
    """The id of the step ``after`` waits for (plain or split)."""
    return after.step if isinstance(after, After) else after


@dataclass(frozen=True)
class Gate:
    """The split of one step: due ``within_days`` after its source began; lets through who pass.

    ``index`` is its step's (the gate comes right before it); ``source`` the index of the
    step it splits on, ``bit`` that step's bit of ``Population.bought`` (−1: it sells nothing).
    """

    id: str  # "<step>/split": never a step's id (ids have no '/')
    index: int
    source: int
    trigger: Trigger
    step_id: str  # the step it lets the passing leads into
    when: str
    bit: int
    kind: str = "split"

    def apply(self, model: FunnelModel, who: IntArray) -> None:
        """Let through the leads due today that did (or did not do) ``when`` with the source."""
        passing = who[did(model, self.source, self.bit, self.when, who)]
        model.emit(PASSED, self.step_id, passing)


def did(model: FunnelModel, step: int, bit: int, when: str, who: IntArray) -> NDArray[np.bool_]:
    """Whether each of ``who`` did ``when`` with step ``step`` by now (and met the step at all)."""
    record = record_of(model)
    if when in EMAIL_BEHAVIOURS:
        met = record.times(step, "sent", who) > 0
        if when == "unsubscribed":
            return met & (record.times(step, "unsubscribed", who) > 0)
        seen = record.times(step, when.removeprefix("not_"), who) > 0
        return met & (~seen if when.startswith("not_") else seen)
    met = record.times(step, "due", who) > 0
    bought = np.zeros(who.size, dtype=np.bool_)
    if bit >= 0:
        pop = model.population
        bought = (pop.bought[who] >> np.uint64(bit)) & np.uint64(1) == 1
        bought &= pop.kept(step, who, model.day)
    if when == "bought":
        return bought
    if when == "declined":
        return (record.times(step, "declined", who) > 0) & ~bought
    return met & ~bought  # not_bought


def compile_after(
    spec_id: str, after: str | After, delays: tuple[int, ...], ctx: CompileContext
) -> tuple[Trigger, Gate | None]:
    """The trigger of a step ``after`` something (plain or split), and its gate (or None)."""
    if not isinstance(after, After):
        return Trigger(ctx.trigger_event(after), after, delays), None
    source = ctx.triggers[after.step]
    start = min(source.delays) if source.delays else 0
    gate = Gate(
        id=f"{spec_id}/split",
        index=ctx.step_index[spec_id],
        source=ctx.step_index[after.step],
        trigger=Trigger(source.event, source.source, (start + after.within_days,)),
        step_id=spec_id,
        when=after.when,
        bit=ctx.bits.get(after.step, -1),
    )
    return Trigger(PASSED, spec_id, delays), gate


def behaviours(kind: StepKind, step: Any) -> tuple[str, ...]:
    """What a lead can do with ``step`` (of ``kind``) that a split may ask about."""
    out: tuple[str, ...] = SALE_BEHAVIOURS if kind.declinable else ()
    if kind.name == "email_sequence" or getattr(step, "via", "page") == "email":
        out = (*out, *EMAIL_BEHAVIOURS)
    return out


Found = tuple[tuple[str | int, ...], str, str]


def after_problems(
    funnel: list[Any], kinds: dict[str, StepKind]
) -> Iterator[Found]:  # paths from the scenario's root
    """Splits that can never fire, and steps that can never be reached.

    A split on a step that is not an email or an offer (or asks for what that step cannot
    give: a click of an offer shown on a page) never fires; a step whose trigger never
    fires, or that requires and excludes the same purchase, is never reached.
    """
    by_id = {step.id: step for step in funnel}
    dead: set[str] = set()
    for i, step in enumerate(funnel):
        after = getattr(step, "after", None)
        if isinstance(after, After) and after.step in by_id:
            source = by_id[after.step]
            can = behaviours(kinds[source.type], source)
            if after.when not in can:
                what = ", ".join(can) if can else "nothing (it is neither an email nor an offer)"
                dead.add(step.id)
                yield (
                    ("funnel", i, "after", "when"),
                    f"a split on '{after.step}' ({source.type}) when {after.when} can never "
                    f"fire: a split may ask of it {what}",
                    "split on an email sequence, an offer sent by email, or an offer",
                )
        both = set(getattr(step, "requires", [])) & set(getattr(step, "requires_not", []))
        if both:
            dead.add(step.id)
            yield (
                ("funnel", i, "requires_not"),
                f"'{step.id}' requires and excludes {', '.join(sorted(both))}: no one can meet it",
                "keep each step in only one of `requires` and `requires_not`",
            )
    yield from _unreachable(funnel, kinds, dead)


def _unreachable(funnel: list[Any], kinds: dict[str, StepKind], dead: set[str]) -> Iterator[Found]:
    """Steps whose trigger, directly or not, is a step that can never be reached."""
    by_id = {step.id: step for step in funnel}
    changed = True
    while changed:
        changed = False
        for step in funnel:
            trig = kinds[step.type].trigger(step)
            if step.id not in dead and trig is not None and trig[1] in dead:
                dead.add(step.id)
                changed = True
    for i, step in enumerate(funnel):
        trig = kinds[step.type].trigger(step)
        if trig is not None and trig[1] in dead and trig[1] in by_id:
            yield (
                ("funnel", i, trig[0]),
                f"'{step.id}' can never be reached: it waits for '{trig[1]}', "
                "which no lead reaches",
                "fix the step it waits for, or remove both",
            )
