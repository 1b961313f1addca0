"""Money and people by step, channel and segment: the figures behind the run report.

The engine keeps its books by day and by step (:mod:`sim.ledger`); which channel and which
segment a payment came from is known only when it is booked. A :class:`MoneyTally` stands
in the model's event-log slot (it has the log's ``add``), keeps only the events that carry
money or churn, and sums them by step × channel × segment: a few array additions per
booking instead of a row per event. When the full event log is kept as well, every event
is passed on to it unchanged.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from sim.compile import CompiledScenario
from sim.ledger import Ledger
from sim.population import Population

FloatArray = NDArray[np.float64]

PAYMENTS = ("buy", "subscribe", "renew", "repeat")  # events whose amount is a payment received
# What each kept event adds to: (tally, weighted by the amount?)
_ADDS: dict[str, tuple[tuple[str, bool], ...]] = {
    "buy": (("revenue", True), ("payments", False)),
    "subscribe": (("revenue", True), ("payments", False), ("subscribers", False)),
    "renew": (("revenue", True), ("payments", False)),
    "repeat": (
        ("revenue", True),
        ("payments", False),
        ("repeats", False),
        ("repeat_revenue", True),
    ),
    "refund": (("refunds", True), ("refunded", False)),
    "churn": (("churned", False),),
}
TALLIES = (
    "revenue",
    "payments",
    "refunds",
    "refunded",
    "subscribers",
    "churned",
    "repeats",
    "repeat_revenue",
)


class _Log(Protocol):
    def add(self, who: Any, day: Any, step: int, event: str, amount: Any = 0.0) -> None: ...


class MoneyTally:
    """Payments, refunds, subscriptions and churn, summed by step × channel × segment.

    Args:
        population: the model's visitors (their channel and segment are looked up).
        compiled: the compiled scenario (for the number of steps, channels, segments).
        inner: a full event log to pass every event on to, if one is kept.
    """

    def __init__(
        self, population: Population, compiled: CompiledScenario, inner: _Log | None = None
    ) -> None:
        self.population = population
        self.inner = inner
        self._cells = len(compiled.channels) * len(compiled.segments)
        self._n_segments = len(compiled.segments)
        shape = (len(compiled.step_ids), len(compiled.channels), len(compiled.segments))
        self.sums: dict[str, FloatArray] = {name: np.zeros(shape) for name in TALLIES}

    def add(
        self, who: Any, day: Any, step: int, event: str, amount: float | FloatArray = 0.0
    ) -> None:
        """Record one event for each visitor in ``who`` (the event log's signature)."""
        if self.inner is not None:
            self.inner.add(who, day, step, event, amount)
        adds = _ADDS.get(event)
        who = np.asarray(who, dtype=np.int64)
        if adds is None or who.size == 0:
            return
        pop = self.population
        cell = pop.channel[who].astype(np.int64) * self._n_segments + pop.segment[who]
        weights = np.broadcast_to(np.asarray(amount, dtype=float), who.shape)
        shape = self.sums["revenue"].shape[1:]
        for name, weighted in adds:
            counts = np.bincount(cell, weights if weighted else None, minlength=self._cells)
            self.sums[name][step] += counts.reshape(shape)


def breakdown_tables(
    tally: MoneyTally, ledger: Ledger, compiled: CompiledScenario
) -> dict[str, pd.DataFrame]:
    """One replication's figures by step, by channel and by segment.

    Gross profit is revenue − refunds − COGS − payment fees, as for the whole run (DESIGN
    §2); a channel's spend is its traffic cost plus the commission its sales earned.
    """
    money = _money(tally, compiled)
    return {
        "by_step": _by_step(money, compiled),
        "by_channel": _by_channel(money, tally.population, ledger, compiled),
        "by_segment": _by_segment(money, tally.population, compiled),
    }


def _money(tally: MoneyTally, compiled: CompiledScenario) -> dict[str, FloatArray]:
    """Every money figure per step × channel × segment cell."""
    cogs = np.array([_step_cogs(compiled, step_id) for step_id in compiled.step_ids])
    share = np.array([_repeat_cogs_share(compiled, step_id) for step_id in compiled.step_ids])
    s = dict(tally.sums)
    # a first order costs the step's COGS; a repeat order a share of its value
    s["cogs"] = cogs[:, None, None] * (s["payments"] - s["repeats"])
    s["cogs"] += share[:, None, None] * s["repeat_revenue"]
    s["fees"] = compiled.payment_fee * s["revenue"]
    s["gross_profit"] = s["revenue"] - s["refunds"] - s["cogs"] - s["fees"]
    s["commission"] = compiled.channel_commission[None, :, None] * s["revenue"]
    return s


def _step(compiled: CompiledScenario, step_id: str) -> Any:
    return next(s for s in compiled.steps if s.id == step_id)


def _step_cogs(compiled: CompiledScenario, step_id: str) -> float:
    return float(getattr(_step(compiled, step_id), "cogs", 0.0))


def _repeat_cogs_share(compiled: CompiledScenario, step_id: str) -> float:
    repeat = getattr(_step(compiled, step_id), "repeat", None)
    return 0.0 if repeat is None else float(repeat.cogs_share)


def _trigger(compiled: CompiledScenario, step_id: str) -> tuple[str, str]:
    trigger = getattr(_step(compiled, step_id), "trigger", None)
    if trigger is None or not trigger.source:
        return "", "arrive"
    return str(trigger.source), str(trigger.event)


_STEP_MONEY = ("revenue", "refunds", "cogs", "fees", "gross_profit", "payments", "refunded")


def _by_step(money: dict[str, FloatArray], compiled: CompiledScenario) -> pd.DataFrame:
    triggers = [_trigger(compiled, step_id) for step_id in compiled.step_ids]
    table = pd.DataFrame(
        {
            "step": list(compiled.step_ids),
            "kind": list(compiled.step_kinds),
            "after": [source for source, _ in triggers],
            "after_event": [event for _, event in triggers],
        }
    )
    for name in _STEP_MONEY:
        table[name] = money[name].sum(axis=(1, 2))
    return table


def _by_people(pop: Population, column: str, n: int) -> dict[str, FloatArray]:
    """Visitors, leads and buyers per value of a population column (channel or segment)."""
    group = pop.column(column).astype(np.int64)
    return {
        "visitors": np.bincount(group, minlength=n).astype(float),
        "leads": np.bincount(group, pop.column("lead").astype(float), minlength=n),
        "buyers": np.bincount(group, (pop.column("bought") != 0).astype(float), minlength=n),
    }


def _by_channel(
    money: dict[str, FloatArray], pop: Population, ledger: Ledger, compiled: CompiledScenario
) -> pd.DataFrame:
    n = len(compiled.channels)
    table = pd.DataFrame(
        {
            "channel": [ch.name for ch in compiled.channels],
            "type": [ch.kind for ch in compiled.channels],
        }
    )
    for name, values in _by_people(pop, "channel", n).items():
        table[name] = values
    for name in ("revenue", "refunds", "cogs", "fees", "gross_profit", "commission"):
        table[name] = money[name].sum(axis=(0, 2))
    table["spend"] = ledger.channel_spend + table["commission"].to_numpy()
    table["profit"] = table["gross_profit"] - table["spend"]
    return table


def _by_segment(
    money: dict[str, FloatArray], pop: Population, compiled: CompiledScenario
) -> pd.DataFrame:
    n = len(compiled.segments)
    table = pd.DataFrame({"segment": list(compiled.segments)})
    for name, values in _by_people(pop, "segment", n).items():
        table[name] = values
    for name in ("revenue", "refunds", "gross_profit", "payments", "subscribers", "churned"):
        table[name] = money[name].sum(axis=(0, 1))
    return table
