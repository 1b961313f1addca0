"""Plan a pilot before buying it: how narrow will each free parameter's posterior be?

A pilot of ``days`` days of traffic (its paid channels' daily budgets scaled so they spend
``budget`` in all) is simulated ``pilots`` times, each time at free parameters drawn from
their priors (the scenario's ``calibrate:`` section), and each simulated pilot is fitted as
``sim calibrate`` fits a real one. The expected posterior 90% width of a parameter is the
mean of its widths over these pilots: the width a pilot of that size gives on average,
over what the priors say the truth may be (docs/calibration.md, "Planning a pilot").

Examples:
    >>> from sim import load_scenario
    >>> s = load_scenario("scenarios/quickstart_guesses.yaml")
    >>> pilot = pilot_scenario(s, days=14, budget=700)
    >>> pilot.acquisition_days, pilot.horizon_days, pilot.channels["ads"].daily_budget
    (14, 44, 50.0)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from sim.calibrate import calibrate, likelihood_steps, simulation_parameters
from sim.calibrate_abc import AbcSettings
from sim.errors import ScenarioError
from sim.executor import run_all
from sim.pilot import Observed, Pilot
from sim.runner import run_scenario
from sim.scenario import Scenario

CHUNK = 8  # simulated pilots per work item (one when each fit runs ABC-SMC: see chunk_size)
PLAN_ABC = AbcSettings(population=50, generations=3)  # ABC-SMC of each planned pilot's fit


@dataclass(frozen=True)
class PlannedWidth:
    """What a planned pilot is expected to tell of one free parameter.

    Attributes:
        path: the parameter's dotted path.
        prior_width: its prior's 90% width (95th − 5th percentile).
        expected_width: the posterior 90% width, averaged over the simulated pilots.
        standard_error: the Monte Carlo standard error of ``expected_width``.
        spread: the 10th and 90th percentile of the widths over the simulated pilots.
        identified: the share of simulated pilots that identify it (width ≤ 80% of the prior's).
    """

    path: str
    prior_width: float
    expected_width: float
    standard_error: float
    spread: tuple[float, float]
    identified: float


@dataclass(frozen=True)
class PilotPlan:
    """The plan: the pilot's size, how many were simulated, and each parameter's widths."""

    days: int
    budget: float | None
    pilots: int
    widths: tuple[PlannedWidth, ...]
    reached: dict[str, float]  # step id → mean visitors it reached over the simulated pilots


def pilot_scenario(scenario: Scenario, days: int, budget: float | None = None) -> Scenario:
    """The scenario as a pilot: ``days`` days of traffic, then its usual time to mature.

    The horizon keeps the scenario's days after acquisition (its leads see their emails and
    offers). With ``budget``, every paid channel's daily budget is scaled by one factor so
    that together they spend ``budget`` over the ``days``.

    Raises:
        ScenarioError: a budget for a scenario without paid channels with a fixed daily
            budget, or days the format refuses.
    """
    tail = scenario.horizon_days - scenario.acquisition_days
    changes: dict[str, object] = {"acquisition_days": days, "horizon_days": days + tail}
    if budget is not None:
        paid: dict[str, float] = {}
        for name, channel in scenario.channels.items():
            value = getattr(channel, "daily_budget", None)
            if value is not None and not isinstance(value, int | float):
                raise ScenarioError.at(
                    f"channels.{name}.daily_budget", "--budget scales a fixed daily budget", ""
                )
            if value is not None:
                paid[name] = float(value)
        if not paid:
            raise ScenarioError.at("channels", "--budget needs a paid channel", "")
        daily = sum(paid.values())
        scale = budget / (days * daily) if daily > 0 else 0.0
        for name, value in paid.items():
            changes[f"channels.{name}.daily_budget"] = value * scale
    return scenario.with_changes(changes)


def plan_pilot(
    scenario: Scenario,
    days: int,
    budget: float | None = None,
    *,
    pilots: int = 64,
    draws: int = 2**12,
    seed: int = 0,
    jobs: int = 1,
    cluster: str | None = None,
    finished: Callable[[], None] | None = None,
    abc: AbcSettings | None = None,
) -> PilotPlan:
    """Simulate ``pilots`` pilots from the priors and fit each: the posterior widths to expect.

    Args:
        scenario: a scenario with a ``calibrate:`` section (the priors).
        days: the pilot's days of traffic.
        budget: what it spends in all (None: the scenario's daily budgets).
        pilots: simulated pilots (each at its own prior draw).
        draws: prior draws of each pilot's fit (see :func:`sim.calibrate.calibrate`).
        seed: the simulation's seed.
        jobs: local worker processes (the same results).
        cluster: a Dask scheduler's address to run on (None: here; the same results).
        finished: called as each work item of :func:`chunk_size` pilots finishes.
        abc: the ABC-SMC settings of each fit, when a step has no exact likelihood
            (:func:`simulated_steps`; None: ``PLAN_ABC``, small, as every pilot is fitted);
            pilot ``k`` is fitted with seed ``seed + k``, and no history is kept.

    Raises:
        ScenarioError: no ``calibrate:`` section, or a bad days or budget.
    """
    if not scenario.calibrate:
        raise ScenarioError.at("calibrate", "names no free parameter", "calibrate: {path: prior}")
    fitted = pilot_scenario(scenario, days, budget)
    priors = {
        path: prior.model_dump(mode="json", by_alias=True)
        for path, prior in scenario.calibrate.items()
    }
    truth = fitted.with_changes({**priors, "assumptions.replications_per_draw": 1})
    settings = replace(abc or PLAN_ABC, history=None, progress=None)
    chunk = chunk_size(scenario)
    items = [
        (truth, fitted, seed, first, min(chunk, pilots - first), draws, settings)
        for first in range(0, pilots, chunk)
    ]
    rows = [
        row for chunk in run_all(fit_simulated, items, cluster, finished, jobs) for row in chunk
    ]
    widths = np.array([row[0] for row in rows])  # pilot × parameter
    reached = np.array([row[1] for row in rows])  # pilot × step
    steps = [s.id for s in fitted.funnel]
    return PilotPlan(
        days,
        budget,
        pilots,
        tuple(
            _planned(path, prior, widths[:, i])
            for i, (path, prior) in enumerate(scenario.calibrate.items())
        ),
        {step: float(reached[:, j].mean()) for j, step in enumerate(steps)},
    )


def _planned(path: str, prior: object, widths: np.ndarray) -> PlannedWidth:
    lo, hi = (float(prior.ppf(q)) for q in (0.05, 0.95))  # type: ignore[attr-defined]
    before = hi - lo
    n = len(widths)
    se = float(widths.std(ddof=1) / np.sqrt(n)) if n > 1 else float("nan")
    p10, p90 = (float(q) for q in np.quantile(widths, (0.1, 0.9)))
    return PlannedWidth(
        path, before, float(widths.mean()), se, (p10, p90), float(np.mean(widths <= 0.8 * before))
    )


def simulated_steps(scenario: Scenario) -> list[str]:
    """The steps a planned pilot's fit fits by simulation (ABC-SMC); empty: all exact.

    A planned pilot observes every step's reached and converted counts.
    """
    every = Pilot({s.id: Observed(1, 0) for s in scenario.funnel}, {}, scenario.acquisition_days)
    simulated = likelihood_steps(scenario, every)[1]
    return simulated if simulation_parameters(scenario, simulated) else []


def chunk_size(scenario: Scenario) -> int:
    """Simulated pilots per work item: one if each is fitted by ABC-SMC (a long fit), else CHUNK.

    The pilots' seeds and draws are keyed by their number, so the plan is the same either way.
    """
    return 1 if simulated_steps(scenario) else CHUNK


def fit_simulated(
    truth: Scenario,
    fitted: Scenario,
    seed: int,
    first: int,
    count: int,
    draws: int,
    abc: AbcSettings = PLAN_ABC,
) -> list[tuple[list[float], list[float]]]:
    """Simulate pilots ``first … first + count − 1`` and fit each (ABC-SMC with ``abc``).

    Returns:
        Per pilot: each free parameter's posterior 90% width, and each step's reached count.
    """
    result = run_scenario(
        truth,
        replications=count,
        seed=seed,
        first_replication=first,
        breakdown=len(truth.channels) > 1,
    )
    steps = [s.id for s in truth.funnel]
    out = []
    for k, row in enumerate(result.replications.to_dict("records")):
        pilot = Pilot(
            {
                s: Observed(int(row[f"{s}.reached"]), int(row[f"{s}.converted"]))
                for s in steps
                if f"{s}.converted" in row
            },
            _visitors(result.breakdown, first + k),
            fitted.acquisition_days,
        )
        abc_k = replace(abc, seed=seed + first + k)
        fit = calibrate(fitted, pilot, draws=draws, seed=seed, abc=abc_k)
        widths = [p.posterior[2] - p.posterior[0] for p in fit.parameters]
        out.append((widths, [float(row.get(f"{s}.reached", 0.0)) for s in steps]))
    return out


def _visitors(breakdown: object, replication: int) -> dict[str, int]:
    """Each channel's visitors in a replication (none needed with one channel)."""
    if not isinstance(breakdown, dict):
        return {}
    table = breakdown["by_channel"]
    rows = table[table["replication"] == replication]
    return {str(c): int(v) for c, v in zip(rows["channel"], rows["visitors"], strict=True)}
