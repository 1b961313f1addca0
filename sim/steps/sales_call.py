"""Sales call: leads queue for a team of reps, who call them as capacity allows.

This is where visitors stop being independent: the team's calls a day are shared, so a
busy week makes every lead wait longer, and a waiting lead cools (docs/model.md §3.6).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Literal, Protocol

import numpy as np
from pydantic import BeforeValidator, Field, WithJsonSchema, model_validator

from sim.behavior import close_chance, deal_values
from sim.luck import fold, name_key
from sim.spec import (
    MAX_CALLS_PER_DAY,
    Amount,
    Day,
    Name,
    Rate,
    Refund,
    SegmentValue,
    Spec,
    StepSpec,
    Whole,
)
from sim.steps._base import CompileContext, CompiledStep, FloatArray, IntArray, Trigger
from sim.steps._kind import Event, Figures, Problem, Reference, StepKind, one_of
from sim.steps._money import REFUND, REFUND_FIGURES, schedule_refunds, take_payments
from sim.steps._open_deals import OpenDeals, read_open_deals
from sim.steps._pipeline import rep_figures
from sim.steps._selling import BUY, DECLINE, mark_bought
from sim.steps.offer import follows_references

if TYPE_CHECKING:
    from sim.ledger import Ledger
    from sim.model import FunnelModel
    from sim.steps._rep_agent import RepAgent

REP_FIGURES = ("calls", "closes", "revenue")
JUNK_REASONS = ("budget", "authority", "need", "timing")  # BANT
# figures reported only by a step that has what they count
REACH_FIGURES = ("unreached", "never_reached", "reminders")
REASON_FIGURES = tuple(f"disqualified_{name}" for name in JUNK_REASONS)


class Rep(Spec):
    """One sales rep: calls a day, the share of calls that close, and the rep's cost a day."""

    name: Name
    calls_per_day: Annotated[Whole, Field(ge=0, le=MAX_CALLS_PER_DAY)]
    close_rate: Rate
    cost_per_day: Amount = 0.0


class Team(Spec):
    """A team given as a count: close rates spread evenly over ``close_rate × (1 ± spread)``."""

    size: Annotated[Whole, Field(ge=1, le=500)]
    calls_per_day: Annotated[Whole, Field(ge=0, le=MAX_CALLS_PER_DAY)]
    close_rate: Rate
    close_rate_spread: Rate = 0.0
    cost_per_day: Amount = 0.0

    def reps(self) -> list[Rep]:
        """The reps, named rep1, rep2, …, from the weakest closer to the strongest."""
        n = self.size
        offsets = [0.0] * n if n == 1 else [2 * i / (n - 1) - 1 for i in range(n)]
        return [
            Rep(
                name=f"rep{i + 1}",
                calls_per_day=self.calls_per_day,
                close_rate=min(max(self.close_rate * (1 + self.close_rate_spread * o), 0.0), 1.0),
                cost_per_day=self.cost_per_day,
            )
            for i, o in enumerate(offsets)
        ]


class Reasons(Spec):
    """Why junk is dropped (BANT): the shares of budget, authority, need and timing."""

    budget: Rate = 0.0
    authority: Rate = 0.0
    need: Rate = 0.0
    timing: Rate = 0.0

    @model_validator(mode="after")
    def _shares(self) -> Reasons:
        if abs(self.budget + self.authority + self.need + self.timing - 1.0) > 1e-9:
            raise ValueError("the shares of budget, authority, need and timing must add up to 1")
        return self


class Qualify(Spec):
    """Screen leads before the sales queue: junk leads are dropped, at a cost per lead."""

    cost_per_lead: Amount = 0.0
    reasons: Reasons | None = None  # why the junk is dropped, recorded by share


class Reminder(Spec):
    """A message to a lead a call did not reach: its cost, and the share who answer it."""

    via: Literal["sms", "email"]
    cost: Amount = 0.0
    response_rate: Rate


class Reach(Spec):
    """A call reaches the lead with ``rate``; the others get reminders and wait for another call.

    A lead who answers a reminder is reached on the next call; the others with ``rate``
    again, up to ``attempts`` calls in all.
    """

    rate: Rate
    attempts: Annotated[Whole, Field(ge=1, le=20)] = 3
    reminders: list[Reminder] = []


class SalesCall(StepSpec):
    """Leads queue for a team of reps; a lead cools while waiting and leaves after a while."""

    type: Literal["sales_call"]
    after: Name
    delay_days: Day = 0
    price: Amount  # the mean deal value
    deal_spread: Amount = 0.0  # sigma of the deal value's lognormal spread around the price
    value: SegmentValue | None = None  # the deal's worth to the client; None: all can afford
    cogs: Amount = 0.0
    team: Annotated[list[Rep], Field(min_length=1)] | Team
    order: Literal["arrival", "score"] = "arrival"
    cooling_per_day: Rate = 0.0
    max_wait_days: Day = 14
    qualify: Qualify | None = None
    reach: Reach | None = None  # None: every call reaches the lead
    refund: Refund = Refund()
    # sale: a close is a sale; deal: a close opens a deal the rep owns, which the stages
    # after it carry on and a payment step closes (no money here)
    outcome: Literal["sale", "deal"] = "sale"
    # today's pipeline: a CSV of the team's open deals (sim/steps/_open_deals.py), carried
    # on from day 0 next to the new leads; needs `outcome: deal`
    open_deals: Annotated[
        OpenDeals | None, BeforeValidator(read_open_deals), WithJsonSchema({"type": "string"})
    ] = None

    @property
    def reps(self) -> list[Rep]:
        """The team rep by rep, whichever way it was given."""
        return self.team.reps() if isinstance(self.team, Team) else list(self.team)


class _Worked(Protocol):
    """A stage worked by a team's reps (sim/steps/stage.py)."""

    @property
    def index(self) -> int: ...

    def work(self, model: FunnelModel, who: IntArray, since: IntArray) -> None:
        """Work the deals ``who`` today, waiting in the stage since ``since``."""
        ...


@dataclass
class _DealWork:
    """Deals waiting in a stage for a call of their owner, in the order they came."""

    stage: _Worked
    who: IntArray
    since: IntArray


@dataclass
class _Queue:
    """The leads waiting for a call, in the order they joined, and the team calling them.

    The team's agents are this replication's reps; the calls read their close rates.
    """

    team: list[RepAgent]
    who: IntArray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    joined: IntArray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    turn: int = 0  # the call slot the team's next call takes: turns go on from day to day
    # stages the reps work (``worked_by``): deals waiting there for their owner's call, by
    # stage index; and each rep's calls left today, shared by those deals and new leads
    deals: dict[int, _DealWork] | None = None
    left: IntArray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    today: int = -1
    # with ``reach``: per lead in line, the calls tried, and whether they answered a reminder
    tries: IntArray | None = None
    warm: np.ndarray | None = None
    carry: bool = False  # the open deals of the CSV are still to be carried in (day 0)

    def calls_left(self, day: int) -> IntArray:
        """Each rep's calls still free today (a new day: all of them)."""
        if self.today != day:
            self.today = day
            self.left = np.array([rep.calls_per_day for rep in self.team], dtype=np.int64)
        return self.left

    def join(
        self,
        who: IntArray,
        day: int,
        priority: FloatArray,
        again: tuple[IntArray, np.ndarray] | None = None,
    ) -> None:
        """Leads joining today go to the back, in a random order among themselves.

        Random, not by visitor id: ids come in blocks by channel, so an order by id would
        call one channel's leads first every day. The order is by each lead's own uniform
        ``priority``, so a lead keeps their place relative to the others whoever else joins.
        ``again``: leads a call did not reach, with the calls tried and whether they
        answered a reminder.
        """
        order = np.argsort(priority, kind="stable")
        self.who = np.concatenate((self.who, who[order]))
        self.joined = np.concatenate((self.joined, np.full(who.size, day, dtype=np.int64)))
        if self.tries is not None and self.warm is not None:
            tries = np.zeros(who.size, np.int64) if again is None else again[0]
            warm = np.zeros(who.size, np.bool_) if again is None else again[1]
            self.tries = np.concatenate((self.tries, tries[order]))
            self.warm = np.concatenate((self.warm, warm[order]))

    @property
    def close_rate(self) -> FloatArray:
        """Each rep's close rate, in team order."""
        return np.array([rep.close_rate for rep in self.team])

    def keep(self, mask: np.ndarray) -> None:
        """Keep only the leads where ``mask`` is true."""
        self.who, self.joined = self.who[mask], self.joined[mask]
        if self.tries is not None and self.warm is not None:
            self.tries, self.warm = self.tries[mask], self.warm[mask]


@dataclass(frozen=True)
class CompiledSalesCall:
    """A sales team working one queue; a close is a sale of a deal around ``price``."""

    id: str
    index: int
    bit: int
    trigger: Trigger
    price: float
    deal_spread: float
    value: FloatArray | None  # per segment; None: every lead can afford the deal
    cogs: float
    reps: tuple[str, ...]
    calls_per_day: tuple[int, ...]
    close_rate: FloatArray  # per rep
    slot_rep: IntArray  # the rep of each of the day's call slots, reps taking turns
    by_score: bool
    cooling: float
    max_wait: int
    qualify_cost: float | None  # None: no screening before the queue
    refund_rate: float
    refund_within: int
    kind: str = "sales_call"
    opens_deals: bool = False  # a close opens a deal the rep owns instead of selling
    reach_rate: float | None = None  # None: every call reaches the lead
    attempts: int = 1
    reminders: tuple[tuple[float, float], ...] = ()  # (cost, response rate) of each
    junk_reasons: FloatArray | None = None  # cumulative shares of budget, authority, need, timing
    # today's pipeline: per open deal, its stage id, days there, owner (rep index), amount
    open_deals: tuple[tuple[str, int, int, float], ...] = ()

    def start(self, model: FunnelModel) -> None:
        """Hire the team (one Mesa agent per rep) and open an empty queue."""
        from sim.steps._rep_agent import RepAgent  # Mesa: only once a model is built

        team = [
            RepAgent(model, name, calls, float(rate))
            for name, calls, rate in zip(
                self.reps, self.calls_per_day, self.close_rate, strict=True
            )
        ]
        model.state[self.id] = queue = _Queue(team)
        if self.reach_rate is not None:
            queue.tries, queue.warm = np.empty(0, np.int64), np.empty(0, np.bool_)
        if self.open_deals:
            queue.carry = True
            model.call_again(self.id, 0)
        model.ledger.reps[self.index] = {name: np.zeros(len(team)) for name in REP_FIGURES}

    def apply(self, model: FunnelModel, who: IntArray) -> None:
        """Queue today's new leads, let go of those who waited too long, make today's calls."""
        queue: _Queue = model.state[self.id]
        if queue.carry:
            queue.carry = False
            _carry_open_deals(model, self)
        joining = self._screen(model, who)
        queue.join(joining, model.day, model.uniforms(self.index, "queue", joining))
        if model.log is not None:
            model.log.add(joining, model.day, self.index, "queue")
        self._drop_stale(model, queue)
        if queue.deals is not None:  # the reps' open deals come before new leads
            _serve_deals(model, self.id, queue)
        self._call(model, queue)
        ledger = model.ledger
        ledger.count("queue", model.day, queue.who.size)
        ledger.steps["queued_at_end"][self.index] = queue.who.size
        if queue.who.size:
            model.call_again(self.id, model.day + 1)

    def _screen(self, model: FunnelModel, who: IntArray) -> IntArray:
        """Count the new leads; with ``qualify``, drop the junk among them at a cost each."""
        ledger, pop = model.ledger, model.population
        ledger.tally("reached", self.index, who.size)
        if self.qualify_cost is None or who.size == 0:
            return who
        ledger.cost_each("acquisition", model.day, self.qualify_cost, who, step=self.index)
        junk = pop.junk[who]
        ledger.tally("disqualified", self.index, int(np.count_nonzero(junk)))
        if self.junk_reasons is not None:
            dropped = who[junk]
            u = model.uniforms(self.index, "junk_reason", dropped)
            reason = np.searchsorted(self.junk_reasons, u, side="right")
            for i, name in enumerate(JUNK_REASONS):
                ledger.tally(f"disqualified_{name}", self.index, dropped[reason == i])
        if model.log is not None:
            model.log.add(who[junk], model.day, self.index, "disqualified")
        return who[~junk]

    def _drop_stale(self, model: FunnelModel, queue: _Queue) -> None:
        stale = model.day - queue.joined > self.max_wait
        if not stale.any():
            return
        gone = queue.who[stale]
        queue.keep(~stale)
        model.ledger.tally("dropped", self.index, gone.size)
        if model.log is not None:
            model.log.add(gone, model.day, self.index, "drop_out")
        model.emit("declined", self.id, gone)

    def _call(self, model: FunnelModel, queue: _Queue) -> None:
        """The day's calls: the first leads in line, each to the rep whose turn it is.

        Turns go on from one day to the next, so on quiet days the calls still go round
        the team rather than always to the first rep.
        """
        pop, day = model.population, model.day
        slots = self.slot_rep.size
        if queue.deals is None:
            free = None
            n = min(queue.who.size, slots)
        else:  # the calls the reps' open deals left free today, in turn
            order = self.slot_rep[(queue.turn + np.arange(slots)) % slots]
            free = order[_rank_within(order) < queue.calls_left(day)[order]]
            n = min(queue.who.size, free.size)
        if n == 0:
            return
        if self.by_score:  # warmest first; ties in order of joining (random within a day)
            line = np.lexsort((np.arange(queue.who.size), -pop.trust[queue.who]))
        else:
            line = np.arange(queue.who.size)
        called = np.zeros(queue.who.size, dtype=bool)
        called[line[:n]] = True
        who, waited = queue.who[line[:n]], day - queue.joined[line[:n]]
        tries, warm = (None, None) if queue.tries is None else (queue.tries, queue.warm)
        if tries is not None and warm is not None:
            tries, warm = tries[line[:n]], warm[line[:n]]
        queue.keep(~called)
        if free is None:
            rep = self.slot_rep[(queue.turn + np.arange(n)) % slots]
        else:
            rep = free[:n]
            queue.left -= np.bincount(rep, minlength=queue.left.size)
        queue.turn = (queue.turn + n) % slots
        if tries is not None and warm is not None and self.reach_rate is not None:
            u = model.uniforms(self.index, "reach", who, tries)
            reached = warm | (u < self.reach_rate)
            self._unreached(model, queue, who[~reached], rep[~reached], tries[~reached] + 1)
            who, rep, waited = who[reached], rep[reached], waited[reached]
        deal = deal_values(model.uniforms(self.index, "deal", who), self.price, self.deal_spread)
        chance = close_chance(queue.close_rate[rep], waited, self.cooling)
        closed = model.uniforms(self.index, "close", who) < chance
        closed &= ~pop.junk[who]
        if self.value is not None:
            closed &= pop.wtp_scale[who] * self.value[pop.segment[who]] >= deal
        self._book(model, who, rep, waited, deal, closed)

    def _unreached(
        self, model: FunnelModel, queue: _Queue, who: IntArray, rep: IntArray, tries: IntArray
    ) -> None:
        """Calls that did not reach the lead: reminders, and back in line, or given up."""
        ledger, day = model.ledger, model.day
        ledger.reps[self.index]["calls"] += np.bincount(rep, minlength=len(self.reps))
        ledger.count("calls", day, who)
        ledger.tally("calls", self.index, who)
        ledger.tally("unreached", self.index, who)
        again = tries < self.attempts
        retry, tried = who[again], tries[again]
        answered = np.zeros(retry.size, dtype=np.bool_)
        for i, (cost, rate) in enumerate(self.reminders):
            ledger.cost_each("acquisition", day, cost, retry, step=self.index)
            ledger.tally("reminders", self.index, retry)
            answered |= model.uniforms(self.index, "reminder", retry, tried * 16 + i) < rate
        priority = model.uniforms(self.index, "queue", retry, tried)
        queue.join(retry, day, priority, (tried, answered))
        ledger.tally("never_reached", self.index, who[~again])
        if model.log is not None:
            model.log.add(who, day, self.index, "call", rep + 1.0)
            model.log.add(who, day, self.index, "unreached")
            if self.reminders:
                model.log.add(retry, day, self.index, "reminded")
            model.log.add(who[~again], day, self.index, "never_reached")
        model.emit("declined", self.id, who[~again])

    def _book(
        self,
        model: FunnelModel,
        who: IntArray,
        rep: IntArray,
        waited: IntArray,
        deal: FloatArray,
        closed: np.ndarray,
    ) -> None:
        ledger, day, n_reps = model.ledger, model.day, len(self.reps)
        buyers, deals = who[closed], deal[closed]
        figures = ledger.reps[self.index]
        figures["calls"] += np.bincount(rep, minlength=n_reps)
        figures["closes"] += np.bincount(rep[closed], minlength=n_reps)
        if not self.opens_deals:  # a deal's money is the payment's
            figures["revenue"] += np.bincount(rep[closed], deals, minlength=n_reps)
        ledger.count("calls", day, who.size)
        ledger.tally("calls", self.index, who.size)
        ledger.tally("waited_days", self.index, float(waited.sum()))
        ledger.tally("converted", self.index, buyers.size)
        if self.opens_deals:
            _open_deals(model, buyers, deals, rep[closed], day)
        else:
            mark_bought(model, self.index, self.bit, buyers)
            take_payments(model, self.index, buyers, deals, self.cogs, new_orders=True)
            schedule_refunds(model, self.index, buyers, deals, self.refund_rate, self.refund_within)
        if model.log is not None:
            model.log.add(who, day, self.index, "call", rep + 1.0)
            model.log.add(buyers, day, self.index, "deal" if self.opens_deals else "buy", deals)
            model.log.add(who[~closed], day, self.index, "decline")
        model.emit("bought", self.id, buyers)
        model.emit("declined", self.id, who[~closed])


def _rank_within(group: np.ndarray) -> IntArray:
    """Each entry's rank among the earlier entries of its group: [2, 0, 2, 2] → 0, 0, 1, 2."""
    order = np.argsort(group, kind="stable")
    sorted_group = group[order]
    first = np.r_[0, np.flatnonzero(sorted_group[1:] != sorted_group[:-1]) + 1]
    starts = np.repeat(first, np.diff(np.r_[first, group.size]))
    rank = np.empty(group.size, dtype=np.int64)
    rank[order] = np.arange(group.size) - starts
    return rank


def join_work(model: FunnelModel, sales_step: str) -> None:
    """A stage's deals will share the calls of ``sales_step``'s reps (called at its start)."""
    queue: _Queue = model.state[sales_step]
    if queue.deals is None:
        queue.deals = {}


def work_deals(model: FunnelModel, sales_step: str, stage: _Worked, who: IntArray) -> None:
    """Deals entering ``stage`` today wait for their owner's call; serve what calls allow."""
    queue: _Queue = model.state[sales_step]
    assert queue.deals is not None
    since = np.full(who.size, model.day, dtype=np.int64)
    waiting = queue.deals.get(stage.index)
    if waiting is None:
        queue.deals[stage.index] = _DealWork(stage, who, since)
    else:
        waiting.who = np.concatenate((waiting.who, who))
        waiting.since = np.concatenate((waiting.since, since))
    _serve_deals(model, sales_step, queue)


def _serve_deals(model: FunnelModel, sales_step: str, queue: _Queue) -> None:
    """Each rep works their waiting deals, the latest stage first, as their calls allow.

    A deal takes one of its owner's calls of the day; a deal without an owner takes none.
    Deals left waiting come back tomorrow (the sales step is called again).
    """
    assert queue.deals is not None
    left, owner_of = queue.calls_left(model.day), model.population.owner
    for index in sorted(queue.deals, reverse=True):
        waiting = queue.deals[index]
        if waiting.who.size == 0:
            continue
        owner = owner_of[waiting.who].astype(np.int64)
        mine = owner > 0
        rep = np.where(mine, owner - 1, 0)
        served = ~mine | (_rank_within(np.where(mine, rep, -1)) < left[rep])
        left -= np.bincount(rep[served & mine], minlength=left.size)
        who, since = waiting.who[served], waiting.since[served]
        waiting.who, waiting.since = waiting.who[~served], waiting.since[~served]
        waiting.stage.work(model, who, since)
    if any(w.who.size for w in queue.deals.values()):
        model.call_again(sales_step, model.day + 1)


def _carry_open_deals(model: FunnelModel, step: CompiledSalesCall) -> None:
    """Bring the team's open deals in as leads who have them, each into its stage.

    They are counted as visitors and leads of the first channel on day 0 (at no cost), so
    the tables by channel and segment add up; they are never junk.
    """
    stage, days, owner, amount = (np.array(col) for col in zip(*step.open_deals, strict=True))
    n = stage.size
    uid = fold(name_key(f"open_deals/{step.id}"), np.arange(n, dtype=np.uint64))
    replication = np.full(n, getattr(model, "replication", 0), dtype=np.int64)
    who = model.arrive_visitors(0, uid, replication, np.zeros(n, dtype=np.int64))
    pop = model.population
    pop.junk[who], pop.lead[who], pop.carried[who] = False, True, True
    ledger = model.ledger
    ledger.count("visitors", 0, who)
    ledger.arrivals(0, who)
    ledger.count("leads", 0, who)
    if model.log is not None:
        model.log.add(who, 0, len(model.compiled.step_ids), "arrive")
    pop.deal[who], pop.owner[who], pop.deal_day[who] = amount, owner + 1, -days
    by_id = {s.id: s for s in model.compiled.steps}
    for stage_id in dict.fromkeys(stage.tolist()):
        mine = stage == stage_id
        by_id[stage_id].carry(model, who[mine], days[mine].astype(np.int64))  # type: ignore[attr-defined]
    if model.log is not None:
        model.log.add(who, 0, step.index, "deal", amount)


def _open_deals(
    model: FunnelModel, who: IntArray, amount: FloatArray, rep: IntArray, day: int
) -> None:
    """The calls that closed open deals: each keeps its amount and its rep to the end."""
    pop = model.population
    pop.deal[who] = amount
    pop.owner[who] = rep + 1
    pop.deal_day[who] = day


def _call_slots(calls_per_day: list[int]) -> IntArray:
    """The rep of each call slot of a day, reps taking turns: [3, 2] → 0, 1, 0, 1, 0."""
    caps = np.asarray(calls_per_day, dtype=np.int64)
    rep = np.repeat(np.arange(caps.size), caps)
    turn = np.concatenate([np.arange(c) for c in caps]) if caps.size else rep
    return rep[np.lexsort((rep, turn))]


def compile_step(spec: SalesCall, ctx: CompileContext) -> CompiledSalesCall:
    """Compile a ``sales_call`` step."""
    reps = spec.reps
    return CompiledSalesCall(
        id=spec.id,
        index=ctx.step_index[spec.id],
        bit=ctx.bits[spec.id],
        trigger=Trigger(ctx.trigger_event(spec.after), spec.after, (spec.delay_days,)),
        price=spec.price,
        deal_spread=spec.deal_spread,
        value=None if spec.value is None else ctx.per_segment(spec.value),
        cogs=spec.cogs,
        reps=tuple(r.name for r in reps),
        calls_per_day=tuple(r.calls_per_day for r in reps),
        close_rate=np.array([r.close_rate for r in reps]),
        slot_rep=_call_slots([r.calls_per_day for r in reps]),
        by_score=spec.order == "score",
        cooling=spec.cooling_per_day,
        max_wait=spec.max_wait_days,
        qualify_cost=None if spec.qualify is None else spec.qualify.cost_per_lead,
        refund_rate=spec.refund.rate,
        refund_within=spec.refund.within_days,
        opens_deals=spec.outcome == "deal",
        reach_rate=None if spec.reach is None else spec.reach.rate,
        attempts=1 if spec.reach is None else spec.reach.attempts,
        reminders=()
        if spec.reach is None
        else tuple((r.cost, r.response_rate) for r in spec.reach.reminders),
        junk_reasons=_junk_reasons(spec.qualify),
        open_deals=()
        if spec.open_deals is None
        else tuple(
            (
                d.stage,
                d.days_in_stage,
                reps.index(next(r for r in reps if r.name == d.owner)),
                d.amount,
            )
            for d in spec.open_deals.deals
        ),
    )


def _junk_reasons(qualify: Qualify | None) -> FloatArray | None:
    """The cumulative shares of the reasons junk is dropped, when the scenario gives them."""
    if qualify is None or qualify.reasons is None:
        return None
    shares = [getattr(qualify.reasons, name) for name in JUNK_REASONS]
    return np.cumsum(shares)[:-1]


def _check_team(spec: SalesCall) -> Iterator[Problem]:
    """A team given rep by rep names each rep once; open deals name its reps."""
    yield from _check_open_deals(spec)
    if not isinstance(spec.team, list):
        return
    seen: set[str] = set()
    for j, rep in enumerate(spec.team):
        if rep.name in seen:
            yield (
                ("team", j, "name"),
                f"duplicate rep name '{rep.name}'",
                "give each rep their own name",
            )
        seen.add(rep.name)


def _check_open_deals(spec: SalesCall) -> Iterator[Problem]:
    deals = spec.open_deals
    if deals is None:
        return
    if spec.outcome != "deal":
        yield (("open_deals",), "open deals need a pipeline", "add `outcome: deal`")
    names = {rep.name for rep in spec.reps}
    for deal in deals.deals:
        if deal.owner not in names:
            yield (
                ("open_deals",),
                f"{deals.where(deal, 'owner')}: '{deal.owner}' is not a rep of this team",
                f"the reps: {', '.join(sorted(names))}",
            )


def _references(spec: SalesCall) -> Iterator[Reference]:
    """What an offer names, and the stage of each open deal."""
    yield from follows_references(spec)
    if spec.open_deals is not None:
        for deal in spec.open_deals.deals:
            where = spec.open_deals.where(deal, "stage")
            yield Reference(("open_deals",), deal.stage, one_of("stage", "payment"), where)


def _team_pay(spec: SalesCall) -> float:
    """What the team costs a day: it is paid every day of the horizon."""
    return sum(rep.cost_per_day for rep in spec.reps)


def _tally(ledger: Ledger, step: CompiledStep, figures: Figures) -> Figures:
    """The mean wait of a called lead, and per rep: calls, closes, close rate, revenue."""
    calls = figures["calls"]
    waited = figures.pop("waited_days")
    figures["mean_wait_days"] = waited / calls if calls > 0 else math.nan
    assert isinstance(step, CompiledSalesCall)
    for name in (REACH_FIGURES if step.reach_rate is None else ()) + (
        REASON_FIGURES if step.junk_reasons is None else ()
    ):
        del figures[name]
    return figures | rep_figures(ledger.reps, step.index, step.reps)


KIND = StepKind(
    name="sales_call",
    spec=SalesCall,
    compile=compile_step,
    references=_references,
    check=_check_team,
    sells=True,
    declinable=True,
    figures=(
        "disqualified",
        "calls",
        "dropped",
        "queued_at_end",
        "waited_days",
        *REFUND_FIGURES,
        *REACH_FIGURES,
        *REASON_FIGURES,
    ),
    tally=_tally,
    daily=(
        "calls",  # sales calls made
        "queue",  # leads waiting for a sales call at the end of the day
    ),
    events=(
        BUY,
        DECLINE,
        REFUND,
        Event("disqualified", 14, "screened out as junk"),  # junk screened out before the queue
        Event("queue", 15, "joined the sales queue"),
        Event("call", 16),  # called by a rep (amount: the rep's number, from 1)
        Event("drop_out", 17, "left the sales queue, tired of waiting"),
        Event("deal", 45, "opened a deal"),  # amount: the deal's; its money comes at payment
        Event("unreached", 48, "not reached by the call"),
        Event("reminded", 49, "sent a reminder to answer"),
        Event("never_reached", 50, "never reached: gave up calling"),
    ),
    daily_cost=_team_pay,
)
