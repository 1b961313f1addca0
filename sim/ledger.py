"""The books of one replication: money and counts by day, by step and by channel."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

# Daily series, in the order daily.csv writes them.
DAILY = (
    "spend",  # traffic: paid budgets, organic cost per day, partner commissions
    "visitors",
    "leads",
    "orders",
    "revenue",
    "refunds",
    "cogs",
    "fees",
    "operating",  # delivery per lead, emails, fixed costs per day, sales teams' pay
    "referred",  # visitors brought by referrals (also counted in visitors)
    "repeat_orders",  # repeat purchases (also counted in orders)
    "calls",  # sales calls made
    "queue",  # leads waiting for a sales call at the end of the day
    "contacts",  # win-back contacts
)

# Per-step tallies; every step reports the first three, a kind may use the others.
STEP_TALLIES = (
    "reached",
    "converted",
    "revenue",
    "refunds",
    "refunded",
    "sent",
    "opened",
    "unsubscribed",
    "payments",
    "churned",
    "active_at_end",
    "referred",
    "repeat_orders",
    "repeat_revenue",
    "disqualified",
    "calls",
    "dropped",
    "waited_days",
    "queued_at_end",
)


class Ledger:
    """Accumulates a replication's money and counts; every amount is non-negative."""

    def __init__(self, horizon: int, n_steps: int, n_channels: int) -> None:
        self.horizon = horizon
        self.daily = {name: np.zeros(horizon) for name in DAILY}
        self.steps = {name: np.zeros(n_steps) for name in STEP_TALLIES}
        self.channel_spend = np.zeros(n_channels)
        self.channel_visitors = np.zeros(n_channels)
        self.reps: dict[int, dict[str, FloatArray]] = {}  # sales step -> figure -> per rep

    def add_daily(self, name: str, day: int, amount: float) -> None:
        """Add an amount to one day of one daily series."""
        self.daily[name][day] += amount

    def add_on_days(self, name: str, days: IntArray, amounts: FloatArray | float) -> None:
        """Add amounts on many days at once; days at or past the horizon are dropped."""
        days = np.asarray(days)
        weights = np.broadcast_to(np.asarray(amounts, dtype=float), days.shape)
        inside = days < self.horizon
        self.daily[name] += np.bincount(days[inside], weights[inside], minlength=self.horizon)

    def tally(self, name: str, step: int, amount: float) -> None:
        """Add to one step's tally."""
        self.steps[name][step] += amount
