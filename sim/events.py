"""The optional event log: one row per thing that happened to a visitor."""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.typing import NDArray

# Event names, in the order of their codes.
EVENTS = (
    "arrive",
    "optin",
    "leave",
    "email_opened",
    "email_ignored",
    "unsubscribe",
    "shown",
    "buy",
    "decline",
    "refund",
    "subscribe",
    "renew",
    "churn",
)
CODE = {name: i for i, name in enumerate(EVENTS)}


class EventLog:
    """Rows of (visitor, day, step, event, amount), kept as column chunks until the end."""

    def __init__(self) -> None:
        self._chunks: list[tuple[NDArray[np.int64], ...]] = []
        self._amounts: list[NDArray[np.float64]] = []

    def add(
        self,
        who: NDArray[np.int64],
        day: int | NDArray[np.int64],
        step: int,
        event: str,
        amount: float | NDArray[np.float64] = 0.0,
    ) -> None:
        """Record one event for each visitor in ``who``.

        ``step`` indexes the scenario's steps, then its channels (for arrivals).
        """
        n = len(who)
        if n == 0:
            return
        days = np.broadcast_to(np.asarray(day, dtype=np.int64), (n,))
        self._chunks.append(
            (who.astype(np.int64), days.copy(), np.full(n, step), np.full(n, CODE[event]))
        )
        self._amounts.append(np.broadcast_to(np.asarray(amount, dtype=float), (n,)).copy())

    def frame(self, step_names: list[str], channel_names: list[str]) -> pd.DataFrame:
        """The log as a table sorted by visitor, day and order of recording."""
        if not self._chunks:
            cols = {"visitor": [], "day": [], "step": [], "event": [], "amount": []}
            return pd.DataFrame(cols)
        who, day, step, event = (np.concatenate(c) for c in zip(*self._chunks, strict=True))
        amount = np.concatenate(self._amounts)
        order = np.lexsort((np.arange(len(who)), day, who))
        names = np.array([*step_names, *channel_names], dtype=object)
        return pd.DataFrame(
            {
                "visitor": who[order],
                "day": day[order],
                "step": names[step[order]],
                "event": np.array(EVENTS, dtype=object)[event[order]],
                "amount": amount[order],
            }
        )
