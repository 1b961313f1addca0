"""The memory a run needs, estimated before it starts, and the budget it must fit in.

A replication holds a few arrays per visitor while it runs, and with the event log it
keeps a table of the visitors' events until the run ends. The estimate multiplies the
scenario's expected visitors (its channels' daily traffic over the acquisition days, with
referral chains at their largest) by measured bytes per visitor, by the replications in
flight (one per worker process) and, with events, by all replications. A run whose
estimate passes :data:`MEMORY_BUDGET` is refused with what to change (docs/limits.md).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from sim.behavior import paid_clicks
from sim.errors import Problem, ScenarioError
from sim.scenario import Scenario
from sim.steps import STEP_KINDS

GIB = 1024**3
MEMORY_BUDGET = 4 * GIB  # what one run may use, all worker processes together
BYTES_PER_VISITOR = 128  # while a replication runs (measured: about 70)
BYTES_PER_LOGGED_VISITOR = 512  # kept for the whole run with the event log (about 300)
BYTES_PER_DAY = 1024  # the daily series each finished replication keeps
_WORKER_BYTES = 256 * 1024**2  # a worker process's own interpreter, numpy and engine


@dataclass(frozen=True)
class Estimate:
    """What a run is expected to need."""

    visitors: float  # expected visitors of one replication, at most
    bytes: float  # the whole run's peak memory

    def fits(self) -> bool:
        """Whether the run fits in :data:`MEMORY_BUDGET`."""
        return self.bytes <= MEMORY_BUDGET


def expected_visitors(scenario: Scenario) -> float:
    """The most visitors one replication can expect: its channels' traffic and their friends.

    Only buyers refer, so a visitor brings at most ``m = rate × p`` friends, where ``rate``
    is the sum of every referral rate and ``p`` bounds the chance to buy: the entry step's
    highest rate times the sum of the selling steps' take rates (at most 1). With ``m < 1``
    the chains add up to at most ``arrivals / (1 − m)``; otherwise they are counted
    generation by generation (one per ``delay_days`` within the horizon), as if ``m``
    friends came of every visitor. A population that still grows past
    :func:`visitor_cap` is stopped there (:class:`sim.population.Population`).
    """
    daily = sum(daily_visitors(channel) for channel in scenario.channels.values())
    arrivals = daily * scenario.acquisition_days
    referrals = [r for r in _referrals(scenario) if r.rate > 0]
    if not referrals or arrivals == 0:
        return float(arrivals)
    m = float(sum(r.rate for r in referrals)) * _buy_bound(scenario)
    if m < 1:
        return float(arrivals / (1 - m))
    generations = (scenario.horizon_days - 1) // min(r.delay_days for r in referrals)
    if m == 1:
        return float(arrivals * (generations + 1))
    if generations * math.log10(m) > 30:  # beyond any budget: keep it finite
        return math.inf
    return float(arrivals * (m ** (generations + 1) - 1) / (m - 1))


def _buy_bound(scenario: Scenario) -> float:
    """An upper bound on the chance that a visitor buys anything."""
    entry = max(
        (_highest(getattr(s, "rate", 1.0)) for s in scenario.funnel if STEP_KINDS[s.type].entry),
        default=1.0,
    )
    takes = sum(
        _highest(getattr(s, "take", 1.0)) for s in scenario.funnel if STEP_KINDS[s.type].sells
    )
    return entry * min(1.0, takes)


def _highest(value: Any) -> float:
    """A number, or the highest of a map segment → number."""
    return float(max(value.values())) if isinstance(value, dict) else float(value)


def visitor_cap(replications: int = 1) -> int:
    """The most visitors a population of ``replications`` may hold within the budget.

    Half the budget, so that the books, the event log and the worker's own memory fit
    beside it.
    """
    return int(MEMORY_BUDGET // 2 // BYTES_PER_VISITOR) * replications


def daily_visitors(channel: Any) -> float:
    """A channel's expected visitors a day (a referral channel's come from buyers: 0)."""
    budget = getattr(channel, "daily_budget", None)
    if budget is not None:
        return paid_clicks(budget, channel.cpc, channel.half_saturation_budget)
    return getattr(channel, "visitors_per_day", 0.0)


def estimate(scenario: Scenario, *, replications: int, jobs: int, events: bool) -> Estimate:
    """The peak memory of a run of ``replications`` on ``jobs`` worker processes."""
    visitors = expected_visitors(scenario)
    in_flight = min(jobs, replications)
    need = in_flight * visitors * BYTES_PER_VISITOR
    need += replications * scenario.horizon_days * BYTES_PER_DAY
    if events:
        need += replications * visitors * BYTES_PER_LOGGED_VISITOR
    if in_flight > 1:
        need += in_flight * _WORKER_BYTES
    return Estimate(visitors, need)


def refusal(
    scenario: Scenario, *, replications: int, jobs: int = 1, events: bool = False
) -> tuple[str, str] | None:
    """Why the run would not fit in the budget, and what to change; None if it fits."""
    found = estimate(scenario, replications=replications, jobs=jobs, events=events)
    if found.fits():
        return None
    size = "more than 1,000 GiB" if found.bytes > 1000 * GIB else f"{found.bytes / GIB:.1f} GiB"
    visitors = "without bound" if math.isinf(found.visitors) else f"{found.visitors:,.0f}"
    message = (
        f"the run would need about {size} of memory ({visitors} visitors per replication, "
        f"{replications} replications, {jobs} worker{'s' * (jobs > 1)}"
        f"{', with the event log' if events else ''}); the budget is "
        f"{MEMORY_BUDGET / GIB:g} GiB"
    )
    changes = ["lower the traffic (daily_budget, visitors_per_day) or acquisition_days"]
    if any(r.rate > 0 for r in _referrals(scenario)):
        changes.append("lower the referral rates")
    if events:
        changes.append("fewer replications with --events")
    if jobs > 1:
        changes.append("fewer --jobs")
    return message, "; ".join(changes)


def _referrals(scenario: Scenario) -> list[Any]:
    found = [scenario.referral] if scenario.referral is not None else []
    found += [r for s in scenario.funnel if (r := getattr(s, "referral", None)) is not None]
    return found


def check_run(scenario: Scenario, *, replications: int, jobs: int, events: bool) -> None:
    """Refuse, before it starts, a run that would not fit in the memory budget.

    Raises:
        ScenarioError: the estimate passes :data:`MEMORY_BUDGET`; the hint says what to
            change.
    """
    found = refusal(scenario, replications=replications, jobs=jobs, events=events)
    if found is not None:
        message, hint = found
        raise ScenarioError([Problem("", message, "this run", hint=hint)])
