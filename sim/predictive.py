"""The posterior predictive check: does the calibrated scenario reproduce the pilot it learned from?

The calibrated scenario (the posterior as uncertain quantities, as ``calibrated.yaml`` holds it)
replays the pilot many times: each replication draws its own parameters from the posterior
(one replication per draw) and runs the pilot's days. Per step and observed column (reached,
converted, revenue), the simulated pilots give a daily band (5th to 95th percentile) and a
band for the total over the pilot; the observed series is set against them. A column whose
observed total falls outside its band, or whose days fall outside their bands far more often
than one in ten, is something the fitted model does not reproduce (docs/calibration.md).

Examples:
    >>> from sim import load_scenario
    >>> s = load_scenario("scenarios/quickstart.yaml")
    >>> seen = observed_days("scenarios/pilot_quickstart.csv", s)
    >>> list(seen.columns), int(seen["day"].max())
    (['day', 'step', 'reached', 'converted', 'revenue'], 32)
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from sim.executor import run_all
from sim.pilot import pilot_from_run, read_pilot
from sim.runner import run_scenario
from sim.scenario import Scenario

COLUMNS = ("reached", "converted", "revenue")
QUANTILES = (0.05, 0.5, 0.95)
CHUNK = 10  # replications per work item: small enough to spread, large enough to pay


@dataclass(frozen=True)
class Band:
    """One step's observed column against the simulated pilots, day by day and in total.

    Attributes:
        step: the step id.
        column: ``reached``, ``converted`` or ``revenue``.
        days: the pilot's days, 0 to its last.
        observed: the pilot's value each day (NaN where the file leaves it empty).
        lo, mid, hi: the simulated 5th, 50th and 95th percentile each day.
        total: the observed total over the days it was observed.
        total_band: the simulated totals' 5th, 50th and 95th percentile over those days.
    """

    step: str
    column: str
    days: tuple[int, ...]
    observed: tuple[float, ...]
    lo: tuple[float, ...]
    mid: tuple[float, ...]
    hi: tuple[float, ...]
    total: float
    total_band: tuple[float, float, float]

    @property
    def days_inside(self) -> int:
        """Observed days whose value lies within that day's band (ends included)."""
        seen = np.asarray(self.observed)
        ok = (seen >= np.asarray(self.lo)) & (seen <= np.asarray(self.hi))
        return int(np.sum(ok & ~np.isnan(seen)))

    @property
    def days_observed(self) -> int:
        """Days with a value in the file."""
        return int(np.sum(~np.isnan(np.asarray(self.observed))))

    @property
    def total_inside(self) -> bool:
        """Whether the observed total lies within the simulated totals' 90% band."""
        return self.total_band[0] <= self.total <= self.total_band[2]


@dataclass(frozen=True)
class PredictiveCheck:
    """Every observed column against its band, and how many simulated pilots made them."""

    scenario: str
    bands: tuple[Band, ...]
    replications: int
    seed: int

    @property
    def misfits(self) -> tuple[Band, ...]:
        """The columns whose observed total lies outside the simulated band."""
        return tuple(b for b in self.bands if not b.total_inside)


def observed_days(path: str | Path, scenario: Scenario) -> pd.DataFrame:
    """The pilot's step rows, one per day and step, days with no row counted as zero.

    The file is checked first (:func:`sim.pilot.read_pilot`: a bad file raises there, with
    row and column). A day the file gives no row for a step is a day nobody reached it (as
    :func:`sim.pilot.pilot_from_run` writes it); an empty cell is a value not observed (NaN).

    Raises:
        ScenarioError: the file is bad (see :func:`sim.pilot.read_pilot`).
    """
    read_pilot(path, scenario)
    with open(path, newline="", encoding="utf-8") as handle:
        rows = [
            {k.strip(): (v or "").strip() for k, v in row.items() if k}
            for row in csv.DictReader(handle)
        ]
    rows = [r for r in rows if r.get("step")]
    table = pd.DataFrame(
        {
            "day": [int(float(r["day"])) for r in rows],
            "step": [r["step"] for r in rows],
            **{c: [_cell(r.get(c)) for r in rows] for c in COLUMNS},
        }
    )
    table = table.groupby(["day", "step"], as_index=False).sum(min_count=1)
    days = int(table["day"].max()) + 1 if len(table) else 0
    return _every_day(table, days)


def _cell(text: str | None) -> float:
    return float(text) if text else float("nan")


def _every_day(table: pd.DataFrame, days: int) -> pd.DataFrame:
    """``table`` with a zero row for every (day, step) it lacks, over days 0..days-1."""
    steps = sorted(set(table["step"]))
    grid = pd.MultiIndex.from_product([range(days), steps], names=["day", "step"])
    full = table.set_index(["day", "step"]).reindex(grid)
    missing = ~full.index.isin(table.set_index(["day", "step"]).index)
    full.loc[missing, list(COLUMNS)] = 0.0
    return full.reset_index()[["day", "step", *COLUMNS]]


def replay_scenario(posterior: Scenario, days: int) -> Scenario:
    """The posterior scenario over the pilot's days only, one replication per posterior draw."""
    horizon = max(days, 1)
    return posterior.with_changes(
        {
            "horizon_days": horizon,
            "acquisition_days": min(posterior.acquisition_days, horizon),
            "assumptions.replications_per_draw": 1,
        }
    )


def simulate_pilots(scenario: Scenario, seed: int, first: int, count: int) -> list[pd.DataFrame]:
    """Replications ``first … first + count − 1`` of ``scenario``, each as a pilot's rows."""
    result = run_scenario(
        scenario, replications=count, seed=seed, events=True, first_replication=first
    )
    return [pilot_from_run(result, r) for r in range(first, first + count)]


def predictive_check(
    posterior: Scenario,
    observed: pd.DataFrame,
    *,
    replications: int = 50,
    seed: int = 0,
    jobs: int = 1,
    cluster: str | None = None,
    finished: Callable[[], None] | None = None,
) -> PredictiveCheck:
    """Replay the pilot ``replications`` times from the posterior; band each observed column.

    Args:
        posterior: the calibrated scenario (its free parameters as uncertain quantities).
        observed: the pilot's rows (:func:`observed_days`).
        replications: simulated pilots (one posterior draw each).
        seed: the replay's seed.
        jobs: local worker processes (the same results).
        cluster: a Dask scheduler's address to run on (None: here; the same results).
        finished: called as each work item of ``CHUNK`` replications finishes.
    """
    days = int(observed["day"].max()) + 1 if len(observed) else 0
    replay = replay_scenario(posterior, days)
    items = [
        (replay, seed, first, min(CHUNK, replications - first))
        for first in range(0, replications, CHUNK)
    ]
    pilots = [
        p for chunk in run_all(simulate_pilots, items, cluster, finished, jobs) for p in chunk
    ]
    bands = []
    for step in sorted(set(observed["step"]), key=_funnel_order(posterior)):
        seen = observed[observed["step"] == step].sort_values("day")
        sims = np.stack([_series(p, step, days) for p in pilots])  # replication, day, column
        for k, column in enumerate(COLUMNS):
            values = seen[column].to_numpy(float)
            if np.all(np.isnan(values)):
                continue
            if np.nansum(values) == 0 and not np.any(sims[:, :, k]):
                continue  # nothing to see: zero in the pilot and in every replay
            bands.append(_band(step, column, values, sims[:, :, k]))
    return PredictiveCheck(posterior.name, tuple(bands), replications, seed)


def _funnel_order(scenario: Scenario) -> Callable[[str], int]:
    order = {s.id: i for i, s in enumerate(scenario.funnel)}
    return lambda step: order.get(step, len(order))


def _series(pilot: pd.DataFrame, step: str, days: int) -> np.ndarray:
    """One simulated pilot's day × column values for a step (zero where no row)."""
    rows = pilot[(pilot["step"] == step) & (pilot["day"] < days)]
    out = np.zeros((days, len(COLUMNS)))
    out[rows["day"].to_numpy(int)] = rows[list(COLUMNS)].to_numpy(float)
    return out


def _band(step: str, column: str, seen: np.ndarray, sims: np.ndarray) -> Band:
    lo, mid, hi = np.quantile(sims, QUANTILES, axis=0)
    mask = ~np.isnan(seen)
    totals = sims[:, mask].sum(axis=1)
    t_lo, t_mid, t_hi = (float(q) for q in np.quantile(totals, QUANTILES))
    return Band(
        step,
        column,
        tuple(range(len(seen))),
        tuple(float(x) for x in seen),
        tuple(float(x) for x in lo),
        tuple(float(x) for x in mid),
        tuple(float(x) for x in hi),
        float(np.nansum(seen)),
        (t_lo, t_mid, t_hi),
    )
