"""The optional event log: one row per thing that happened to a visitor."""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from sim.steps import Event
from sim.steps import events as kind_events

ARRIVE = Event("arrive", 0, "arrived")  # a visitor arrives through a channel


def events() -> tuple[Event, ...]:
    """Every event, in the order of their codes: arrivals, then the step kinds' by rank."""
    return (ARRIVE, *kind_events())


def event_names() -> tuple[str, ...]:
    """The names of :func:`events`, in the order of their codes."""
    return tuple(event.name for event in events())


class EventLog:
    """Rows of (visitor, day, step, event, amount), kept as column chunks until the end.

    A chunk holds one step and one event for many visitors, so codes are stored once per
    chunk and expanded only when the table is built.
    """

    def __init__(self) -> None:
        self._names = event_names()  # read now: a kind registered later may add events
        self._code = {name: i for i, name in enumerate(self._names)}
        self._who: list[NDArray[np.int64]] = []
        self._day: list[NDArray[np.int32]] = []
        self._amount: list[NDArray[np.float64]] = []
        self._codes: list[tuple[int, int]] = []  # (step, event) per chunk

    def add(
        self,
        who: NDArray[np.int64],
        day: int | NDArray[np.int64],
        step: int,
        event: str,
        amount: float | NDArray[np.floating] = 0.0,
    ) -> None:
        """Record one event for each visitor in ``who``.

        ``step`` indexes the scenario's steps, then its channels (for arrivals).
        """
        n = len(who)
        if n == 0:
            return
        self._who.append(np.array(who, dtype=np.int64))
        self._day.append(np.broadcast_to(np.asarray(day, dtype=np.int32), (n,)).copy())
        self._amount.append(np.broadcast_to(np.asarray(amount, dtype=float), (n,)).copy())
        self._codes.append((step, self._code[event]))

    def frame(
        self,
        step_names: list[str],
        channel_names: list[str],
        uid: NDArray[np.uint64] | None = None,
    ) -> pd.DataFrame:
        """The log as a table sorted by visitor, then day, then order of recording.

        With ``uid`` (the population's column), a ``uid`` column says who each visitor is:
        the same visitor has the same uid in every design run on the same seed
        (docs/model.md §6), whatever their number.
        """
        names = [*step_names, *channel_names]
        if not self._who:
            return pd.DataFrame(
                {
                    "visitor": np.empty(0, dtype=np.int64),
                    **({} if uid is None else {"uid": np.empty(0, dtype=np.uint64)}),
                    "day": np.empty(0, dtype=np.int32),
                    "step": pd.Categorical.from_codes([], categories=pd.Index(names)),
                    "event": pd.Categorical.from_codes([], categories=pd.Index(self._names)),
                    "amount": np.empty(0),
                }
            )
        who, day = np.concatenate(self._who), np.concatenate(self._day)
        sizes = [len(w) for w in self._who]
        steps = np.repeat(np.array([c[0] for c in self._codes], dtype=np.int16), sizes)
        events = np.repeat(np.array([c[1] for c in self._codes], dtype=np.int8), sizes)
        # one stable sort on (visitor, day) keeps the recording order within a day
        order = np.argsort(who * (int(day.max()) + 1) + day, kind="stable")
        return pd.DataFrame(
            {
                "visitor": who[order],
                **({} if uid is None else {"uid": uid[who[order]]}),
                "day": day[order],
                "step": pd.Categorical.from_codes(steps[order], categories=pd.Index(names)),
                "event": pd.Categorical.from_codes(events[order], categories=pd.Index(self._names)),
                "amount": np.concatenate(self._amount)[order],
            },
            copy=False,
        )
