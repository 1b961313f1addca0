"""Visitors as columns: one numpy array per trait or state, growing as visitors arrive."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from sim.errors import Problem, ScenarioError

IntArray = NDArray[np.int64]
NEVER = np.iinfo(np.int32).max  # the refund day of a purchase that is not refunded

# name -> dtype of every per-visitor column
COLUMNS: dict[str, type] = {
    "replication": np.intp,  # the replication of the batch the visitor belongs to
    "uid": np.uint64,  # who the visitor is, the same in every design (docs/model.md §6)
    "luck": np.uint64,  # the visitor's own dice in this replication: hash(replication, uid)
    "channel": np.int16,
    "segment": np.int16,
    "arrival_day": np.int32,
    "wtp_scale": np.float64,
    "trust": np.float64,
    "junk": np.bool_,
    "lead": np.bool_,
    "subscribed": np.bool_,
    "bought": np.uint64,  # bit i set: bought the sellable step with bit index i
    "revenue": np.float64,  # gross revenue from this visitor so far
    "deal": np.float64,  # the amount of the visitor's open deal in a sales pipeline (0: none)
    "owner": np.int16,  # the rep who owns that deal: their number in their team, from 1 (0: none)
    "deal_day": np.int32,  # the day that deal was opened (before day 0: an open deal carried in)
    "carried": np.bool_,  # the deal was open before the run (from a CSV of open deals)
}


# The traits every arrival gives (Population.add): their columns are not zeroed first.
ARRIVAL_TRAITS = frozenset(
    (
        "replication",
        "uid",
        "luck",
        "channel",
        "segment",
        "arrival_day",
        "wtp_scale",
        "trust",
        "junk",
    )
)


def _new_column(name: str, capacity: int) -> NDArray[Any]:
    """A column for ``capacity`` visitors: zeros, or, for an arrival trait, uninitialised.

    An arrival trait is written as each visitor arrives, so zeroing it first would write
    it twice. The other columns start at zero, as fresh zero pages that take no memory
    until a visitor's entry is written (a funnel without a sales pipeline never writes
    ``deal``).
    """
    make = np.empty if name in ARRIVAL_TRAITS else np.zeros
    return make(capacity, dtype=COLUMNS[name])


class Population:
    """All visitors of a batch of replications, as columns indexed by visitor id (0, 1, 2, ...).

    Attributes are numpy arrays of length :attr:`capacity`; only the first :attr:`size`
    entries are visitors. Use :meth:`column` views when the length must be exact.
    """

    def __init__(self, capacity: int = 1024, *, cap: int | None = None) -> None:
        self.size = 0
        self.cap = cap  # the most visitors it may hold (the memory budget), or no limit
        self.capacity = max(int(capacity), 16)
        for name in COLUMNS:
            setattr(self, name, _new_column(name, self.capacity))
        # step index -> per visitor, the day its purchase of that step is refunded (or NEVER)
        self.refund_day: dict[int, NDArray[np.int32]] = {}

    # typed attribute access for the columns (set in __init__)
    replication: NDArray[np.intp]
    uid: NDArray[np.uint64]
    luck: NDArray[np.uint64]
    channel: NDArray[np.int16]
    segment: NDArray[np.int16]
    arrival_day: NDArray[np.int32]
    wtp_scale: NDArray[np.float64]
    trust: NDArray[np.float64]
    junk: NDArray[np.bool_]
    lead: NDArray[np.bool_]
    subscribed: NDArray[np.bool_]
    bought: NDArray[np.uint64]
    revenue: NDArray[np.float64]
    deal: NDArray[np.float64]
    owner: NDArray[np.int16]
    deal_day: NDArray[np.int32]
    carried: NDArray[np.bool_]

    def add(self, **traits: NDArray[np.generic]) -> IntArray:
        """Append visitors with the given traits; their ids.

        A column whose trait is not given starts at zero (the arrival traits,
        :data:`ARRIVAL_TRAITS`, are zeroed here, the others were zero already).
        """
        n = len(next(iter(traits.values())))
        if self.cap is not None and self.size + n > self.cap:
            raise ScenarioError([_over_cap(self.cap)])
        if self.size + n > self.capacity:
            self._grow(self.size + n)
        ids = np.arange(self.size, self.size + n, dtype=np.int64)
        new = slice(self.size, self.size + n)
        for name, values in traits.items():
            getattr(self, name)[new] = values
        for name in ARRIVAL_TRAITS - traits.keys():  # not zeroed in advance: zero now
            getattr(self, name)[new] = 0
        self.size += n
        return ids

    def refund(self, step: int, who: IntArray, days: IntArray) -> None:
        """Record that ``who[i]``'s purchase of step ``step`` is refunded on ``days[i]``."""
        if who.size == 0:
            return
        if step not in self.refund_day:
            self.refund_day[step] = np.full(self.capacity, NEVER, dtype=np.int32)
        self.refund_day[step][who] = days

    def bought_again(self, step: int, who: IntArray) -> None:
        """A new purchase of step ``step`` by ``who`` stands until refunded in its turn."""
        days = self.refund_day.get(step)
        if days is not None:
            days[who] = NEVER

    def kept(self, step: int, who: IntArray, day: int | IntArray) -> NDArray[np.bool_]:
        """Whether ``who``'s purchase of step ``step`` still stands on ``day`` (not refunded).

        A purchase refunded on day ``d`` no longer stands from day ``d`` on (docs/model.md
        §3.3). ``day`` is one day for all, or one per visitor.
        """
        days = self.refund_day.get(step)
        if days is None:
            return np.ones(who.size, dtype=np.bool_)
        return np.asarray(days[who] > day)

    def column(self, name: str) -> NDArray[Any]:  # each column has its own dtype
        """The first :attr:`size` entries of a column (a view, not a copy)."""
        return getattr(self, name)[: self.size]  # type: ignore[no-any-return]

    def release(self) -> None:
        """Give the columns' memory back now; the population is empty afterwards.

        A model is freed only by the garbage collector (its agents refer to it), which
        may run long after: a process that runs many models would hold every one's
        visitors until then.
        """
        for name in COLUMNS:
            setattr(self, name, np.zeros(0, dtype=getattr(self, name).dtype))
        self.refund_day = {}
        self.size = self.capacity = 0

    def _grow(self, needed: int) -> None:
        capacity = max(needed, 2 * self.capacity)
        for name in COLUMNS:
            old = getattr(self, name)
            new = _new_column(name, capacity)
            new[: self.size] = old[: self.size]
            setattr(self, name, new)
        for step, old_days in self.refund_day.items():
            days = np.full(capacity, NEVER, dtype=np.int32)
            days[: self.size] = old_days[: self.size]
            self.refund_day[step] = days
        self.capacity = capacity


def _over_cap(cap: int) -> Problem:
    return Problem(
        "",
        f"the population grew past {cap:,} visitors, more than the memory budget holds "
        "(docs/limits.md)",
        "this run",
        hint="lower the referral rates (each friend who buys brings more), the traffic, or "
        "acquisition_days",
    )
