"""The books of a batch of replications: money and counts by day, step, channel, segment."""

from __future__ import annotations

import copy

import numpy as np
from numpy.typing import NDArray

import sim._compiled as kernels
from sim.population import Population
from sim.steps import RegistryNames

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
RealArray = NDArray[np.floating | np.integer]  # numpy's stubs type a weighted bincount as int
Counts = NDArray[np.integer]  # visitors per replication

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


# a visitor array the books have met, its visitors' replications and their count by
# replication, each once known
_Known = tuple[IntArray, NDArray[np.integer] | None, Counts | None]


class Ledger:
    """Accumulates the money and counts of a batch of replications; amounts are non-negative.

    Money is booked only through :meth:`sale`, :meth:`repeat_orders`, :meth:`refund`,
    :meth:`cost`, :meth:`cost_each` and :meth:`fixed_costs`. Each booking fills the daily
    series, the step totals, the cost lines and, when the breakdown is kept, the cells of
    step × channel × segment at once, so the breakdown cannot disagree with the totals.
    A cell's last index along each axis holds what no step, channel or segment caused
    (a channel's cost per day has no segment; fixed costs have none of the three).

    Every booking about visitors goes to the books of each visitor's replication
    (``people.replication``), summed visitor by visitor in the order given, so a
    replication's books are the same bit for bit whether it ran alone or in a batch.
    With one replication, :attr:`daily`, :attr:`steps`, :attr:`lines`,
    :attr:`channel_visitors`, :attr:`reps` and :attr:`cells` are its books; with more,
    :meth:`replication` gives each one's.

    Args:
        horizon: days in the run.
        n_steps: steps of the scenario.
        payment_fee: the share of every payment the processor keeps.
        commission: per channel, the share of its visitors' payments it earns.
        people: the visitors (their replication, channel and segment are looked up).
        n_segments: segments of the scenario.
        breakdown: keep the cells of step × channel × segment (a little slower).
        replications: how many replications the batch holds.
        more_daily: daily series of the scenario's own (its layers' moves), after DAILY.
    """

    # make every visitor array booked in a batch read-only (tests: proves none changes)
    check_unchanged = False

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
        replications: int = 1,
        more_daily: tuple[str, ...] = (),
    ) -> None:
        r = self.replications = replications
        self.horizon = horizon
        self._d = {name: np.zeros((r, horizon)) for name in (*DAILY, *more_daily)}
        self._s = {name: np.zeros((r, n_steps)) for name in STEP_TALLIES}
        self._lines = {
            line: np.zeros((r, horizon)) if line in _SHARED else self._d[column]
            for line, column in COST_LINES.items()
        }
        self._visitors = np.zeros((r, commission.size))
        self._reps: list[dict[int, dict[str, FloatArray]]] = [{} for _ in range(r)]
        self._fee, self._commission = payment_fee, commission
        self._pays_commission = bool(commission.any())
        # a batch's bookings of one amount, compiled (sim/_books.pyx): without commissions
        # or the breakdown, which need each visitor's channel and segment
        per_visitor = self._pays_commission or breakdown
        self._compiled_books = kernels.ENABLED and r > 1 and not per_visitor
        self._people = people
        self._shape = (n_steps + 1, commission.size + 1, n_segments + 1)
        self._cells: dict[str, FloatArray] | None = None
        if breakdown:
            self._cells = {name: np.zeros((r, *self._shape)) for name in CELLS}
        # per step: COGS per first order, COGS share of a repeat order (their cells' rates)
        self._unit_cogs, self._share_cogs = np.zeros(n_steps), np.zeros(n_steps)
        self._zero = np.zeros(0, dtype=np.intp)
        # the last two visitor arrays a batch booked, their visitors' replications, and their
        # count per replication once asked: a step books the same visitors several times
        # (sent, cost, reached), and an email's recipients again after its readers
        self._last: _Known | None = None
        self._before: _Known | None = None
        self._show()

    def _show(self) -> None:
        """Name the books: one replication's as plain arrays, a batch's with a first axis."""
        one = self.replications == 1
        # the rows a booking for the whole batch adds to: a plain index for one (faster)
        self._row: int | slice = 0 if one else slice(None)

        def rows(books: dict[str, FloatArray]) -> dict[str, FloatArray]:
            return {name: a[0] if one else a for name, a in books.items()}

        self.daily = rows(self._d)
        self.steps = rows(self._s)
        self.lines = rows(self._lines)
        self.channel_visitors = self._visitors[0] if one else self._visitors
        self.reps = self._reps[0]  # sales step -> figure -> per rep (the first replication's)
        self.cells = None if self._cells is None else rows(self._cells)

    def replication(self, index: int) -> Ledger:
        """The books of one replication of the batch (views: bookings reach the batch's)."""
        if self.replications == 1 and index == 0:
            return self
        out = copy.copy(self)
        out.replications = 1
        out._compiled_books = False  # one replication's books count with numbers

        def row(books: dict[str, FloatArray]) -> dict[str, FloatArray]:
            return {name: a[index : index + 1] for name, a in books.items()}

        out._d, out._s, out._lines = row(self._d), row(self._s), row(self._lines)
        out._visitors = self._visitors[index : index + 1]
        out._reps = [self._reps[index]]
        out._cells = None if self._cells is None else row(self._cells)
        out._show()
        return out

    def _rep(self, who: IntArray) -> NDArray[np.integer]:
        """The replication (row of the books) of each visitor."""
        if self.replications == 1:
            if self._zero.size < who.size:
                self._zero = np.zeros(max(who.size, 2 * self._zero.size), dtype=np.intp)
            return self._zero[: who.size]  # a shared buffer of zeros: read, never written
        rep, counts = self._remembered(who)
        if rep is None:
            rep = self._people.replication[who]
            self._remember(who, rep, counts)
        return rep

    def _count(self, who: IntArray) -> float | Counts:
        """How many of ``who`` per replication (one replication: a number).

        Integers: each sum or product with a float converts them exactly first.
        """
        if self.replications == 1:
            return float(who.size)
        rep, counts = self._remembered(who)
        if counts is None:
            if kernels.ENABLED:
                counts = kernels.count_by(self._people.replication, who, self.replications)
            else:
                rep = self._people.replication[who] if rep is None else rep
                counts = np.bincount(rep, minlength=self.replications)
            self._remember(who, rep, counts)
        return counts

    def _counts(self, who: IntArray) -> Counts:
        """How many of ``who`` per replication of a batch (:meth:`_count`, always an array)."""
        counts = self._count(who)
        assert not isinstance(counts, float), "one replication counts with a number"
        return counts

    def _remembered(self, who: IntArray) -> tuple[NDArray[np.integer] | None, Counts | None]:
        """The replications and the counts known of ``who`` (one of the last two arrays)."""
        last, before = self._last, self._before
        if last is not None and last[0] is who:
            return last[1], last[2]
        if before is not None and before[0] is who:
            return before[1], before[2]
        return None, None

    def _remember(
        self, who: IntArray, rep: NDArray[np.integer] | None, counts: Counts | None
    ) -> None:
        # Remembered by identity: a visitor array must not change once booked (nothing in
        # the engine changes one; ``check_unchanged`` has numpy enforce it, for the tests).
        if self.check_unchanged:
            for array in (who, rep, counts):
                if array is not None:
                    array.flags.writeable = False
        if self._last is not None and self._last[0] is not who:
            self._before = self._last
        self._last = (who, rep, counts)

    def joined(self, parts: list[IntArray], whole: IntArray) -> None:
        """Tell the books that ``whole`` is ``parts`` one after the other.

        If each part's count by replication is known (the books remember the last two
        arrays), so is the whole's: their sum, and the books need not count it.
        """
        if self.replications == 1:
            return
        total = np.zeros(self.replications, dtype=np.int64)
        for part in parts:
            counts = self._remembered(part)[1]
            if counts is None:
                return  # to be counted when booked
            total += counts
        self._remember(whole, None, total)

    @property
    def counted_by(self) -> tuple[NDArray[np.intp] | None, int]:
        """What a compiled pass needs to count what it selects by replication, for the books.

        In a batch: each visitor's replication, and how many replications; otherwise (None,
        0), and the pass counts nothing.
        """
        if self._compiled_books:
            return self._people.replication, self.replications
        return None, 0

    def known(self, who: IntArray, counts: NDArray[np.integer] | None) -> None:
        """Tell the books how many of ``who`` each replication holds, to spare counting them.

        ``counts[r]``: the visitors of ``who`` in replication r (the next booking of ``who``
        adds these rather than count).
        """
        if counts is not None and self.replications > 1:
            self._remember(who, None, counts)

    def _per_rep(
        self, who: IntArray, weights: float | FloatArray | None = None
    ) -> float | RealArray:
        """Per replication: how many of ``who``, or the sum of ``weights`` (summed in order)."""
        if isinstance(weights, np.ndarray):
            # a weighted bincount is float64 (numpy's stubs say int); it sums in order
            sums = np.bincount(self._rep(who), weights, minlength=self.replications)
            return sums[0] if self.replications == 1 else np.asarray(sums, np.float64)
        counts = self._count(who)
        return counts if weights is None else counts * weights

    def _add_count(self, table: FloatArray, column: int, who: IntArray) -> None:
        """Add to ``table[:, column]`` how many of ``who`` each replication holds."""
        if self.replications == 1:
            table[0, column] += float(who.size)
        elif not who.size:
            return  # nobody: nothing to add
        elif kernels.ENABLED:
            last = self._last  # most often the array just counted (read here: it is faster)
            counts = last[2] if last is not None and last[0] is who else None
            if counts is None:
                counts = self._remembered(who)[1]
            if counts is None:  # counted into the table: no memory to fill
                kernels.count_into(table, column, self._people.replication, who)
            else:  # the counts made floats, times one: ``rows += counts``
                kernels.add_scaled(table, column, counts, 1.0)
        else:
            rows = table[:, column]
            np.add(rows, self._count(who), out=rows)

    def _per_rep_day(
        self,
        rep: NDArray[np.integer],
        day: IntArray,
        weights: float | FloatArray | None = None,
    ) -> FloatArray:
        """Per replication and day, as :meth:`_per_rep` (an array replications × horizon)."""
        size = self.replications * self.horizon
        cell = day if self.replications == 1 else rep.astype(np.intp) * self.horizon + day
        out: FloatArray
        if isinstance(weights, np.ndarray):
            out = np.asarray(np.bincount(cell, weights, minlength=size), np.float64)
        else:
            out = np.bincount(cell, minlength=size).astype(float)
            if weights is not None:
                out *= weights
        return out.reshape(self.replications, self.horizon)

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
        if isinstance(day, np.ndarray):
            rep = self._rep(who)
            counts = self._per_rep_day(rep, day)
            value = self._per_rep_day(rep, day, amount)
            self._book_days(rep, day, who, amount, value, cogs * counts, counts, new_orders)
            self._s["revenue"][self._row, step] += self._per_rep(who, amount)
        elif self._compiled_books and not isinstance(amount, np.ndarray):  # one pass
            d = self._d
            kernels.booked_sale(
                d["revenue"],
                d["fees"],
                d["cogs"],
                d["orders"] if new_orders else None,
                self._s["revenue"],
                day,
                step,
                self._counts(who),
                amount,
                self._fee,
                cogs,
            )
        else:
            n = self._count(who)
            total = self._per_rep(who, amount) if isinstance(amount, np.ndarray) else n * amount
            d = self._d
            d["revenue"][self._row, day] += total
            d["fees"][self._row, day] += total * self._fee
            d["cogs"][self._row, day] += cogs * n
            if new_orders:
                d["orders"][self._row, day] += n
            if self._pays_commission:
                share = self._commission[self._people.channel[who]]
                d["spend"][self._row, day] += self._per_rep(who, amount * share)
            self._s["revenue"][self._row, step] += total
        if self._cells is not None:
            self._unit_cogs[step] = cogs
            self._add_cells(step, who, ("revenue", amount), ("payments", None))

    def renewals(
        self,
        step: int,
        who: IntArray,
        renewals: IntArray,
        day: int,
        period: int,
        price: float,
        *,
        cogs: float,
    ) -> None:
        """Book the renewals of subscribers who joined on ``day``.

        ``who[i]`` pays ``price`` on days ``day + k · period``, k = 1 … ``renewals[i]`` (all
        within the horizon): the books of :meth:`sale` of each of those payments, counted by
        renewal (how many pay the k-th) rather than payment by payment.
        """
        most = int(renewals.max(initial=0))
        if most == 0:
            return
        if self._pays_commission or self._cells is not None:  # payment by payment
            payer = np.repeat(who, renewals)
            k = np.arange(payer.size) - np.repeat(np.cumsum(renewals) - renewals, renewals) + 1
            self.sale(step, payer, price, day + k * period, cogs=cogs)
            return
        if self._compiled_books:  # counted and booked in one pass
            d = self._d
            kernels.booked_renewals(
                d["revenue"],
                d["fees"],
                d["cogs"],
                d["orders"],
                self._s["revenue"],
                step,
                self._people.replication,
                who,
                renewals,
                day,
                period,
                price,
                self._fee,
                cogs,
            )
            return
        cell = self._rep(who).astype(np.intp) * (most + 1) + renewals
        ending = np.bincount(cell, minlength=self.replications * (most + 1))
        # paying[r, k - 1]: how many of replication r pay the k-th renewal (renew k times or more)
        paying = np.cumsum(ending.reshape(self.replications, most + 1)[:, ::-1], axis=1)[:, -2::-1]
        days = slice(day + period, day + period * most + 1, period)  # a view: no copies
        value = paying * price
        d = self._d
        d["revenue"][:, days] += value
        d["fees"][:, days] += value * self._fee
        d["cogs"][:, days] += cogs * paying
        d["orders"][:, days] += paying
        self._s["revenue"][:, step] += paying.sum(axis=1) * price

    def repeat_orders(
        self, step: int, who: IntArray, amount: FloatArray, days: IntArray, cogs_share: float
    ) -> None:
        """Book repeat orders of step ``step``'s buyers.

        ``who[i]`` pays ``amount[i]`` on ``days[i]``; the cost of goods is a share
        ``cogs_share`` of the value.
        """
        if who.size == 0:
            return
        rep = self._rep(who)
        counts = self._per_rep_day(rep, days)
        value = self._per_rep_day(rep, days, amount)
        self._book_days(rep, days, who, amount, value, value * cogs_share, counts, True)
        self._d["repeat_orders"] += counts
        total = self._per_rep(who, amount)
        self._s["revenue"][self._row, step] += total
        self._s["repeat_revenue"][self._row, step] += total
        self._s["repeat_orders"][self._row, step] += self._per_rep(who)
        if self._cells is not None:
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
        rep: NDArray[np.integer],
        days: IntArray,
        who: IntArray,
        amount: float | FloatArray,
        value: FloatArray,
        cogs: FloatArray,
        orders: FloatArray,
        new_orders: bool,
    ) -> None:
        """The daily series of payments spread over days (``value``: revenue per day)."""
        d = self._d
        d["revenue"] += value
        d["fees"] += value * self._fee
        d["cogs"] += cogs
        if new_orders:
            d["orders"] += orders
        if self._pays_commission:
            share = self._commission[self._people.channel[who]]
            d["spend"] += self._per_rep_day(rep, days, amount * share)

    def refund(self, step: int, who: IntArray, amount: float | FloatArray, days: IntArray) -> None:
        """Book refunds of step ``step``.

        ``who[i]`` gets ``amount`` (or ``amount[i]``) back on ``days[i]``, within the horizon.
        """
        if who.size == 0:
            return
        rep = self._rep(who)
        self._d["refunds"] += self._per_rep_day(rep, days, amount)
        self._s["refunds"][self._row, step] += self._per_rep(who, amount)
        self._s["refunded"][self._row, step] += self._per_rep(who)
        if self._cells is not None:
            self._add_cells(step, who, ("refunds", amount), ("refunded", None))

    def cost(
        self, line: str, day: int, amount: float, *, step: int = -1, channel: int = -1
    ) -> None:
        """Book one amount on a cost line (``COST_LINES``), with its step or channel if known.

        In a batch, every replication pays it (a channel's cost of a day).
        """
        self._book_line(line, day, amount)
        if self._cells is not None:
            self._cells[line][:, step, channel, -1] += amount

    def cost_each(
        self, line: str, day: int, each: float | FloatArray, who: IntArray, *, step: int
    ) -> None:
        """Book a cost per visitor of ``who`` (one amount for all, or one each) at ``step``."""
        if who.size == 0:
            return
        if self._compiled_books and not isinstance(each, np.ndarray):  # one pass
            shared = self._d[COST_LINES[line]] if line in _SHARED else None
            kernels.add_scaled(self._lines[line], day, self._counts(who), each, shared)
        else:
            self._book_line(line, day, self._per_rep(who, each))
        if self._cells is not None:
            self._add_cells(step, who, (line, each))

    def fixed_costs(self, days: int | slice, overheads: float, team_pay: float) -> None:
        """Book a day's (or, with a slice, each day's) overheads and sales teams' pay."""
        if overheads == 0 and team_pay == 0:
            return  # adding zero changes no figure
        self._d["operating"][self._row, days] += overheads + team_pay
        self._lines["fixed"][self._row, days] += overheads
        self._lines["acquisition"][self._row, days] += team_pay
        if self._cells is not None:
            n = len(range(self.horizon)[days]) if isinstance(days, slice) else 1
            self._cells["fixed"][:, -1, -1, -1] += overheads * n
            self._cells["acquisition"][:, -1, -1, -1] += team_pay * n

    def _book_line(self, line: str, day: int, amount: float | RealArray) -> None:
        self._lines[line][self._row, day] += amount
        if line in _SHARED:
            self._d[COST_LINES[line]][self._row, day] += amount

    # --- counts --------------------------------------------------------------------------

    def _counted(self, amount: float) -> float:
        """A number counted into the books: one replication's only (a batch counts visitors)."""
        if self.replications > 1:
            raise ValueError("in a batch of replications, count visitors (an array), not a number")
        return amount

    def count(self, name: str, day: int, amount: float | IntArray) -> None:
        """Add to one day of a daily series (visitors, leads, calls, ...).

        ``amount``: the visitors to count (an array of ids), or a number (one replication).
        """
        if isinstance(amount, np.ndarray):
            self._add_count(self._d[name], day, amount)
        else:
            self._d[name][self._row, day] += self._counted(amount)

    def tally(self, name: str, step: int, amount: float | IntArray) -> None:
        """Add to one step's tally: the visitors given (ids), or a number (one replication)."""
        if isinstance(amount, np.ndarray):
            self._add_count(self._s[name], step, amount)
        else:
            self._s[name][self._row, step] += self._counted(amount)

    def tally_each(self, name: str, step: int, who: IntArray, each: float | FloatArray) -> None:
        """Add an amount for each visitor of ``who`` to one step's tally (one, or one each)."""
        if not who.size:
            return
        if self._compiled_books and not isinstance(each, np.ndarray):  # one pass
            kernels.add_scaled(self._s[name], step, self._counts(who), each)
        else:
            self._s[name][self._row, step] += self._per_rep(who, each)

    def arrivals(self, channel: int, who: IntArray) -> None:
        """Count visitors arriving through a channel."""
        self._add_count(self._visitors, channel, who)

    def people(self, name: str, step: int, who: IntArray) -> None:
        """Count the visitors ``who`` as ``name`` at a step (subscribers, churned).

        A step tally of that name, if there is one, and the breakdown's cells.
        """
        if name in self._s:
            self._add_count(self._s[name], step, who)
        if self._cells is not None and who.size:
            self._add_cells(step, who, (name, None))

    # --- the breakdown -------------------------------------------------------------------

    def _add_cells(
        self, step: int, who: IntArray, *figures: tuple[str, float | FloatArray | None]
    ) -> None:
        """Add per visitor of ``who`` (an amount each, or 1 where None) to its cell of ``step``."""
        assert self._cells is not None
        pop, (_, n_channels, n_segments) = self._people, self._shape
        per_rep = n_channels * n_segments
        cell = self._rep(who).astype(np.intp) * per_rep
        cell += pop.channel[who].astype(np.intp) * n_segments + pop.segment[who]
        shape = (self.replications, n_channels, n_segments)
        for name, amount in figures:
            weights = None
            if amount is not None:
                weights = np.broadcast_to(np.asarray(amount, dtype=float), who.shape)
            sums = np.bincount(cell, weights, minlength=self.replications * per_rep)
            self._cells[name][:, step] += sums.reshape(shape)

    def breakdown(self) -> dict[str, FloatArray]:
        """Every money and people figure per step × channel × segment (the booked cells).

        Also the cost lines that are rates of a booked figure: ``cogs`` (a step's COGS per
        first order, and its share of repeat orders' value), ``fees`` (a share of revenue)
        and ``commission`` (a channel's share of its visitors' revenue): a cell's traffic
        line is its ``traffic`` plus its ``commission``. One replication's books (in a
        batch, ask :meth:`replication` first).
        """
        if self.cells is None:
            raise ValueError("the breakdown was not kept: make the ledger with breakdown=True")
        if self.replications > 1:
            raise ValueError("a batch's breakdown is per replication: use replication(i)")
        out = dict(self.cells)
        unit = np.append(self._unit_cogs, 0.0)[:, None, None]
        share = np.append(self._share_cogs, 0.0)[:, None, None]
        out["cogs"] = unit * (out["payments"] - out["repeats"])
        out["cogs"] += share * out["repeat_revenue"]
        out["fees"] = self._fee * out["revenue"]
        out["commission"] = np.append(self._commission, 0.0)[None, :, None] * out["revenue"]
        return out
