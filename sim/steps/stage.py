"""Stage: a step of a sales pipeline that takes time and lets some deals move on.

A stage is never a sale: it books no money and makes no buyer. Each deal that enters
moves on with a plain probability (per segment, or per the rep who owns it), after a
time in the stage drawn from a lognormal around a median; a deal still in the stage
after ``rots_after_days`` is lost (docs/model.md §3.8).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from sim.spec import Day, Name, Rate, SegmentRate, StepSpec
from sim.steps._base import CompileContext, CompiledStep, FloatArray, IntArray, Trigger
from sim.steps._kind import Event, Figures, Problem, Reference, StepKind
from sim.steps._pipeline import PIPELINE_FOLLOWS, StageTime, days_in_stage, days_left
from sim.steps.sales_call import join_work, work_deals

if TYPE_CHECKING:
    from sim.ledger import Ledger
    from sim.model import FunnelModel

# per rep of the owning team: deals that entered, moved on, and (none) revenue; the names
# the tables read for a team's rows
REP_FIGURES = ("calls", "closes", "revenue")


class Stage(StepSpec):
    """A pipeline stage: the chance to move on, the time it takes, and when a deal rots."""

    type: Literal["stage"]
    after: Name
    rate: SegmentRate = 1.0  # the chance a deal moves on (not weighted by trust or price)
    days: StageTime = StageTime()  # time in the stage
    rots_after_days: Day | None = None  # a deal still here after this long is lost
    trust_weighted: bool = False  # multiply the rate by the lead's trust
    worked_by: Name | None = None  # the sales_call whose reps own the deals here
    rep_rates: dict[Name, Rate] = {}  # the chance to move on, per owner (others: rate)


@dataclass(frozen=True)
class CompiledStage:
    """Who moves on, when; who is lost, when. Deals leave on days of their own."""

    id: str
    index: int
    trigger: Trigger
    rate: FloatArray  # per segment
    median: float
    spread: float
    rot: int | None
    trust_weighted: bool
    reps: tuple[str, ...] = ()  # the reps who own the deals here (``worked_by``)
    owner_rate: FloatArray | None = None  # per owner number (0: none): a rate, or NaN
    kind: str = "stage"

    def apply(self, model: FunnelModel, who: IntArray) -> None:
        """Decide for each deal entering today whether and when it leaves the stage."""
        self._enter(model, who)
        self.work(model, who, np.full(who.size, model.day, dtype=np.int64))

    def _enter(self, model: FunnelModel, who: IntArray) -> None:
        model.ledger.tally("reached", self.index, who)
        if model.log is not None:
            model.log.add(who, model.day, self.index, "stage", model.population.deal[who])

    def carry(self, model: FunnelModel, who: IntArray, elapsed: IntArray) -> None:
        """Open deals carried in today, in the stage for ``elapsed`` days already."""
        self._enter(model, who)
        self.work(model, who, model.day - elapsed, carried=True)

    def work(
        self, model: FunnelModel, who: IntArray, since: IntArray, *, carried: bool = False
    ) -> None:
        """Work the deals ``who`` today, in the stage since ``since``: whether and when they leave.

        A deal moves on ``T`` days from today (its time in the stage, drawn now); one whose
        days in the stage, waiting included, pass ``rots_after_days`` is lost at that limit.
        ``carried``: open deals carried in, whose time here is drawn given what they spent.
        """
        pop, ledger, day = model.population, model.ledger, model.day
        moves = model.uniforms(self.index, "move", who) < self._chance(model, who)
        u = model.uniforms(self.index, "days", who)
        if carried:  # its time here is at least what it has spent already
            days = days_left(u, self.median, self.spread, day - since)
        else:
            days = days_in_stage(u, self.median, self.spread)
        leave = day + days
        rotted = np.zeros(who.size, dtype=np.bool_)
        if self.rot is not None:
            rotted = leave - since > self.rot
            leave = np.where(rotted, np.maximum(since + self.rot, day), leave)
        inside = leave < ledger.horizon
        advanced, lost, rotted = (
            moves & ~rotted & inside,
            ~moves & ~rotted & inside,
            rotted & inside,
        )
        spent = (leave - since).astype(np.float64)
        ledger.tally("converted", self.index, who[advanced])
        ledger.tally("lost", self.index, who[lost])
        ledger.tally("rotted", self.index, who[rotted])
        ledger.tally("open_at_end", self.index, who[~inside])
        ledger.tally_each("days_in_stage", self.index, who[advanced], spent[advanced])
        if self.reps:
            _count_owners(model.ledger.reps[self.index], pop.owner[who], advanced)
        if model.log is not None:
            if self.reps and not carried:  # the owner's call that worked the deal (their number)
                model.log.add(who, day, self.index, "worked", pop.owner[who].astype(np.float64))
            model.log.add(who[advanced], leave[advanced], self.index, "advance")
            model.log.add(who[lost], leave[lost], self.index, "lost")
            model.log.add(who[rotted], leave[rotted], self.index, "rot")
        model.emit_each("moved_on", self.id, who[advanced], leave[advanced] - day)

    def _chance(self, model: FunnelModel, who: IntArray) -> FloatArray:
        """Each deal's chance to move on: its owner's when given, else its segment's."""
        pop = model.population
        chance = self.rate[pop.segment[who]]
        if self.owner_rate is not None:
            own = self.owner_rate[pop.owner[who]]
            chance = np.where(np.isnan(own), chance, own)
        if self.trust_weighted:
            chance = chance * pop.trust[who]
        return np.asarray(chance)


@dataclass(frozen=True)
class CompiledOwnedStage(CompiledStage):
    """A stage the owners of the deals work: its books keep a row per rep."""

    worked_by: str = ""  # the sales step whose reps own the deals and do the work

    def start(self, model: FunnelModel) -> None:
        """Open the per-rep rows of this replication's books; join the team's work."""
        model.ledger.reps[self.index] = {name: np.zeros(len(self.reps)) for name in REP_FIGURES}
        join_work(model, self.worked_by)

    def apply(self, model: FunnelModel, who: IntArray) -> None:
        """Deals entering today wait for a call of their owner (shared with new leads)."""
        self._enter(model, who)
        work_deals(model, self.worked_by, self, who)


def _count_owners(figures: dict[str, FloatArray], owner: np.ndarray, advanced: np.ndarray) -> None:
    """Add the deals each owner brought into the stage, and those that moved on."""
    n, mine = figures["calls"].size, owner > 0
    figures["calls"] += np.bincount(owner[mine] - 1, minlength=n)[:n]
    figures["closes"] += np.bincount(owner[mine & advanced] - 1, minlength=n)[:n]


def compile_step(spec: Stage, ctx: CompileContext) -> CompiledStage:
    """Compile a ``stage`` step; one worked by a team's reps keeps a row per rep."""
    common: dict[str, Any] = {
        "id": spec.id,
        "index": ctx.step_index[spec.id],
        "trigger": Trigger(ctx.trigger_event(spec.after), spec.after, (0,)),
        "rate": ctx.per_segment(spec.rate),
        "median": spec.days.median,
        "spread": spec.days.spread,
        "rot": spec.rots_after_days,
        "trust_weighted": spec.trust_weighted,
    }
    if spec.worked_by is None:
        return CompiledStage(**common)
    team = ctx.teams[spec.worked_by]
    unknown = sorted(set(spec.rep_rates) - set(team))
    if unknown:
        raise ValueError(
            f"step '{spec.id}': rep_rates names {', '.join(unknown)}, "
            f"not a rep of '{spec.worked_by}' ({', '.join(team)})"
        )
    owner_rate = np.array([math.nan, *(spec.rep_rates.get(n, math.nan) for n in team)])
    return CompiledOwnedStage(**common, reps=team, owner_rate=owner_rate, worked_by=spec.worked_by)


def _references(spec: Stage) -> Iterator[Reference]:
    yield Reference(("after",), spec.after, PIPELINE_FOLLOWS)
    if spec.worked_by is not None:
        yield Reference(("worked_by",), spec.worked_by, lambda kind: kind.name == "sales_call")


def _check(spec: Stage) -> Iterator[Problem]:
    if spec.rep_rates and spec.worked_by is None:
        yield (
            ("rep_rates",),
            "rates per rep need the team that owns the deals",
            "add `worked_by: <the sales_call step whose reps own these deals>`",
        )


def _tally(ledger: Ledger, step: CompiledStep, figures: Figures) -> Figures:
    """The mean days a deal that moved on spent here; per owner: entered, moved on."""
    moved = figures["converted"]
    figures["mean_days_in_stage"] = figures.pop("days_in_stage") / moved if moved else math.nan
    assert isinstance(step, CompiledStage)
    tallies = ledger.reps.get(step.index)
    if tallies is None:
        return figures
    for i, name in enumerate(step.reps):
        entered, moved = float(tallies["calls"][i]), float(tallies["closes"][i])
        figures[f"reps.{name}.calls"] = entered
        figures[f"reps.{name}.closes"] = moved
        figures[f"reps.{name}.close_rate"] = moved / entered if entered > 0 else math.nan
        figures[f"reps.{name}.revenue"] = 0.0
    return figures


KIND = StepKind(
    name="stage",
    spec=Stage,
    compile=compile_step,
    references=_references,
    check=_check,
    after_event="moved_on",
    converted="moved on",
    figures=("lost", "rotted", "open_at_end", "days_in_stage"),
    tally=_tally,
    events=(
        Event("stage", 40, "entered a stage"),  # amount: the deal's amount, when it has one
        Event("advance", 41, "moved on"),
        Event("lost", 42, "lost in the stage"),
        Event("rot", 43, "rotted in the stage, lost"),
        Event("worked", 47),  # a call of the deal's owner (amount: the rep's number, from 1)
    ),
)
