"""Sending one email to leads: the behaviour an email sequence and an email offer share."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sim.behavior import add_trust
from sim.steps._base import IntArray
from sim.steps._kind import Event

if TYPE_CHECKING:
    from sim.model import FunnelModel

# what sending an email writes to the event log, and the step tallies it keeps
EMAIL_EVENTS = (
    Event("email_opened", 3, "email opened"),
    Event("email_ignored", 4, "email not opened"),
    Event("unsubscribe", 5, "unsubscribed"),
)
EMAIL_TALLIES = ("sent", "opened", "unsubscribed")


def send_email(
    model: FunnelModel, step: int, who: IntArray, cost: float
) -> tuple[IntArray, IntArray]:
    """Send an email to those of ``who`` still subscribed; returns (recipients, readers).

    Each recipient opens it with the segment's open rate (an open adds the segment's trust per
    open) and, independently, unsubscribes with the segment's unsubscribe rate. An opened
    email is read even if the reader unsubscribes from it. Both draws are the visitor's own
    for the step and the day (two emails of one sequence on one day share them).
    """
    pop, c, day = model.population, model.compiled, model.day
    who = who[pop.subscribed[who]]
    seg = pop.segment[who]
    opened = model.uniforms(step, "open", who, day) < c.seg_open_rate[seg]
    leaving = model.uniforms(step, "unsubscribe", who, day) < c.seg_unsubscribe_rate[seg]
    readers = who[opened]
    pop.trust[readers] = add_trust(pop.trust[readers], c.seg_trust_per_open[seg[opened]])
    pop.subscribed[who[leaving]] = False
    ledger = model.ledger
    ledger.cost_each("acquisition", model.day, cost, who, step=step)
    ledger.tally("sent", step, who)
    ledger.tally("opened", step, readers)
    ledger.tally("unsubscribed", step, who[leaving])
    if model.log is not None:
        model.log.add(readers, model.day, step, "email_opened")
        model.log.add(who[~opened], model.day, step, "email_ignored")
        model.log.add(who[leaving], model.day, step, "unsubscribe")
    return who, readers
