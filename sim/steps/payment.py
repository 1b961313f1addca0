"""Payment: the step of a sales pipeline that takes the money of a signed deal.

The only step of a pipeline that sells: its payers are the buyers, its payments the
orders and the revenue. A deal is paid with a plain probability (``1 − never_pays``), not
weighted by trust or price, a delay after it reaches the step (a contract signed today,
paid ten days later), at the amount the deal carries (docs/model.md §3.8).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np

from sim.spec import Amount, Name, Rate, StepSpec
from sim.steps._base import CompileContext, CompiledStep, FloatArray, IntArray, Trigger
from sim.steps._kind import Event, Figures, Reference, StepKind
from sim.steps._pipeline import (
    PIPELINE_FOLLOWS,
    StageTime,
    days_in_stage,
    deal_amounts,
    rep_figures,
)
from sim.steps._selling import BUY, mark_bought

if TYPE_CHECKING:
    from sim.ledger import Ledger
    from sim.model import FunnelModel

# per rep of the owning team: deals that reached the payment, paid, their revenue, and the
# days from opening to payment of those paid
REP_FIGURES = ("calls", "closes", "revenue", "days_to_close")


class Payment(StepSpec):
    """A signed deal paid after a delay, or never; the amount is the deal's."""

    type: Literal["payment"]
    after: Name
    price: Amount  # the mean amount of a deal that carries none of its own
    deal_spread: Amount = 0.0  # sigma of such a deal's lognormal spread around the price
    cogs: Amount = 0.0
    delay: StageTime = StageTime()  # days from reaching the step to the money
    never_pays: Rate = 0.0  # the share of deals that are signed but never paid
    worked_by: Name | None = None  # the sales_call whose reps own the deals: a row per rep
    quota: Amount | None = None  # the bookings asked for over the horizon (the forecast)
    period: Literal["week", "month"] = "month"  # the forecast's periods


@dataclass(frozen=True)
class CompiledPayment:
    """Each deal pays its amount on a day of its own, or never."""

    id: str
    index: int
    bit: int
    trigger: Trigger
    price: float
    deal_spread: float
    cogs: float
    median: float
    spread: float
    never_pays: float
    reps: tuple[str, ...] = ()  # the reps who own the deals (``worked_by``)
    kind: str = "payment"

    def apply(self, model: FunnelModel, who: IntArray) -> None:
        """Decide whether and when each deal reaching the step today pays; book it."""
        pop, ledger, day = model.population, model.ledger, model.day
        ledger.tally("reached", self.index, who)
        amount = deal_amounts(model, self.index, who, self.price, self.deal_spread)
        pays = model.uniforms(self.index, "pays", who) >= self.never_pays
        pays &= ~pop.junk[who]  # a junk request never pays
        delay = days_in_stage(model.uniforms(self.index, "delay", who), self.median, self.spread)
        paid_on = day + delay
        inside = paid_on < ledger.horizon
        paid = pays & inside
        payers, amounts, days = who[paid], amount[paid], paid_on[paid]
        mark_bought(model, self.index, self.bit, payers)
        if payers.size:
            ledger.sale(self.index, payers, amounts, days, cogs=self.cogs, new_orders=True)
            pop.revenue[payers] += amounts
        ledger.tally("converted", self.index, payers)
        ledger.tally("never_paid", self.index, who[~pays])
        ledger.tally("unpaid_at_end", self.index, who[pays & ~inside])
        ledger.tally_each("delay_days", self.index, payers, delay[paid].astype(np.float64))
        to_close = (paid_on - pop.deal_day[who]).astype(np.float64)
        ledger.tally_each("days_to_close", self.index, payers, to_close[paid])
        carried = paid & pop.carried[who]
        ledger.tally("carried_paid", self.index, who[carried])
        ledger.tally_each("carried_revenue", self.index, who[carried], amount[carried])
        if self.reps:
            _count_owners(ledger.reps[self.index], pop.owner[who], paid, amount, to_close)
        if model.log is not None:
            model.log.add(who, day, self.index, "invoiced", amount)
            model.log.add(payers, days, self.index, "buy", amounts)
            model.log.add(who[~pays], day, self.index, "never_paid", amount[~pays])
        model.emit_each("bought", self.id, payers, delay[paid])

    def carry(self, model: FunnelModel, who: IntArray, elapsed: IntArray) -> None:
        """Open deals carried in today, invoiced already: they pay as any other."""
        self.apply(model, who)


@dataclass(frozen=True)
class CompiledOwnedPayment(CompiledPayment):
    """A payment whose deals have owners: its books keep a row per rep."""

    def start(self, model: FunnelModel) -> None:
        """Open the per-rep rows of this replication's books."""
        model.ledger.reps[self.index] = {name: np.zeros(len(self.reps)) for name in REP_FIGURES}


def _count_owners(
    figures: dict[str, FloatArray],
    owner: np.ndarray,
    paid: np.ndarray,
    amount: FloatArray,
    days_to_close: FloatArray,
) -> None:
    """Per owner: deals that reached the payment, those paid, their money and time to close."""
    n, mine = figures["calls"].size, owner > 0
    rep, won = owner[mine] - 1, paid[mine]
    figures["calls"] += np.bincount(rep, minlength=n)[:n]
    figures["closes"] += np.bincount(rep[won], minlength=n)[:n]
    figures["revenue"] += np.bincount(rep[won], amount[mine][won], minlength=n)[:n]
    figures["days_to_close"] += np.bincount(rep[won], days_to_close[mine][won], minlength=n)[:n]


def compile_step(spec: Payment, ctx: CompileContext) -> CompiledPayment:
    """Compile a ``payment`` step; one with ``worked_by`` keeps a row per rep."""
    cls = CompiledPayment if spec.worked_by is None else CompiledOwnedPayment
    return cls(
        id=spec.id,
        index=ctx.step_index[spec.id],
        bit=ctx.bits[spec.id],
        trigger=Trigger(ctx.trigger_event(spec.after), spec.after, (0,)),
        price=spec.price,
        deal_spread=spec.deal_spread,
        cogs=spec.cogs,
        median=spec.delay.median,
        spread=spec.delay.spread,
        never_pays=spec.never_pays,
        reps=() if spec.worked_by is None else ctx.teams[spec.worked_by],
    )


def _references(spec: Payment) -> Iterator[Reference]:
    yield Reference(("after",), spec.after, PIPELINE_FOLLOWS)
    if spec.worked_by is not None:
        yield Reference(("worked_by",), spec.worked_by, lambda kind: kind.name == "sales_call")


def _tally(ledger: Ledger, step: CompiledStep, figures: Figures) -> Figures:
    """The mean delay of a payment; per owner: deals, paid, revenue, mean days to close."""
    paid = figures["converted"]
    figures["mean_delay_days"] = figures.pop("delay_days") / paid if paid else math.nan
    figures["mean_days_to_close"] = figures.pop("days_to_close") / paid if paid else math.nan
    assert isinstance(step, CompiledPayment)
    return figures | rep_figures(ledger.reps, step.index, step.reps)


KIND = StepKind(
    name="payment",
    spec=Payment,
    compile=compile_step,
    references=_references,
    sells=True,
    figures=(
        "never_paid",
        "unpaid_at_end",
        "delay_days",
        "days_to_close",
        "carried_paid",
        "carried_revenue",
    ),
    tally=_tally,
    events=(
        Event("invoiced", 46, "invoiced"),  # amount: the deal's
        BUY,
        Event("never_paid", 44, "signed but never paid"),
    ),
)
