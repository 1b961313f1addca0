"""Fitting by simulation: ABC-SMC for the steps with no tractable likelihood (docs/calibration.md).

A sales step whose leads queue for a team, an offer whose visitors' trust emails and earlier
purchases changed, a funnel fed by referrals: the share of reached visitors who convert has no
closed form. Approximate Bayesian computation by sequential Monte Carlo (pyabc, the optional
extra ``calibrate``) fits them on pilots simulated by the engine: each particle is a scenario
with its free parameters set, run for the pilot's days through :func:`sim.prepare`, and read
back as the pilot file would be (:func:`sim.pilot.pilot_totals`). The summary of a pilot is the
share of reached visitors each simulated step converted; particles whose shares come close to
the observed ones survive, the tolerance shrinking generation by generation; the last
generation is then regression-adjusted (Beaumont, Zhang and Balding 2002) toward a zero
tolerance.

The parameters the exact likelihood fits are not refitted: each simulation draws them from
their exact posterior (a "cut" posterior: the simulated steps do not feed back into them).

Particles live on the unit cube (a parameter is its prior's inverse CDF at a uniform), so any
prior works. With a fixed seed the result is the same bit for bit: one process draws every
particle and every simulation's seed from one generator. With ``history`` the generations are
kept in an SQLite file; a run that stopped resumes from its last generation.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy import special

from sim.errors import ScenarioError
from sim.paths import set_value
from sim.pilot import Observed, Pilot, pilot_totals
from sim.runner import prepare, run_replication
from sim.scenario import Scenario
from sim.spec import EDGE, TOP

if TYPE_CHECKING:
    from sim.calibrate import Posterior


@dataclass(frozen=True)
class AbcSettings:
    """How hard ABC-SMC works.

    Attributes:
        population: particles a generation.
        generations: generations at most (counting those a resumed history holds).
        min_acceptance: stop when fewer simulations than this share are accepted.
        seed: the seed of every draw; the same seed, the same posterior.
        history: an SQLite file keeping the generations (None: a temporary one); a run
            given the file of an unfinished run of the same fit resumes it.
        adjust: correct the last generation by local-linear regression on its summaries
            (Beaumont, Zhang and Balding 2002), as if the tolerance were zero.
        progress: called as ``progress(done, generations)`` when a run starts or resumes
            and after each generation (not part of the fit: settings that differ only
            in it are equal).
    """

    population: int = 300
    generations: int = 6
    min_acceptance: float = 0.05
    seed: int = 0
    history: Path | None = None
    adjust: bool = True
    progress: Callable[[int, int], None] | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Simulated:
    """The last generation's particles (path → values), their weights and the work done."""

    values: dict[str, np.ndarray]
    weights: np.ndarray
    simulations: int
    generations: int


def fit_by_simulation(
    scenario: Scenario,
    pilot: Pilot,
    paths: Sequence[str],
    steps: Sequence[str],
    exact: Posterior,
    settings: AbcSettings,
) -> Simulated:
    """ABC-SMC posterior of ``paths`` given the pilot's counts at ``steps``.

    Raises:
        ScenarioError: pyabc is not installed (the extra ``calibrate``).
    """
    try:
        import pyabc
    except ImportError:
        raise ScenarioError.at(
            "calibrate",
            f"steps {', '.join(steps)} have no exact likelihood and need simulation-based "
            "fitting, which needs pyabc",
            "pip install 'funnelsim[calibrate]'",
        ) from None
    for name in ("ABC", "pyabc"):
        logging.getLogger(name).setLevel(logging.WARNING)
    steps = summarized_steps(paths, steps)
    simulator = _Simulator(scenario, list(paths), list(steps), exact)
    observed = {
        f"s{i}": _share(pilot.steps[s].converted, pilot.steps[s].reached)
        for i, s in enumerate(steps)
    }
    keys = [f"u{i}" for i in range(len(paths))]
    prior = pyabc.Distribution(**{k: pyabc.RV("uniform", 0, 1) for k in keys})
    scales = _scales(pilot, steps)
    abc = pyabc.ABCSMC(
        simulator,
        prior,
        pyabc.PNormDistance(p=2, fixed_weights=scales),
        population_size=settings.population,
        sampler=pyabc.sampler.SingleCoreSampler(),
    )
    if settings.history is not None:
        return _generations(abc, observed, scales, Path(settings.history), settings, simulator)
    with tempfile.TemporaryDirectory(prefix="funnelsim-abc-") as folder:
        return _generations(abc, observed, scales, Path(folder) / "abc.db", settings, simulator)


def _generations(
    abc: Any,
    observed: dict[str, float],
    scales: dict[str, float],
    path: Path,
    settings: AbcSettings,
    simulator: _Simulator,
) -> Simulated:
    """Run (or resume) the generations kept in ``path``; the last one's weighted particles."""
    db = f"sqlite:///{path}"
    resumed = path.exists() and path.stat().st_size > 0
    history = abc.load(db, 1) if resumed else abc.new(db, observed)
    if settings.progress is not None:
        settings.progress(history.max_t + 1, settings.generations)
    while history.max_t + 1 < settings.generations and not _stalled(history, settings):
        # each generation seeded by (seed, generation): a resumed run draws what an
        # uninterrupted one would have
        np.random.seed([settings.seed % 2**32, history.max_t + 1])  # noqa: NPY002
        history = abc.run(max_nr_populations=1)
        if settings.progress is not None:
            settings.progress(history.max_t + 1, settings.generations)
    particles = history.get_population(t=history.max_t).particles
    k = len(simulator.paths)
    u = np.array([[p.parameter[f"u{i}"] for i in range(k)] for p in particles], float)
    weights = np.array([p.weight for p in particles], float)
    if settings.adjust:
        u = _regression_adjusted(u, weights, particles, observed, scales)
    values = {
        name: np.asarray(prior.ppf(np.clip(u[:, i], EDGE, TOP)), float)
        for i, (name, prior) in enumerate(zip(simulator.paths, simulator.priors, strict=True))
    }
    total = int(history.get_all_populations()["samples"].sum())
    return Simulated(values, weights / weights.sum(), total, history.max_t + 1)


def _regression_adjusted(
    u: np.ndarray,
    weights: np.ndarray,
    particles: Sequence[Any],
    observed: dict[str, float],
    scales: dict[str, float],
) -> np.ndarray:
    """Particles moved along a weighted local-linear fit of parameter on summary.

    ``logit u_i − β (s_i − s_obs)`` (on the logit scale, so adjusted particles stay inside
    the prior's range), β from least squares weighted by the particle's weight times the
    Epanechnikov kernel of its distance: what the particle would be had its pilot matched the
    observed one exactly, to first order.
    """
    names = list(observed)
    gap = np.array([[(p.sum_stat[n] - observed[n]) * scales[n] for n in names] for p in particles])
    distance = np.array([p.distance for p in particles], float)
    reach = float(distance.max()) or 1.0
    w = weights * np.clip(1.0 - (distance / (reach * 1.0001)) ** 2, 0.0, None)
    design = np.column_stack([np.ones(len(particles)), gap])
    root = np.sqrt(w)[:, None]
    z = special.logit(np.clip(u, EDGE, TOP))  # unbounded, so no particle leaves the prior
    beta, *_ = np.linalg.lstsq(design * root, z * root, rcond=None)
    return np.asarray(special.expit(z - gap @ beta[1:]), float)


def _stalled(history: Any, settings: AbcSettings) -> bool:
    """Whether the last generation accepted too few of its simulations to go on."""
    if history.max_t < 0:
        return False
    populations = history.get_all_populations()
    last = populations[populations["t"] == history.max_t]
    return bool(settings.population / float(last["samples"].iloc[0]) < settings.min_acceptance)


def _scales(pilot: Pilot, steps: Sequence[str]) -> dict[str, float]:
    """Each share's weight in the distance: one over its binomial standard error in the pilot.

    Fixed by the pilot, not adapted from the simulations: a resumed run measures distances as
    an uninterrupted one does.
    """
    out = {}
    for i, step in enumerate(steps):
        seen = pilot.steps[step]
        n = max(seen.reached, 1)
        p = min(max(seen.converted / n, 1 / n), 1 - 1 / n) if n > 1 else 0.5
        out[f"s{i}"] = 1.0 / np.sqrt(p * (1 - p) / n)
    return out


def summarized_steps(paths: Sequence[str], steps: Sequence[str]) -> list[str]:
    """The simulated steps whose shares summarize a pilot: those whose own parameters are fitted.

    A parameter not of a step (a segment's trust) may act anywhere: then every simulated step.
    Other steps' shares (a downsell seen by a handful) add noise, not information.
    """
    if any(not path.startswith("funnel.") for path in paths):
        return list(steps)
    return [step for step in steps if any(p.startswith(f"funnel.{step}.") for p in paths)]


def _share(converted: float, reached: float) -> float:
    return converted / reached if reached > 0 else 0.0


class _Simulator:
    """A particle → the shares converted at the simulated steps of one simulated pilot."""

    def __init__(
        self, scenario: Scenario, paths: list[str], steps: list[str], exact: Posterior
    ) -> None:
        self.tree = scenario.model_dump(by_alias=True)
        self.priors = [scenario.calibrate[p] for p in paths]
        self.paths = paths
        self.steps = steps
        self.others = [p for p in exact.values if p not in paths]
        self.exact = exact
        self.cumulative = np.cumsum(exact.weights)

    def __call__(self, particle: dict[str, float]) -> dict[str, float]:
        # numpy's global generator, the one pyabc draws particles from: one seeded stream
        seed = int(np.random.randint(0, 2**31 - 1))  # noqa: NPY002
        u = float(np.random.random())  # noqa: NPY002
        pick = int(np.searchsorted(self.cumulative, u * self.cumulative[-1]))
        pick = min(pick, len(self.cumulative) - 1)
        for path in self.others:
            set_value(self.tree, path, float(self.exact.values[path][pick]))
        for i, (path, prior) in enumerate(zip(self.paths, self.priors, strict=True)):
            set_value(self.tree, path, float(prior.ppf(min(max(particle[f"u{i}"], 0.0), 1.0))))
        return simulated_shares(Scenario.model_validate(self.tree), self.steps, seed)


def simulated_shares(scenario: Scenario, steps: Sequence[str], seed: int) -> dict[str, float]:
    """One pilot simulated by the engine: the share of reached visitors each step converted."""
    prepared = prepare(scenario)
    result = run_replication(prepared.compiled, seed, 0, events=True)
    assert result.events is not None  # asked for
    totals = pilot_totals(result.events)
    out = {}
    for i, step in enumerate(steps):
        seen = totals.get(step, Observed(0, 0))
        out[f"s{i}"] = _share(seen.converted, seen.reached)
    return out
