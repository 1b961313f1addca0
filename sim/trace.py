"""One visitor's story, day by day, read back from a replication's event log.

For teaching (what happens to a lead between the ad and the club) and for debugging a
scenario (why nobody reaches the downsell). Trust is not logged; it is replayed from the
events with the same rules the engine applies (an opened email adds the segment's trust
per open, a purchase adds the offer's ``trust_gain``, never above 1), and a test holds the
replay to the trust the engine ended with.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from sim import assumptions
from sim.compile import CompiledScenario, compile_scenario
from sim.runner import run_scenario
from sim.scenario import Scenario
from sim.steps import STEP_KINDS
from sim.steps._layers import MOVED

# --where KEY=VALUE: keys that name an event at a step, and keys that name a visitor trait
_EVENT_KEYS = {
    "bought": "buy",
    "declined": "decline",
    "shown": "shown",
    "subscribed": "subscribe",
    "churned": "churn",
    "refunded": "refund",
    "unsubscribed": "unsubscribe",
    "clicked": "email_clicked",
}
_TRAIT_KEYS = ("segment", "channel", "lead", "junk")
WHERE_KEYS = (*_EVENT_KEYS, *_TRAIT_KEYS)


@dataclass(frozen=True)
class Line:
    """One thing that happened: its day, the step, what, and trust after it.

    ``who`` names the person on the other side, where there is one (the rep on a call),
    or the layer a lead moved to.
    """

    day: int
    step: str
    what: str
    amount: float
    trust: float
    who: str = ""


@dataclass(frozen=True)
class Journey:
    """A visitor's traits and every event of theirs, in order."""

    visitor: int
    channel: str
    segment: str
    arrival_day: int
    wtp_scale: float
    junk: bool
    trust_at_arrival: float
    lines: list[Line] = field(default_factory=list)

    @property
    def paid(self) -> float:
        """Everything the visitor paid (refunds not taken off)."""
        return sum(line.amount for line in self.lines if line.what in _PAYMENTS)

    @property
    def refunded(self) -> float:
        """Everything refunded to the visitor."""
        return sum(line.amount for line in self.lines if line.what == "refund")

    def to_frame(self) -> pd.DataFrame:
        """The journey's events, one row each: day, step, what, amount, trust after, who."""
        columns = ["day", "step", "what", "amount", "trust", "who"]
        return pd.DataFrame([vars(line) for line in self.lines], columns=columns)

    def __repr__(self) -> str:
        return (
            f"<Journey of visitor {self.visitor} ({self.segment}, from {self.channel}, day "
            f"{self.arrival_day}): {len(self.lines)} events, paid {self.paid:,.2f}>"
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON."""
        return {
            "visitor": self.visitor,
            "channel": self.channel,
            "segment": self.segment,
            "arrival_day": self.arrival_day,
            "wtp_scale": self.wtp_scale,
            "junk": self.junk,
            "trust_at_arrival": self.trust_at_arrival,
            "events": [vars(line) for line in self.lines],
        }


_PAYMENTS = ("buy", "subscribe", "renew", "repeat")


@dataclass(frozen=True)
class Trace:
    """One replication's event log and visitor table, ready to be read visitor by visitor."""

    scenario: Scenario
    compiled: CompiledScenario
    replication: int
    seed: int
    events: pd.DataFrame
    visitors: pd.DataFrame

    def __repr__(self) -> str:
        return (
            f"<Trace of {self.scenario.name!r}: replication {self.replication} of seed "
            f"{self.seed}, {len(self.visitors):,} visitors, {len(self.events):,} events>"
        )

    def select(
        self,
        *,
        visitors: Sequence[int] = (),
        where: Iterable[str] = (),
        sample: int = 3,
    ) -> list[int]:
        """Visitor ids: the ones asked for, else a seeded sample of those matching ``where``.

        Raises:
            ValueError: an unknown visitor id, or a filter that is not ``KEY=VALUE`` with a
                known key and value.
        """
        if visitors:
            unknown = [v for v in visitors if not 0 <= v < len(self.visitors)]
            if unknown:
                raise ValueError(
                    f"no visitor {unknown[0]} in this replication "
                    f"(ids run from 0 to {len(self.visitors) - 1})"
                )
            return list(visitors)
        chosen = self._matching(list(where))
        rng = np.random.default_rng([self.seed, self.replication])  # same sample every time
        picked = rng.choice(chosen, size=min(sample, chosen.size), replace=False)
        return sorted(int(v) for v in picked)

    def count_matching(self, where: Iterable[str]) -> int:
        """How many visitors match the filters."""
        return int(self._matching(list(where)).size)

    def _matching(self, where: list[str]) -> np.ndarray:
        keep = np.ones(len(self.visitors), dtype=bool)
        for text in where:
            keep &= self._mask(text)
        return np.flatnonzero(keep)

    def _mask(self, text: str) -> np.ndarray:
        key, sep, value = (part.strip() for part in text.partition("="))
        if not sep or key not in WHERE_KEYS:
            raise ValueError(
                f"--where takes KEY=VALUE with KEY one of {', '.join(WHERE_KEYS)}; got {text!r}"
            )
        if key in ("lead", "junk"):
            if value.lower() not in ("true", "false", "yes", "no"):
                raise ValueError(f"--where {key}= takes true or false, got {value!r}")
            return (self.visitors[key] == (value.lower() in ("true", "yes"))).to_numpy()
        if key in _TRAIT_KEYS:
            names = list(self.visitors[key].cat.categories)
            if value not in names:
                raise ValueError(f"--where {key}: no {key} '{value}'; choose {', '.join(names)}")
            return (self.visitors[key] == value).to_numpy()
        able = self._steps_with(_EVENT_KEYS[key])
        if value not in able:
            what = (
                f"no step '{value}'"
                if value not in self.compiled.step_ids
                else (f"step '{value}' is never {key}")
            )
            raise ValueError(f"--where {key}: {what}; choose {', '.join(able) or 'none'}")
        ev = self.events
        hits = ev["visitor"][(ev["step"] == value) & (ev["event"] == _EVENT_KEYS[key])]
        mask = np.zeros(len(self.visitors), dtype=bool)
        mask[hits.to_numpy()] = True
        return mask

    def _steps_with(self, event: str) -> list[str]:
        """The ids of the steps whose kind writes ``event`` (only those can be bought...)."""
        kinds = {step.id: STEP_KINDS[step.type] for step in self.scenario.funnel}
        return [sid for sid, kind in kinds.items() if event in (e.name for e in kind.events)]

    @cached_property
    def _trust_gains(self) -> dict[str, float]:
        """Step id → trust a purchase there adds (steps that sell and warm the buyer)."""
        pitches = ((step.id, getattr(step, "pitch", None)) for step in self.compiled.steps)
        return {sid: float(p.trust_gain) for sid, p in pitches if p is not None and p.trust_gain}

    def journey(self, visitor: int) -> Journey:
        """Everything that happened to one visitor, with trust replayed along the way."""
        row = self.visitors.iloc[visitor]
        c = self.compiled
        seg = c.segments.index(str(row["segment"]))
        channel = next(ch for ch in c.channels if ch.name == str(row["channel"]))
        trust = float(np.clip(c.seg_trust[seg] + channel.warmth, 0.0, 1.0))
        start = trust
        gains, teams = self._trust_gains, c.teams
        lines = []
        lo, hi = np.searchsorted(self.events["visitor"].to_numpy(), [visitor, visitor + 1])
        rows = self.events.iloc[lo:hi][["day", "step", "event", "amount"]]
        for day, step, event, amount in rows.itertuples(index=False):
            if event == "email_opened":
                trust = min(trust + float(c.seg_trust_per_open[seg]), 1.0)
            elif event in ("buy", "subscribe") and gains.get(str(step), 0.0):
                trust = min(trust + gains[str(step)], 1.0)
            rep = teams[str(step)][int(amount) - 1] if event in ("call", "worked") else ""
            if event == MOVED.name and c.layers is not None:  # the layer's name
                rep = c.layers.names[int(amount)]
            lines.append(Line(int(day), str(step), str(event), float(amount), trust, rep))
        return Journey(
            visitor=visitor,
            channel=str(row["channel"]),
            segment=str(row["segment"]),
            arrival_day=int(row["arrival_day"]),
            wtp_scale=float(row["wtp_scale"]),
            junk=bool(row["junk"]),
            trust_at_arrival=start,
            lines=_moves_last(lines),
        )


def _moves_last(lines: list[Line]) -> list[Line]:
    """The lines with each move between layers after what caused it.

    A purchase moves the buyer as it is marked, before the payment is written down, so
    the log has "moved" first; a reader expects the move to follow the purchase (or the
    open or click) of that step on that day.
    """
    out: list[Line] = []
    held: list[Line] = []

    def release() -> None:  # a move changes no trust: it shows the trust of the line before
        trust = out[-1].trust if out else held[0].trust
        out.extend(replace(line, trust=trust) for line in held)
        held.clear()

    for line in lines:
        if held and (line.day, line.step) != (held[0].day, held[0].step):
            release()
        if line.what == MOVED.name:
            held.append(line)
        else:
            out.append(line)
    if held:
        release()
    return out


def trace_scenario(scenario: Scenario, *, replication: int = 0, seed: int | None = None) -> Trace:
    """Run one replication with the event log on, for reading journeys.

    Args:
        scenario: a validated scenario.
        replication: which replication of the seed (the same one ``sim run`` runs).
        seed: default the scenario's own.
    """
    s = scenario.seed if seed is None else seed
    result = run_scenario(
        scenario, replications=1, seed=s, events=True, first_replication=replication
    )
    assert result.events is not None
    assert result.visitors is not None
    return Trace(
        scenario=scenario,
        compiled=compile_scenario(assumptions.draw(scenario, s, replication)),
        replication=replication,
        seed=s,
        events=result.events.drop(columns="replication"),
        visitors=result.visitors.drop(columns="replication"),
    )
