"""What each lead did with each step so far: the memory behind splits and fatigue.

A split on behaviour (:mod:`sim.steps._triggers`) asks whether a lead opened, clicked,
bought or declined a step by a given day; fatigue (:mod:`sim.steps._email`) asks how many
emails a lead received in the last days. Both read this record, kept per population (one
per batch of replications: a visitor's counts are their own, so a batch changes nothing).
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from weakref import WeakKeyDictionary, proxy, ref

import numpy as np
from numpy.typing import NDArray

from sim.steps._base import IntArray

if TYPE_CHECKING:
    from sim.model import FunnelModel
    from sim.population import Population

WINDOW_DAYS = 7  # how far back fatigue counts the emails a lead received
_NEVER = -(1 << 30)


class Record:
    """Per step and behaviour, how many times each visitor did it; emails per recent day.

    Only the steps in ``watched`` (those a split or a layer's rule asks about, and steps that
    read their own counts) are counted: the counts of any other step would never be read.
    """

    def __init__(self, population: Population, watched: frozenset[int]) -> None:
        # weakly: the record is the value of a weak-keyed entry for this population, and a
        # strong reference from it would keep the population (and the record) alive forever
        self._population = proxy(population)
        self._watched = watched
        self._counts: dict[tuple[int, str], NDArray[np.int32]] = {}
        self._sent = np.zeros((0, WINDOW_DAYS), dtype=np.int32)  # visitor × day mod window
        self._stamp = np.zeros((0, WINDOW_DAYS), dtype=np.int32)  # the day each slot counts
        self._unread = np.zeros(0, dtype=np.int32)  # emails unread in a row, per visitor

    def _sized(self, array: NDArray[np.int32], fill: int = 0) -> NDArray[np.int32]:
        """``array`` grown (rows) to the population's capacity."""
        need = self._population.capacity
        if array.shape[0] >= need:
            return array
        grown = np.full((need, *array.shape[1:]), fill, dtype=np.int32)
        grown[: array.shape[0]] = array
        return grown

    def watches(self, step: int) -> bool:
        """Whether a split asks about step ``step`` (only then are its counts kept)."""
        return step in self._watched

    def add(self, step: int, what: str, who: IntArray) -> None:
        """``who`` did ``what`` with step ``step`` once more (each visitor at most once)."""
        if step not in self._watched:
            return
        key = (step, what)
        counts = self._sized(self._counts.get(key, np.zeros(0, dtype=np.int32)))
        counts[who] += 1
        self._counts[key] = counts

    def times(self, step: int, what: str, who: IntArray) -> NDArray[np.int32]:
        """How many times each of ``who`` did ``what`` with step ``step`` so far."""
        counts = self._counts.get((step, what))
        if counts is None:
            return np.zeros(who.size, dtype=np.int32)
        inside = who < counts.shape[0]
        out = np.zeros(who.size, dtype=np.int32)
        out[inside] = counts[who[inside]]
        return out

    def unread(self, who: IntArray, read: NDArray[np.bool_]) -> NDArray[np.int32]:
        """Count one more email to each of ``who``; each one's run of unread emails after it.

        ``read``: whether each read this one (a read ends the run: 0).
        """
        self._unread = self._sized(self._unread)
        self._unread[who] = np.where(read, 0, self._unread[who] + 1)
        out: NDArray[np.int32] = self._unread[who]
        return out

    def received(self, who: IntArray, day: int) -> IntArray:
        """Count an email to each of ``who`` today; each one's emails in the window, this one in.

        The window is the last :data:`WINDOW_DAYS` days, today included.
        """
        self._sent = self._sized(self._sent)
        self._stamp = self._sized(self._stamp, _NEVER)
        slot = day % WINDOW_DAYS
        stale = self._stamp[who, slot] != day
        self._sent[who[stale], slot] = 0
        self._stamp[who, slot] = day
        np.add.at(self._sent[:, slot], who, 1)
        recent = self._stamp[who] > day - WINDOW_DAYS
        counts: IntArray = (self._sent[who] * recent).sum(axis=1).astype(np.int64)
        return counts


_RECORDS: WeakKeyDictionary[Population, Record] = WeakKeyDictionary()
# the population asked about last and its record, held weakly like the dictionary's: a
# batch asks a few hundred times, and this is cheaper than the weak dictionary's lookup
_LAST: list[tuple[ref[Population], ref[Record]]] = []


def record_of(model: FunnelModel) -> Record:
    """The record of the model's population (made on first use)."""
    population = model.population
    if _LAST and _LAST[0][0]() is population:
        last = _LAST[0][1]()
        if last is not None:
            return last
    found = _RECORDS.get(population)
    if found is None:
        found = _RECORDS[population] = Record(population, _asked_about(model))
    _LAST[:] = [(ref(population), ref(found))]
    return found


def _asked_about(model: FunnelModel) -> frozenset[int]:
    """The steps whose counts are read: a split's source, a layer rule's, a step's own."""
    from sim.steps._triggers import Gate  # which imports this module

    compiled = model.compiled
    asked = {s.source for s in compiled.steps if isinstance(s, Gate)}
    asked.update(s.index for s in compiled.steps if getattr(s, "recalls_itself", False))
    if compiled.layers is not None:
        asked.update(step for _, steps, _, _ in compiled.layers.rules for step in steps)
    return frozenset(asked)
