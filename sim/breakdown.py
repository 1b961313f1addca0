"""Money and people by step, channel and segment: the figures behind the run report.

The ledger keeps them, when asked (``FunnelModel(..., breakdown=True)``): every booking
fills its step × channel × segment cell as it fills the totals (:mod:`sim.ledger`), so the
tables here only sum cells; who came through which channel, and became a lead or a buyer,
is read from the population.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from sim.compile import CompiledScenario
from sim.ledger import Ledger
from sim.population import Population

FloatArray = NDArray[np.float64]


def breakdown_tables(
    ledger: Ledger, population: Population, compiled: CompiledScenario
) -> dict[str, pd.DataFrame]:
    """One replication's figures by step, by channel and by segment.

    Gross profit is revenue − refunds − COGS − payment fees, as for the whole run (DESIGN
    §2); a channel's spend is its traffic cost plus the commission its sales earned.
    """
    cells, traffic = _money(ledger, compiled)
    return {
        "by_step": _by_step(cells, compiled),
        "by_channel": _by_channel(cells, traffic, population, compiled),
        "by_segment": _by_segment(cells, population, compiled),
    }


def _money(ledger: Ledger, compiled: CompiledScenario) -> tuple[dict[str, FloatArray], FloatArray]:
    """Every money figure per step × channel × segment, and each channel's traffic cost.

    The cells kept are those a step, a channel and a segment caused; a channel's traffic
    cost also counts what no step or segment caused (its cost per day).
    """
    every = ledger.breakdown()
    n = (len(compiled.step_ids), len(compiled.channels), len(compiled.segments))
    s = {name: np.ascontiguousarray(cell[: n[0], : n[1], : n[2]]) for name, cell in every.items()}
    s["gross_profit"] = s["revenue"] - s["refunds"] - s["cogs"] - s["fees"]
    return s, every["traffic"].sum(axis=(0, 2))[: n[1]]


def _step(compiled: CompiledScenario, step_id: str) -> Any:
    return next(s for s in compiled.steps if s.id == step_id)


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
    money: dict[str, FloatArray], traffic: FloatArray, pop: Population, compiled: CompiledScenario
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
    table["spend"] = traffic + table["commission"].to_numpy()
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
