"""The books of one replication: money and counts by day, by step, by channel and segment."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from sim.population import Population
from sim.steps import RegistryNames

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
RealArray = NDArray[np.floating | np.integer]  # numpy's stubs type a weighted bincount as int

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


# Every cost belongs to exactly one line of the economics; each line is booked into one
# daily series (two lines share ``operating``).
COST_LINES = {
    "traffic": "spend",  # paid budgets, organic cost per day, partner commissions, rewards
    "acquisition": "operating",  # per lead, qualification, emails, win-back contacts, sales pay
    "cogs": "cogs",
    "fees": "fees",
    "refunds": "refunds",
    "fixed": "operating",  # fixed costs per day
}
# lines that share their daily series with another line (kept apart in ``Ledger.lines``)
_SHARED = frozenset(
    line for line, column in COST_LINES.items() if list(COST_LINES.values()).count(column) > 1
)
# What the breakdown's cells hold, booked: money and people per step × channel × segment.
# COGS, fees and commissions are rates of these (read them with ``Ledger.breakdown``).
CELLS = (
    "revenue",
    "payments",
    "repeats",
    "repeat_revenue",
    "refunds",
    "refunded",
    "subscribers",
    "churned",
    "traffic",
    "acquisition",
    "fixed",
)


class Ledger:
    """Accumulates a replication's money and counts; every amount is non-negative.

    Money is booked only through :meth:`sale`, :meth:`repeat_orders`, :meth:`refund`,
    :meth:`cost`, :meth:`cost_each` and :meth:`fixed_costs`. Each booking fills the daily
    series, the step totals, the cost lines and, when the breakdown is kept, the cells of
    step × channel × segment at once, so the breakdown cannot disagree with the totals.
    A cell's last index along each axis holds what no step, channel or segment caused
    (a channel's cost per day has no segment; fixed costs have none of the three).

    Args:
        horizon: days in the run.
        n_steps: steps of the scenario.
        payment_fee: the share of every payment the processor keeps.
        commission: per channel, the share of its visitors' payments it earns.
        people: the visitors (their channel and segment are looked up).
        n_segments: segments of the scenario.
        breakdown: keep the cells of step × channel × segment (a little slower).
    """

    def __init__(
        self,
        horizon: int,
        n_steps: int,
        *,
        payment_fee: float,
        commission: FloatArray,
        people: Population,
        n_segments: int,
        breakdown: bool = False,
    ) -> None:
        self.horizon = horizon
        self.daily = {name: np.zeros(horizon) for name in DAILY}
        self.steps = {name: np.zeros(n_steps) for name in STEP_TALLIES}
        self.lines = {
            line: np.zeros(horizon) if line in _SHARED else self.daily[column]
            for line, column in COST_LINES.items()
        }
        self.channel_visitors = np.zeros(commission.size)
        self.reps: dict[int, dict[str, FloatArray]] = {}  # sales step -> figure -> per rep
        self._fee, self._commission = payment_fee, commission
        self._pays_commission = bool(commission.any())
        self._people = people
        self._shape = (n_steps + 1, commission.size + 1, n_segments + 1)
        self.cells: dict[str, FloatArray] | None = None
        if breakdown:
            self.cells = {name: np.zeros(self._shape) for name in CELLS}
        # per step: COGS per first order, COGS share of a repeat order (their cells' rates)
        self._unit_cogs, self._share_cogs = np.zeros(n_steps), np.zeros(n_steps)

    # --- money ---------------------------------------------------------------------------

    def sale(
        self,
        step: int,
        who: IntArray,
        amount: float | FloatArray,
        day: int | IntArray,
        *,
        cogs: float,
        new_orders: bool = True,
    ) -> None:
        """Book payments of step ``step``: ``who[i]`` pays ``amount`` (or ``amount[i]``).

        ``day`` is the day of all the payments, or one day per payment (renewals billed
        later; every day within the horizon). ``cogs`` is the cost of goods per payment;
        ``new_orders`` False for an order bump, whose amount joins its parent's order.
        Fees and partner commissions are booked with it.
        """
        if who.size == 0:
            return
        n = who.size
        total = float(amount.sum()) if isinstance(amount, np.ndarray) else amount * n
        if isinstance(day, np.ndarray):
            counts = np.bincount(day, minlength=self.horizon)
            if isinstance(amount, np.ndarray):
                value: RealArray = np.bincount(day, amount, minlength=self.horizon)
            else:
                value = amount * counts
            self._book_days(day, who, amount, value, cogs * counts, counts if new_orders else 0)
        else:
            daily = self.daily
            daily["revenue"][day] += total
            daily["fees"][day] += total * self._fee
            daily["cogs"][day] += cogs * n
            if new_orders:
                daily["orders"][day] += n
            if self._pays_commission:
                share = self._commission[self._people.channel[who]]
                daily["spend"][day] += float(np.sum(amount * share))
        self.steps["revenue"][step] += total
        if self.cells is not None:
            self._unit_cogs[step] = cogs
            self._add_cells(step, who, ("revenue", amount), ("payments", None))

    def repeat_orders(
        self, step: int, who: IntArray, amount: FloatArray, days: IntArray, cogs_share: float
    ) -> None:
        """Book repeat orders of step ``step``'s buyers.

        ``who[i]`` pays ``amount[i]`` on ``days[i]``; the cost of goods is a share
        ``cogs_share`` of the value.
        """
        if who.size == 0:
            return
        counts = np.bincount(days, minlength=self.horizon)
        value = np.bincount(days, amount, minlength=self.horizon)
        self._book_days(days, who, amount, value, value * cogs_share, counts)
        self.daily["repeat_orders"] += counts
        total = float(amount.sum())
        self.steps["revenue"][step] += total
        self.steps["repeat_revenue"][step] += total
        self.steps["repeat_orders"][step] += who.size
        if self.cells is not None:
            self._share_cogs[step] = cogs_share
            self._add_cells(
                step,
                who,
                ("revenue", amount),
                ("payments", None),
                ("repeats", None),
                ("repeat_revenue", amount),
            )

    def _book_days(
        self,
        days: IntArray,
        who: IntArray,
        amount: float | FloatArray,
        value: RealArray,
        cogs: RealArray,
        orders: IntArray | int,
    ) -> None:
        """The daily series of payments spread over days (``value``: revenue per day)."""
        daily = self.daily
        daily["revenue"] += value
        daily["fees"] += value * self._fee
        daily["cogs"] += cogs
        daily["orders"] += orders
        if self._pays_commission:
            share = self._commission[self._people.channel[who]]
            daily["spend"] += np.bincount(days, amount * share, minlength=self.horizon)

    def refund(self, step: int, who: IntArray, amount: float | FloatArray, days: IntArray) -> None:
        """Book refunds of step ``step``.

        ``who[i]`` gets ``amount`` (or ``amount[i]``) back on ``days[i]``, within the horizon.
        """
        weights = np.broadcast_to(np.asarray(amount, dtype=float), days.shape)
        self.daily["refunds"] += np.bincount(days, weights, minlength=self.horizon)
        total = float(amount.sum()) if isinstance(amount, np.ndarray) else amount * who.size
        self.steps["refunds"][step] += total
        self.steps["refunded"][step] += who.size
        if self.cells is not None and who.size:
            self._add_cells(step, who, ("refunds", amount), ("refunded", None))

    def cost(
        self, line: str, day: int, amount: float, *, step: int = -1, channel: int = -1
    ) -> None:
        """Book one amount on a cost line (``COST_LINES``), with its step or channel if known."""
        self._book_line(line, day, amount)
        if self.cells is not None:
            self.cells[line][step, channel, -1] += amount

    def cost_each(
        self, line: str, day: int, each: float | FloatArray, who: IntArray, *, step: int
    ) -> None:
        """Book a cost per visitor of ``who`` (one amount for all, or one each) at ``step``."""
        total = float(each.sum()) if isinstance(each, np.ndarray) else each * who.size
        self._book_line(line, day, total)
        if self.cells is not None and who.size:
            self._add_cells(step, who, (line, each))

    def fixed_costs(self, days: int | slice, overheads: float, team_pay: float) -> None:
        """Book a day's (or, with a slice, each day's) overheads and sales teams' pay."""
        self.daily["operating"][days] += overheads + team_pay
        self.lines["fixed"][days] += overheads
        self.lines["acquisition"][days] += team_pay
        if self.cells is not None:
            n = len(range(self.horizon)[days]) if isinstance(days, slice) else 1
            self.cells["fixed"][-1, -1, -1] += overheads * n
            self.cells["acquisition"][-1, -1, -1] += team_pay * n

    def _book_line(self, line: str, day: int, amount: float) -> None:
        self.lines[line][day] += amount
        if line in _SHARED:
            self.daily[COST_LINES[line]][day] += amount

    # --- counts --------------------------------------------------------------------------

    def count(self, name: str, day: int, n: float) -> None:
        """Add a count to one day of a daily series (visitors, leads, calls, ...)."""
        self.daily[name][day] += n

    def tally(self, name: str, step: int, amount: float) -> None:
        """Add to one step's tally."""
        self.steps[name][step] += amount

    def people(self, name: str, step: int, who: IntArray) -> None:
        """Count the visitors ``who`` as ``name`` at a step (subscribers, churned).

        A step tally of that name, if there is one, and the breakdown's cells.
        """
        if name in self.steps:
            self.steps[name][step] += who.size
        if self.cells is not None and who.size:
            self._add_cells(step, who, (name, None))

    # --- the breakdown -------------------------------------------------------------------

    def _add_cells(
        self, step: int, who: IntArray, *figures: tuple[str, float | FloatArray | None]
    ) -> None:
        """Add per visitor of ``who`` (an amount each, or 1 where None) to its cell of ``step``."""
        assert self.cells is not None
        pop, (_, n_channels, n_segments) = self._people, self._shape
        cell = pop.channel[who].astype(np.int64) * n_segments + pop.segment[who]
        for name, amount in figures:
            weights = None
            if amount is not None:
                weights = np.broadcast_to(np.asarray(amount, dtype=float), who.shape)
            sums = np.bincount(cell, weights, minlength=n_channels * n_segments)
            self.cells[name][step] += sums.reshape(n_channels, n_segments)

    def breakdown(self) -> dict[str, FloatArray]:
        """Every money and people figure per step × channel × segment (the booked cells).

        Also the cost lines that are rates of a booked figure: ``cogs`` (a step's COGS per
        first order, and its share of repeat orders' value), ``fees`` (a share of revenue)
        and ``commission`` (a channel's share of its visitors' revenue): a cell's traffic
        line is its ``traffic`` plus its ``commission``.
        """
        if self.cells is None:
            raise ValueError("the breakdown was not kept: make the ledger with breakdown=True")
        out = dict(self.cells)
        unit = np.append(self._unit_cogs, 0.0)[:, None, None]
        share = np.append(self._share_cogs, 0.0)[:, None, None]
        out["cogs"] = unit * (out["payments"] - out["repeats"])
        out["cogs"] += share * out["repeat_revenue"]
        out["fees"] = self._fee * out["revenue"]
        out["commission"] = np.append(self._commission, 0.0)[None, :, None] * out["revenue"]
        return out
