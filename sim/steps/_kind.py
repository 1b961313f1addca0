"""What a step kind declares: one :class:`StepKind` per module, listed by the registry.

Everything the rest of the engine needs to know about a kind is here, so no module outside
``sim/steps/`` has to name one: the checks read its references and trigger, compile reads
whether it sells and its hooks, the books read its figures and daily series, the event log
its events, and the reports its label.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sim.spec import StepSpec
from sim.steps._base import CompileContext, CompiledStep

if TYPE_CHECKING:
    from sim.ledger import Ledger

Path = tuple[str | int, ...]
Problem = tuple[Path, str, str]  # key path within the step, message, hint
Figures = dict[str, float]


@dataclass(frozen=True)
class Event:
    """One kind of row in the event log.

    ``rank`` orders the event log's codes; ranks never change, so codes stay stable, and
    an event added later takes a rank after the last one. ``says`` is how a visitor's
    journey tells it (default: the name with spaces); ``paid``: the row's amount is money
    paid, written after the words ("bought $30.00").
    """

    name: str
    rank: int
    says: str = ""
    paid: bool = False


@dataclass(frozen=True)
class Reference:
    """A step naming another: where (the key's path within the step), whom, and which kinds.

    ``allowed`` tells the kinds that may be named there.
    """

    path: Path
    target: str
    allowed: Callable[[StepKind], bool]
    where: str = ""  # where the name is written, when not in the scenario (a CSV's cell)


def sells(kind: StepKind) -> bool:
    """Whether a step of ``kind`` can be bought (what ``requires`` may name)."""
    return kind.sells


def declinable(kind: StepKind) -> bool:
    """Whether a step of ``kind`` can be declined (what ``on_decline`` may name)."""
    return kind.declinable


def one_of(*names: str) -> Callable[[StepKind], bool]:
    """A test that accepts the kinds with these names."""
    return lambda kind: kind.name in names


def shared_references(step: Any) -> Iterator[Reference]:
    """The references every sellable kind may have: ``requires`` and ``on_decline``."""
    for j, req in enumerate(getattr(step, "requires", [])):
        yield Reference(("requires", j), req, sells)
    for j, req in enumerate(getattr(step, "requires_not", [])):
        yield Reference(("requires_not", j), req, sells)
    if getattr(step, "on_decline", None) is not None:
        yield Reference(("on_decline",), step.on_decline, declinable)


def triggered_by(step: Any) -> tuple[str, str] | None:
    """The usual trigger: ``on_decline`` when given, else ``after`` (plain or a split)."""
    if getattr(step, "on_decline", None) is not None:
        return "on_decline", step.on_decline
    return "after", getattr(step.after, "step", step.after)  # a split names its step


def _no_problems(step: Any) -> Iterator[Problem]:
    return iter(())


@dataclass(frozen=True)
class StepKind:
    """Everything about one step kind.

    Attributes:
        name: the scenario's ``type`` for this kind.
        spec: the pydantic model of its YAML (with ``type: Literal[name]``).
        compile: ``compile(spec, ctx)`` → the step as arrays, with ``apply(model, who)``.
        references: the ids a step names (checked to exist and be of an allowed kind).
        trigger: the key naming the step it waits for, and that id; None: it needs none.
        check: more problems of one step alone (paths within the step).
        entry: every arriving visitor meets it; a scenario has exactly one such step.
        sells: it can be bought, so it takes a bit of ``Population.bought``.
        declinable: ``on_decline`` may name it.
        after_event: what a step ``after`` it waits for (``bought``, ``optin``).
        converted: what those it converts are called ("buyers", "leads").
        figures: the tallies it reports besides reached, converted and revenue.
        tallies: tallies it keeps without reporting them.
        tally: derives figures from the reported ones and the books (a mean wait, per rep).
        daily: the daily series it adds to daily.csv.
        events: the events it writes to the event log.
        label: how tables and pages name it (default: its name).
        counts_visitors: its reached and converted count visitors (not emails), so it has
            a place in the funnel chart and a share of the step before.
        daily_cost: what a step costs every day of the horizon (a sales team's pay).
        right_after_trigger: it acts right after the step that triggers it, before that
            step's other followers (an order bump, at checkout).
        checkout: the sellable step whose checkout it is and the share of that step's
            would-be buyers who abandon it (a cart); None: it is no checkout.
    """

    name: str
    spec: type[StepSpec]
    compile: Callable[[Any, CompileContext], CompiledStep]
    references: Callable[[Any], Iterator[Reference]] = shared_references
    trigger: Callable[[Any], tuple[str, str] | None] = triggered_by
    check: Callable[[Any], Iterator[Problem]] = _no_problems
    entry: bool = False
    sells: bool = False
    declinable: bool = False
    after_event: str = "bought"
    converted: str = "buyers"
    figures: tuple[str, ...] = ()
    tallies: tuple[str, ...] = ()
    tally: Callable[[Ledger, CompiledStep, Figures], Figures] | None = None
    daily: tuple[str, ...] = ()
    events: tuple[Event, ...] = ()
    label: str = ""
    counts_visitors: bool = True
    daily_cost: Callable[[Any], float] | None = None
    right_after_trigger: bool = False
    checkout: Callable[[Any], tuple[str, float]] | None = None

    @property
    def title(self) -> str:
        """How tables and pages name the kind."""
        return self.label or self.name
