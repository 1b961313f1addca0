"""Sending one email to leads: the behaviour an email sequence and an email offer share."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np

import sim._compiled as kernels
from sim.behavior import add_trust
from sim.steps._base import FloatArray, IntArray
from sim.steps._kind import Event
from sim.steps._layers import moved
from sim.steps._record import record_of

if TYPE_CHECKING:
    from sim.model import FunnelModel

# what sending an email writes to the event log, and the step tallies it keeps
EMAIL_EVENTS = (
    Event("email_opened", 3, "email opened"),
    Event("email_ignored", 4, "email not opened"),
    Event("unsubscribe", 5, "unsubscribed"),
    Event("email_clicked", 19, "clicked a link in the email"),
    Event("email_machine_opened", 20, "email opened by the mail app, not read"),
)
EMAIL_TALLIES = ("sent", "opened", "unsubscribed", "clicked")
EMAIL_FIGURES = ("sent", "opened", "clicked", "unsubscribed")  # what a sequence reports
_DRAWS = ("open", "unsubscribe")  # a recipient's two draws for an email


@dataclass(frozen=True)
class EmailHabits:
    """How each segment's leads treat an email beyond opening it: clicks, machine opens, fatigue.

    One value per segment index. All zero (the defaults) leaves an email as it was before
    these keys: no machine opens, no clicks, no fatigue.
    """

    click_rate: FloatArray
    machine_open_share: FloatArray
    open_decay: FloatArray
    unsubscribe_growth: FloatArray
    trust_per_ignored: FloatArray
    ignored_streak: FloatArray

    @classmethod
    def compile(cls, segments: Iterable[Any]) -> EmailHabits:
        """From the scenario's segments (each with an ``email`` block)."""
        emails = [seg.email for seg in segments]
        return cls(
            click_rate=np.array([e.click_rate for e in emails], dtype=np.float64),
            machine_open_share=np.array([e.machine_open_share for e in emails], dtype=np.float64),
            open_decay=np.array([e.open_decay for e in emails], dtype=np.float64),
            unsubscribe_growth=np.array([e.unsubscribe_growth for e in emails], dtype=np.float64),
            trust_per_ignored=np.array([e.trust_per_ignored for e in emails], dtype=np.float64),
            ignored_streak=np.array([e.ignored_streak for e in emails], dtype=np.float64),
        )

    @cached_property
    def fatigued(self) -> bool:
        """Whether how often a lead is mailed changes anything."""
        return bool(self.open_decay.any() or self.unsubscribe_growth.any())

    @cached_property
    def machine_opens(self) -> bool:
        """Whether any segment's mail apps open emails."""
        return bool(self.machine_open_share.any())

    @cached_property
    def ignored_costs_trust(self) -> bool:
        """Whether any segment's leads lose trust over emails they leave unread."""
        return bool(self.trust_per_ignored.any())

    @cached_property
    def plain(self) -> bool:
        """Whether an email is only opened or not, and unsubscribed from or not (and clicked).

        No fatigue, no machine opens, no trust lost over unread emails.
        """
        return not (self.fatigued or self.machine_opens or self.ignored_costs_trust)

    @cached_property
    def clicks(self) -> bool:
        """Whether any segment's readers click."""
        return bool(self.click_rate.any())


@dataclass(frozen=True)
class Sent:
    """Who an email went to, and what they did with it."""

    recipients: IntArray
    opened: IntArray  # counted as opened: real opens and machine opens
    readers: IntArray  # really opened (read): warmed, may click, see an emailed offer
    clickers: IntArray


def fatigue(
    habits: EmailHabits, seg: IntArray, recent: IntArray, open_rate: FloatArray, unsub: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Open and unsubscribe chances of leads who received ``recent`` emails in the window.

    ``open = open_rate · exp(−open_decay · (n − 1))`` and
    ``unsubscribe = min(1, unsubscribe_rate · (1 + unsubscribe_growth · (n − 1)))``, with n
    the emails in the last 7 days, this one included (docs/model.md §3.2).
    """
    extra = (recent - 1).astype(np.float64)
    opens = open_rate * np.exp(-habits.open_decay[seg] * extra)
    leaves = np.minimum(1.0, unsub * (1.0 + habits.unsubscribe_growth[seg] * extra))
    return opens, leaves


def send_email(
    model: FunnelModel,
    step: int,
    who: IntArray,
    cost: float,
    click_rate: FloatArray | None = None,
) -> Sent:
    """Send an email to those of ``who`` still subscribed.

    Each recipient opens it with the segment's open rate (an open adds the segment's trust per
    open) and, independently, unsubscribes with the segment's unsubscribe rate. An opened
    email is read even if the reader unsubscribes from it. A reader clicks with the click
    rate (the step's ``click_rate`` per segment, else the segment's); a share of recipients'
    mail apps open it too (counted as opened, never read or clicked). With fatigue, both
    rates depend on the emails received in the last 7 days. Every draw is the visitor's own
    for the step and the day (two emails of one sequence on one day share them).
    """
    pop, c, day = model.population, model.compiled, model.day
    habits = c.email_habits
    record = record_of(model)
    ledger = model.ledger
    machine: np.ndarray[Any, Any] | None = None
    sent_counts = read_counts = None  # per replication, when the compiled pass counted them
    if kernels.ENABLED and (habits is None or habits.plain):  # the same numbers, in one pass
        who, opened, readers, seg_read, gone, sent_counts, read_counts = kernels.emailed(
            who,
            pop.subscribed,
            pop.segment,
            pop.luck,
            pop.trust,
            c.seg_open_rate,
            c.seg_unsubscribe_rate,
            c.seg_trust_per_open,
            model.salts(step, _DRAWS, day),
            *ledger.counted_by,
        )
    else:
        who = who[pop.subscribed[who]]
        seg = pop.segment[who].astype(np.int64)
        open_p, unsub_p = c.seg_open_rate[seg], c.seg_unsubscribe_rate[seg]
        if habits is not None and habits.fatigued:
            recent = record.received(who, day)
            open_p, unsub_p = fatigue(habits, seg, recent, open_p, unsub_p)
        u_open, u_leave = model.draws(step, _DRAWS, who, day)
        opened = u_open < open_p
        leaving = u_leave < unsub_p
        readers, seg_read, gone = who[opened], seg[opened], who[leaving]
        pop.trust[readers] = add_trust(pop.trust[readers], c.seg_trust_per_open[seg_read])
        pop.subscribed[gone] = False
        if habits is not None and habits.ignored_costs_trust:
            _ignored(model, who, seg, opened)
        machine = _machine_opens(model, step, who, seg, opened)
    clickers = _clicks(model, step, readers, seg_read, click_rate)
    counted = readers if machine is None else who[opened | machine]
    ledger.known(who, sent_counts)
    ledger.cost_each("acquisition", model.day, cost, who, step=step)
    ledger.tally("sent", step, who)
    ledger.known(readers, read_counts)
    ledger.tally("opened", step, counted)
    ledger.tally("unsubscribed", step, gone)
    ledger.tally("clicked", step, clickers)
    if record.watches(step):
        for what, people in (
            ("sent", who),
            ("opened", counted),
            ("clicked", clickers),
            ("unsubscribed", gone),
        ):
            record.add(step, what, people)
    if model.log is not None:
        if machine is None:
            machine = np.zeros(who.size, dtype=np.bool_)
        model.log.add(readers, model.day, step, "email_opened")
        model.log.add(who[~opened & ~machine], model.day, step, "email_ignored")
        model.log.add(who[machine], model.day, step, "email_machine_opened")
        model.log.add(clickers, model.day, step, "email_clicked")
        model.log.add(gone, model.day, step, "unsubscribe")
    moved(model, step, counted)  # an open or a click may move the lead to another layer
    return Sent(who, counted, readers, clickers)


def _ignored(model: FunnelModel, who: IntArray, seg: IntArray, read: np.ndarray[Any, Any]) -> None:
    """Lower the trust of recipients who have left ``ignored_streak`` emails in a row unread.

    ``trust ← max(0, trust − trust_per_ignored)`` for each unread email once the lead's run
    of unread emails, this one included, is at least ``ignored_streak`` (docs/model.md §3.2).
    A machine open is not a read.
    """
    habits, pop = model.compiled.email_habits, model.population
    assert habits is not None
    streak = record_of(model).unread(who, read)
    falls = streak >= habits.ignored_streak[seg]
    losers = who[falls]
    pop.trust[losers] = np.maximum(0.0, pop.trust[losers] - habits.trust_per_ignored[seg[falls]])


def _machine_opens(
    model: FunnelModel, step: int, who: IntArray, seg: IntArray, opened: np.ndarray[Any, Any]
) -> np.ndarray[Any, Any] | None:
    """Which recipients' mail apps opened the email though they did not (never read).

    None: no segment's mail apps open emails (nobody).
    """
    habits = model.compiled.email_habits
    if habits is None or not habits.machine_opens:
        return None
    u = model.uniforms(step, "machine_open", who, model.day)
    return np.asarray((u < habits.machine_open_share[seg]) & ~opened)


def _clicks(
    model: FunnelModel,
    step: int,
    readers: IntArray,
    seg: IntArray,
    click_rate: FloatArray | None,
) -> IntArray:
    """The readers who click a link in the email."""
    habits = model.compiled.email_habits
    rate = click_rate
    if rate is None:
        if habits is None or not habits.clicks:
            return readers[:0]
        rate = habits.click_rate
    u = model.uniforms(step, "click", readers, model.day)
    return readers[u < rate[seg]]
