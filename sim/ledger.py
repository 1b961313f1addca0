"""The books of one replication: money and counts by day, by step and by channel."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from sim.steps import RegistryNames

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

# Daily series, in the order daily.csv writes them: these, then each step kind's own
# (sim/steps: a sales queue's calls, ...), in registry order.
DAILY = RegistryNames(
    (
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
    ),
    lambda kind: kind.daily,
)

# Per-step tallies; every step reports the first three, each kind keeps its own.
STEP_TALLIES = RegistryNames(
    ("reached", "converted", "revenue"), lambda kind: kind.figures + kind.tallies
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
