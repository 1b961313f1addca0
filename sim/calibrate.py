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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

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
from sim.steps import STEP_KINDS

if TYPE_CHECKING:
    from sim.calibrate_abc import AbcSettings

QUANTILES = (0.05, 0.5, 0.95)
EXACT = "exact"  # a parameter fitted on the Binomial likelihood
ABC = "abc-smc"  # a parameter fitted on simulated pilots
UNIDENTIFIED = 0.8  # posterior 90% width over prior 90% width above which the pilot says little
_Z95 = float(stats.norm.ppf(0.95))
Values = Mapping[str, np.ndarray]


@dataclass(frozen=True)
class Fitted:
    """One free parameter: its prior's and posterior's 5th, 50th and 95th percentiles.

    ``method`` says how its posterior was found: ``"exact"`` (the Binomial likelihood) or
    ``"abc-smc"`` (simulated pilots, for a step with no tractable likelihood).
    """

    path: str
    prior: tuple[float, float, float]
    posterior: tuple[float, float, float]
    method: str = EXACT

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
class Combination:
    """What an observed step pins down when several free parameters act on its conversion.

    At the one price the pilot showed, its counts fix only the step's conversion probability
    ``p(θ)`` (the exact likelihood's formula, ``formula`` in words), not the parameters
    ``paths`` apart: many (take, value) pairs give the same share of buyers. ``prior`` and
    ``posterior`` are p's 5th, 50th and 95th percentiles.
    """

    step: str
    paths: tuple[str, ...]
    formula: str
    prior: tuple[float, float, float]
    posterior: tuple[float, float, float]


@dataclass(frozen=True)
class Calibration:
    """The fit: one entry per free parameter, the effective sample size and the draws used.

    ``simulated`` names the observed steps fitted by simulation (no exact likelihood) and
    ``simulations`` counts the pilots simulated for them (0: the likelihood was exact).
    ``generations`` counts ABC-SMC's generations (with those a resumed history held).
    ``combinations`` holds, for each exactly fitted step that two or more free parameters act
    on, the conversion probability the pilot pins down in their place.
    """

    parameters: tuple[Fitted, ...]
    effective_sample_size: float
    draws: int
    steps_used: tuple[str, ...]
    simulated: tuple[str, ...] = ()
    simulations: int = 0
    combinations: tuple[Combination, ...] = ()
    generations: int = 0


@dataclass(frozen=True)
class Posterior:
    """Importance-sampled draws of every free parameter and their normalized weights."""

    values: dict[str, np.ndarray]
    weights: np.ndarray


def calibrate(
    scenario: Scenario,
    pilot: Pilot,
    *,
    draws: int = 2**16,
    seed: int = 0,
    abc: AbcSettings | None = None,
) -> Calibration:
    """The posterior of the scenario's ``calibrate:`` parameters given the pilot.

    Parameters that only steps with an exact likelihood read are fitted by importance
    sampling; those an observed step with no tractable likelihood reads (a queue, trust
    that emails or earlier purchases change, referrals) by ABC-SMC on simulated pilots
    (:mod:`sim.calibrate_abc`, settings ``abc``), with the others drawn from their exact
    posterior. The same seed gives the same posterior, bit for bit.

    Raises:
        ScenarioError: no free parameters, or a path names nothing or no number.
    """
    priors = dict(scenario.calibrate)
    if not priors:
        raise ScenarioError.at("calibrate", "names no free parameter", "calibrate: {path: prior}")
    tree = scenario.model_dump(by_alias=True)
    for path in priors:
        _check_path(tree, path)
    exact, simulated = likelihood_steps(scenario, pilot)
    by_simulation = simulation_parameters(scenario, simulated)
    posterior, used = _importance(scenario, pilot, exact, draws, seed)
    uniform = np.full(draws, 1.0 / draws)
    fitted = {
        path: Fitted(path, _quantiles(v, uniform), _quantiles(v, posterior.weights))
        for path, v in posterior.values.items()
    }
    simulations = generations = 0
    if by_simulation:
        from sim.calibrate_abc import AbcSettings, fit_by_simulation

        found = fit_by_simulation(
            scenario, pilot, by_simulation, simulated, posterior, abc or AbcSettings(seed=seed)
        )
        simulations, generations = found.simulations, found.generations
        for path in by_simulation:
            fitted[path] = Fitted(
                path, fitted[path].prior, _quantiles(found.values[path], found.weights), ABC
            )
    ess = float(1.0 / np.sum(posterior.weights**2))
    return Calibration(
        tuple(fitted[p] for p in priors),
        ess,
        draws,
        used,
        tuple(simulated),
        simulations,
        _combinations(scenario, pilot, used, posterior),
        generations,
    )


def _combinations(
    scenario: Scenario, pilot: Pilot, used: Sequence[str], posterior: Posterior
) -> tuple[Combination, ...]:
    """The conversion probability of each used step that two or more free parameters act on."""
    out = []
    draws = len(posterior.weights)
    uniform = np.full(draws, 1.0 / draws)
    for step_id in used:
        acting: set[str] = set()
        chance = _conversion(scenario, step_id, posterior.values, pilot, acting)
        if len(acting) < 2:
            continue
        p = np.broadcast_to(np.asarray(chance, float), (draws,))
        out.append(
            Combination(
                step_id,
                tuple(path for path in scenario.calibrate if path in acting),
                _formula(scenario, step_id, acting),
                _quantiles(p, uniform),
                _quantiles(p, posterior.weights),
            )
        )
    return tuple(out)


def _formula(scenario: Scenario, step_id: str, acting: set[str]) -> str:
    """The exact likelihood's conversion probability of a step, in words."""
    step = scenario.step(step_id)
    over = " (averaged over the segments)" if len(scenario.segments) > 1 else ""
    if hasattr(step, "rate") and not hasattr(step, "take"):
        return f"rate{over}"
    segments = scenario.segments.values()
    factors = []
    if getattr(step, "via", "page") == "email":
        factors.append("open rate")
    if any(s.junk_share for s in segments) or any(p.endswith("junk_share") for p in acting):
        factors.append("(1 − junk share)")
    factors.append("take")
    if any(s.trust != 1 for s in segments) or any(".trust" in p for p in acting):
        factors.append("trust")
    factors.append("P(willingness to pay ≥ price)")
    return " × ".join(factors) + over


def _importance(
    scenario: Scenario, pilot: Pilot, exact: Sequence[str], draws: int, seed: int
) -> tuple[Posterior, tuple[str, ...]]:
    """Prior draws on a scrambled Sobol grid weighted by the exact steps' likelihood."""
    priors = scenario.calibrate
    u = qmc.Sobol(len(priors), scramble=True, seed=seed).random(draws)
    u = np.clip(u, EDGE, TOP)
    values = {path: np.asarray(d.ppf(u[:, i]), float) for i, (path, d) in enumerate(priors.items())}
    log_w = np.zeros(draws)
    used = []
    for step_id in exact:
        found = _counts(scenario, step_id, pilot)
        if found is None:
            continue
        reached, converted = found
        chance = _conversion(scenario, step_id, values, pilot)
        used.append(step_id)
        p = np.clip(chance, 1e-12, 1 - 1e-12)
        log_w += converted * np.log(p) + (reached - converted) * np.log1p(-p)
    weights = np.exp(log_w - log_w.max())
    weights /= weights.sum()
    return Posterior(values, weights), tuple(used)


def likelihood_steps(scenario: Scenario, pilot: Pilot) -> tuple[list[str], list[str]]:
    """The observed steps with an exact likelihood, and those only simulation can fit.

    A step's likelihood is exact when its kind has a closed form (an opt-in's rate, a
    sale's take, price and value) and nothing earlier in the funnel changed its visitors'
    trust or mailing (no email sent, no sale with a trust gain) and no referral brings
    visitors; a step that neither opts in nor sells (an email sequence) tells nothing.
    """
    exact: list[str] = []
    simulated: list[str] = []
    disturbed = scenario.referral is not None or any(
        getattr(ch, "type", "") == "referral" for ch in scenario.channels.values()
    )
    for step in scenario.funnel:
        kind = STEP_KINDS[step.type]
        observed = step.id in pilot.steps or step.id in pilot.converted_by_day
        if observed and (kind.entry or kind.sells):
            closed = _closed_form(step)
            if closed and not disturbed and _counts(scenario, step.id, pilot) is not None:
                exact.append(step.id)
            elif step.id in pilot.steps:
                simulated.append(step.id)
        sends_email = "sent" in kind.tallies or getattr(step, "via", "page") == "email"
        if sends_email or float(getattr(step, "trust_gain", 0.0) or 0.0) > 0:
            disturbed = True
    return exact, simulated


def simulation_parameters(scenario: Scenario, simulated: Sequence[str]) -> list[str]:
    """The free parameters a step fitted by simulation reads: its own, and any not a step's."""
    if not simulated:
        return []
    prefixes = tuple(f"funnel.{step}." for step in simulated)
    return [
        path
        for path in scenario.calibrate
        if path.startswith(prefixes) or not path.startswith("funnel.")
    ]


def _closed_form(step: Any) -> bool:
    if hasattr(step, "rate") and not hasattr(step, "take"):
        return True
    return all(hasattr(step, key) for key in ("take", "price", "value"))


def _counts(scenario: Scenario, step_id: str, pilot: Pilot) -> tuple[int, int] | None:
    """(reached, converted) of a step: as observed, or reached as those due by the end.

    A pilot that counted a sale's purchases but not whom it reached (a checkout export) is
    fitted on the visitors due by the pilot's last day: those who converted at the step it
    follows at least ``delay_days`` before the end. Later ones have had no chance to buy yet,
    and counting them would bias the take low.
    """
    if step_id in pilot.steps:
        seen = pilot.steps[step_id]
        return seen.reached, seen.converted
    step = scenario.step(step_id)
    before = getattr(step, "after", None)
    if not isinstance(before, str) or before not in pilot.converted_by_day:
        return None
    last = pilot.last_day - int(getattr(step, "delay_days", 0))
    due = sum(n for day, n in pilot.converted_by_day[before].items() if day <= last)
    converted = sum(pilot.converted_by_day.get(step_id, {}).values())
    return (due, converted) if due >= converted else None


def _check_path(tree: Any, path: str) -> None:
    try:
        value = get_value(tree, path)
    except PathError as exc:
        raise ScenarioError.at(f"calibrate.{path}", exc.message, exc.hint) from None
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise ScenarioError.at(f"calibrate.{path}", "names no single number", "name a number")


def _quantiles(x: np.ndarray, weights: np.ndarray) -> tuple[float, float, float]:
    order = np.argsort(x, kind="stable")
    cumulative = np.cumsum(weights[order])
    cumulative /= cumulative[-1]
    at = np.searchsorted(cumulative, QUANTILES)
    q = x[order][np.minimum(at, len(x) - 1)]
    return float(q[0]), float(q[1]), float(q[2])


def _conversion(
    scenario: Scenario, step_id: str, values: Values, pilot: Pilot, acting: set[str] | None = None
) -> Any:
    """p(θ) for a step with a closed form, one per draw, averaged over the segments.

    An offer sent by email is seen by those who read the email (the segment's open rate),
    whose trust the open raised by the segment's ``trust_per_open``. The free parameters
    the formula reads are added to ``acting``.
    """
    step = scenario.step(step_id)
    here = _reader(values, acting)
    prefix = f"funnel.{step_id}"
    total: Any = 0.0
    for segment, share in _segment_shares(scenario, pilot).items():
        if hasattr(step, "rate") and not hasattr(step, "take"):
            total = total + share[0] * here(f"{prefix}.rate", step.rate, segment)
            continue
        seg = scenario.segments[segment]
        base = f"segments.{segment}"
        take = here(f"{prefix}.take", getattr(step, "take"), segment)  # noqa: B009
        price = here(f"{prefix}.price", getattr(step, "price"), segment)  # noqa: B009
        value = here(f"{prefix}.value", getattr(step, "value"), segment)  # noqa: B009
        trust = here(f"{base}.trust", seg.trust, segment) + share[1]
        seen: Any = 1.0
        if getattr(step, "via", "page") == "email":
            seen = here(f"{base}.email.open_rate", seg.email.open_rate, segment)
            trust = trust + here(f"{base}.email.trust_per_open", seg.email.trust_per_open, segment)
        trust = np.clip(trust, 0.0, 1.0)
        sigma = here(f"{base}.price_dispersion", seg.price_dispersion, segment)
        junk = here(f"{base}.junk_share", seg.junk_share, segment)
        acceptance = price_acceptance(price, value, sigma)
        total = total + share[0] * seen * (1 - junk) * take * trust * acceptance
    return total


def _reader(values: Values, acting: set[str] | None = None) -> Callable[[str, Any, str], Any]:
    """Reads a number: a free parameter's draws, else the scenario's value for the segment.

    Each free parameter read is added to ``acting``.
    """

    def read(path: str, fixed: Any, segment: str) -> Any:
        for name in (path, f"{path}.{segment}"):
            if name in values:
                if acting is not None:
                    acting.add(name)
                return values[name]
        if isinstance(fixed, Mapping):
            return float(fixed[segment])
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
