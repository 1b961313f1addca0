"""Fit a scenario's free parameters to a pilot's data (docs/calibration.md).

The scenario's ``calibrate:`` section names the free parameters by dotted path, each with a
prior written as an uncertain quantity. The posterior comes from importance sampling: ``K``
prior draws on a scrambled Sobol grid, each weighted by the exact Binomial likelihood of every
step whose reached and converted counts the pilot observed:

``converted ~ Binomial(reached, p(θ))`` with ``p = rate`` for a step with a ``rate`` (an
opt-in) and ``p = Σ_s w_s (1 − junk_s) · take · trust_s · S_s(price)`` for a step with a
``take`` (a sale), ``w_s`` the share of segment ``s`` among arrivals (channel mixes, weighted by
the pilot's visitors per channel where given, else equally) and ``trust_s`` the segment's trust
plus its channel's warmth.

Examples:
    >>> from sim import load_scenario
    >>> from sim.pilot import read_pilot
    >>> s = load_scenario(
    ...     "scenarios/quickstart.yaml",
    ...     overrides=["calibrate={funnel.guide.rate: {between: [0.05, 0.6]}}"],
    ... )
    >>> fit = calibrate(s, read_pilot("scenarios/pilot_quickstart.csv", s))
    >>> fit.parameters[0].identified
    True
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats
from scipy.stats import qmc

from sim.behavior import price_acceptance
from sim.errors import ScenarioError
from sim.paths import PathError, get_value
from sim.pilot import Pilot
from sim.scenario import Scenario
from sim.source import ScenarioSource
from sim.spec import EDGE, TOP, Distribution

QUANTILES = (0.05, 0.5, 0.95)
UNIDENTIFIED = 0.8  # posterior 90% width over prior 90% width above which the pilot says little
_Z95 = float(stats.norm.ppf(0.95))
Values = Mapping[str, np.ndarray]


@dataclass(frozen=True)
class Fitted:
    """One free parameter: its prior's and posterior's 5th, 50th and 95th percentiles."""

    path: str
    prior: tuple[float, float, float]
    posterior: tuple[float, float, float]

    @property
    def identified(self) -> bool:
        """Whether the pilot narrowed the 90% interval to at most 80% of the prior's."""
        before = self.prior[2] - self.prior[0]
        after = self.posterior[2] - self.posterior[0]
        return after <= UNIDENTIFIED * before

    @property
    def moved(self) -> float:
        """How far the median moved, in prior 90% widths."""
        return (self.posterior[1] - self.prior[1]) / (self.prior[2] - self.prior[0])


@dataclass(frozen=True)
class Calibration:
    """The fit: one entry per free parameter, the effective sample size and the draws used."""

    parameters: tuple[Fitted, ...]
    effective_sample_size: float
    draws: int
    steps_used: tuple[str, ...]


def calibrate(
    scenario: Scenario, pilot: Pilot, *, draws: int = 2**16, seed: int = 0
) -> Calibration:
    """The posterior of the scenario's ``calibrate:`` parameters given the pilot.

    Raises:
        ScenarioError: no free parameters, a path names nothing or no number, or a step the
            likelihood needs holds a value per segment.
    """
    priors = dict(scenario.calibrate)
    if not priors:
        raise ScenarioError.at("calibrate", "names no free parameter", "calibrate: {path: prior}")
    tree = scenario.model_dump(by_alias=True)
    for path in priors:
        _check_path(tree, path)
    u = qmc.Sobol(len(priors), scramble=True, seed=seed).random(draws)
    u = np.clip(u, EDGE, TOP)
    values = {path: np.asarray(d.ppf(u[:, i]), float) for i, (path, d) in enumerate(priors.items())}
    log_w = np.zeros(draws)
    used = []
    for step_id, seen in (
        (s.id, pilot.steps[s.id]) for s in scenario.funnel if s.id in pilot.steps
    ):
        chance = _conversion(scenario, step_id, values, pilot)
        if chance is None:
            continue
        used.append(step_id)
        p = np.clip(chance, 1e-12, 1 - 1e-12)
        log_w += seen.converted * np.log(p) + (seen.reached - seen.converted) * np.log1p(-p)
    weights = np.exp(log_w - log_w.max())
    weights /= weights.sum()
    ess = float(1.0 / np.sum(weights**2))
    fitted = tuple(
        Fitted(
            path,
            _quantiles(values[path], np.full(draws, 1.0 / draws)),
            _quantiles(values[path], weights),
        )
        for path in priors
    )
    return Calibration(fitted, ess, draws, tuple(used))


def _check_path(tree: Any, path: str) -> None:
    try:
        value = get_value(tree, path)
    except PathError as exc:
        raise ScenarioError.at(f"calibrate.{path}", exc.message, exc.hint) from None
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise ScenarioError.at(f"calibrate.{path}", "names no single number", "name a number")


def _quantiles(x: np.ndarray, weights: np.ndarray) -> tuple[float, float, float]:
    order = np.argsort(x)
    cumulative = np.cumsum(weights[order])
    cumulative /= cumulative[-1]
    at = np.searchsorted(cumulative, QUANTILES)
    q = x[order][np.minimum(at, len(x) - 1)]
    return float(q[0]), float(q[1]), float(q[2])


def _conversion(scenario: Scenario, step_id: str, values: Values, pilot: Pilot) -> Any:
    """p(θ) for a step, one per draw; None for a step whose conversion has no closed form."""
    step = scenario.step(step_id)
    here = _reader(scenario, values)
    prefix = f"funnel.{step_id}"
    if hasattr(step, "rate") and not hasattr(step, "take"):
        return here(f"{prefix}.rate", step.rate)
    if not all(hasattr(step, key) for key in ("take", "price", "value")):
        return None
    take = here(f"{prefix}.take", getattr(step, "take"))  # noqa: B009 (any kind with a take)
    price = here(f"{prefix}.price", getattr(step, "price"))  # noqa: B009
    total: Any = 0.0
    for segment, share in _segment_shares(scenario, pilot).items():
        seg = scenario.segments[segment]
        base = f"segments.{segment}"
        value = here(f"{prefix}.value", getattr(step, "value"))  # noqa: B009
        trust = np.clip(here(f"{base}.trust", seg.trust) + share[1], 0.0, 1.0)
        sigma = here(f"{base}.price_dispersion", seg.price_dispersion)
        junk = here(f"{base}.junk_share", seg.junk_share)
        total = total + share[0] * (1 - junk) * take * trust * price_acceptance(price, value, sigma)
    return total


def _reader(scenario: Scenario, values: Values) -> Callable[[str, Any], Any]:
    def read(path: str, fixed: Any) -> Any:
        if path in values:
            return values[path]
        if not isinstance(fixed, int | float):
            raise ScenarioError.at(
                path, "calibration reads one number here, not a value per segment", ""
            )
        return float(fixed)

    return read


def _segment_shares(scenario: Scenario, pilot: Pilot) -> dict[str, tuple[float, float]]:
    """Segment → (share of arrivals, its visitors' mean warmth), over the channels."""
    weights = {c: float(pilot.visitors.get(c, 0)) for c in scenario.channels}
    if sum(weights.values()) <= 0:
        weights = dict.fromkeys(scenario.channels, 1.0)
    total = sum(weights.values())
    share: dict[str, float] = {}
    warmth: dict[str, float] = {}
    for name, channel in scenario.channels.items():
        mix = channel.mix or {}  # a referral channel keeps its referrer's segment
        mix_total = sum(mix.values()) or 1.0
        for segment, part in mix.items():
            w = weights[name] / total * part / mix_total
            share[segment] = share.get(segment, 0.0) + w
            warmth[segment] = warmth.get(segment, 0.0) + w * float(getattr(channel, "warmth", 0))
    return {s: (share[s], warmth[s] / share[s] if share[s] else 0.0) for s in share}


def calibrated_source(source: ScenarioSource, fit: Calibration) -> ScenarioSource:
    """The scenario with each free parameter replaced by its fitted posterior, no ``calibrate:``.

    A parameter whose posterior lies within (0, 1) becomes ``{beta: {mean, sd}}`` (mean and sd
    from its 5/50/95%: the median and the 90% width over 2 · 1.645); a positive one
    ``{lognormal: {median, sd_log}}``; any other ``{normal: {mean, sd}}``. Write it with
    ``.dump()``: comments of the file are kept.
    """
    changes = ["calibrate={}"]
    for p in fit.parameters:
        flow = json.dumps(fitted_distribution(p).model_dump(mode="json"))
        changes.append(f"{p.path}={flow}")
    return source.with_overrides(changes)


def fitted_distribution(p: Fitted) -> Distribution:
    """A distribution with roughly the posterior's 5th, 50th and 95th percentiles."""
    from sim.spec import BetaDist, LogNormal, NormalDist

    lo, mid, hi = p.posterior
    sd = max((hi - lo) / (2 * _Z95), 1e-9)
    if lo > 0 and hi < 1 and sd**2 < mid * (1 - mid):
        return BetaDist.model_validate({"beta": {"mean": mid, "sd": sd}})
    if lo > 0:
        sd_log = max(float(np.log(hi / lo)) / (2 * _Z95), 1e-9)
        return LogNormal.model_validate({"lognormal": {"median": mid, "sd_log": sd_log}})
    return NormalDist.model_validate({"normal": {"mean": mid, "sd": sd}})
