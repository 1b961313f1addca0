"""After the search: re-run the top designs on fresh seeds and compare with the baseline.

The best trials of a noisy search look better than they are (the winner's curse): they
were chosen *because* their replications came out well. So the top k designs, and the
scenario as written, are run again on replications the search never saw (indices after
the search's), and the winner is chosen by that re-evaluation. The improvement over the
baseline is the mean of the paired per-replication differences, with a 90% t-interval.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import optuna
import pandas as pd
from optuna.trial import TrialState

from optimize.pool import Pool
from optimize.space import SearchSpace
from optimize.study import StudyConfig, finished, replications, run_seed
from sim import RunResult, Scenario, measures, paired_difference, prepare
from sim.kpis import key_figures
from sim.scenario import Bound


@dataclass(frozen=True)
class Candidate:
    """A design from the study, with its figures in the search and in the re-evaluation."""

    trial: int
    params: dict[str, Any]
    search_kpis: dict[str, float | None]
    result: RunResult  # on fresh seeds

    def objective(self, measure: str) -> float:
        """A measure in the re-evaluation: a KPI's mean (``profit``) or a percentile."""
        return _mean(self.result, measure)


@dataclass(frozen=True)
class OptimizeResult:
    """The outcome of a study, ready to show and to write."""

    config: StudyConfig
    study: optuna.Study
    goals: list[tuple[str, str]]
    counts: dict[str, int]
    seed: int
    search_replications: int
    reeval_first: int
    baseline: RunResult
    candidates: list[Candidate]  # best first
    improvement: dict[str, dict[str, float | None]]  # kpi -> paired difference, best - base
    changes: list[tuple[str, Any, Any]]  # (path, baseline value, best value)
    constraints: list[str] = field(default_factory=list)  # the measures bounded, as written

    @property
    def best(self) -> Candidate:
        """The winner of the re-evaluation."""
        return self.candidates[0]

    def to_frame(self) -> pd.DataFrame:
        """The re-evaluated designs, best first: trial, values, and each objective's mean."""
        rows = [
            {"trial": c.trial, **c.params, **{k: c.objective(k) for k, _ in self.goals}}
            for c in self.candidates
        ]
        return pd.DataFrame(rows).set_index("trial")

    def __repr__(self) -> str:
        kpi, direction = self.goals[0]
        changed = ", ".join(f"{path}={new}" for path, _, new in self.changes)
        return (
            f"<OptimizeResult of study {self.config.study_name!r}: {self.counts['finished']} "
            f"trials; best trial {self.best.trial} ({changed}): {direction} {kpi} "
            f"{self.best.objective(kpi):,.2f} against {_mean(self.baseline, kpi):,.2f} as written>"
        )


def _mean(result: RunResult, measure: str) -> float:
    """A measure over a run's replications (for a KPI: its mean, NaN left out)."""
    found = measures.parse(measure)
    return found.of(result.replications[found.kpi].to_numpy(dtype=float))


def top_trials(study: optuna.Study, k: int) -> list[optuna.trial.FrozenTrial]:
    """The k best feasible trials (single objective) or up to k of the Pareto front."""
    if len(study.directions) > 1:
        return [t for t in study.best_trials if _feasible(t)][:k]
    complete = [
        t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)) if _feasible(t)
    ]
    sign = -1.0 if study.direction == optuna.study.StudyDirection.MAXIMIZE else 1.0
    # a complete single-objective trial has a value; Optuna types it as optional
    return sorted(complete, key=lambda t: (sign * float(t.value), t.number))[:k]  # type: ignore[arg-type]


def _feasible(trial: optuna.trial.FrozenTrial) -> bool:
    return all(value <= 0 for value in trial.constraints.values())


def rerun(scenario: Scenario, replications: int, seed: int, first: int) -> RunResult:
    """Replications ``first … first + replications − 1`` of a design, in one process."""
    return prepare(scenario).run(replications=replications, seed=seed, first=first)


def improvement_of(best: RunResult, base: RunResult, measure: str) -> dict[str, float | None]:
    """How much better ``best`` measures than ``base``, with a 90% interval.

    For a mean: the mean of the per-replication differences and its t-interval. For a
    percentile: the difference of the two percentiles, and the 5th and 95th percentiles of
    that difference over :data:`BOOTSTRAP` paired resamples of the replications.
    """
    found = measures.parse(measure)
    ours = found.sign * best.replications[found.kpi].to_numpy(dtype=float)
    theirs = found.sign * base.replications[found.kpi].to_numpy(dtype=float)
    if found.percentile is None:
        diff = paired_difference(ours, theirs)
        return {"mean": diff.mean, "lo": diff.lo, "hi": diff.hi}
    draws = paired_percentile_differences(ours, theirs, found.percentile)
    if draws.size == 0:
        return {"mean": None, "lo": None, "hi": None}
    q = found.percentile / 100
    point = measures.quantile(ours, q) - measures.quantile(theirs, q)
    lo, hi = np.quantile(draws, [0.05, 0.95])
    return {"mean": _real(point), "lo": _real(float(lo)), "hi": _real(float(hi))}


# paired resamples of the re-evaluation's replications for a percentile's uncertainty
BOOTSTRAP = 2000


def paired_percentile_differences(ours: np.ndarray, theirs: np.ndarray, p: float) -> np.ndarray:
    """The ``p``-th percentile of ``ours`` minus that of ``theirs``, over paired resamples.

    Replications are resampled in pairs (the same indices for both designs: they share
    their random numbers), from a fixed seed so the figures repeat. Pairs where either
    value is undefined (NaN) are left out; empty if fewer than two remain.
    """
    keep = ~(np.isnan(ours) | np.isnan(theirs))
    ours, theirs = ours[keep], theirs[keep]
    if ours.size < 2:
        return np.empty(0)
    picks = np.random.default_rng(0).integers(0, ours.size, size=(BOOTSTRAP, ours.size))
    clip = 1e300
    a = np.quantile(np.clip(ours[picks], -clip, clip), p / 100, axis=1)
    b = np.quantile(np.clip(theirs[picks], -clip, clip), p / 100, axis=1)
    with np.errstate(invalid="ignore"):
        diff = np.asarray(a - b, dtype=float)
    finite: np.ndarray = diff[np.isfinite(diff)]
    return finite


def _real(x: float) -> float | None:
    return x if math.isfinite(x) else None


def submit_baseline(
    config: StudyConfig, scenario: Scenario, pool: Pool, reeval_replications: int | None = None
) -> int:
    """Queue the baseline's re-evaluation, which the search cannot change; its ticket.

    Queued before the search, a simulation process that would wait for the study
    process to set up runs it meanwhile. Pass the ticket to :func:`reevaluate`.
    """
    seed, first, m = _fresh_replications(config, scenario, reeval_replications)
    return pool.submit(rerun, scenario, m, seed, first)


def _fresh_replications(
    config: StudyConfig, scenario: Scenario, reeval_replications: int | None
) -> tuple[int, int, int]:
    """The re-evaluation's seed, first replication and count, shared by baseline and designs.

    The first is the first replication the search never ran; the count defaults to twice
    the search's.
    """
    seed, n = run_seed(config, scenario), replications(config, scenario)
    return seed, n, reeval_replications or 2 * n


def reevaluate(
    config: StudyConfig,
    space: SearchSpace,
    scenario: Scenario,
    study: optuna.Study,
    *,
    top_k: int = 5,
    reeval_replications: int | None = None,
    pool: Pool | None = None,
    baseline: int | None = None,
    meanwhile: Callable[[optuna.Study], object] | None = None,
) -> OptimizeResult:
    """Re-run the top designs and the baseline on fresh seeds; pick the best.

    ``pool`` runs the designs side by side (default: one after the other, here);
    ``baseline`` is the ticket of :func:`submit_baseline` on that pool, if queued early.
    ``meanwhile(study)`` is called once the designs are queued, before this process
    helps to run them: the simulation processes run them while it does something else
    (draws the study's plots, which do not depend on the re-evaluation).

    Raises:
        ValueError: the study has no complete, feasible trial to re-evaluate.
    """
    goals = scenario.objective.goals
    trials = top_trials(study, top_k)
    if not trials:
        raise ValueError("the study has no complete trial that meets the constraints")
    seed, n, m = _fresh_replications(config, scenario, reeval_replications)
    # a design per call, each in one process (or cluster worker): a design's replications
    # are few and short
    pool = pool or Pool(1)
    if baseline is None:
        baseline = submit_baseline(config, scenario, pool, reeval_replications)
    designs = [space.design(t.params) for t in trials]
    tickets = [baseline] + [pool.submit(rerun, d, m, seed, n) for d in designs]
    if meanwhile is not None:
        meanwhile(study)
    baseline_result, *results = pool.collect(tickets)
    candidates = [
        Candidate(
            trial=t.number,
            params=space.rounded(t.params),
            search_kpis=dict(t.user_attrs.get("kpis", {})),
            result=result,
        )
        for t, result in zip(trials, results, strict=True)
    ]
    kpi, direction = goals[0]
    sign = -1.0 if direction == "maximize" else 1.0
    # a design that breaks a constraint on the fresh replications ranks after every one that
    # meets them: the search's figures were on luck the winner may have been picked for
    bounds = scenario.objective.constraints
    candidates.sort(
        key=lambda c: (not meets(c, bounds), _nan_last(sign * c.objective(kpi)), c.trial)
    )
    improvement = {
        name: improvement_of(candidates[0].result, baseline_result, name)
        for name in dict.fromkeys(
            [k for k, _ in goals] + list(measures.described(list(bounds))) + key_figures()
        )
    }
    states = study.get_trials(deepcopy=False)
    counts = {
        "finished": finished(study),
        "complete": sum(t.state == TrialState.COMPLETE for t in states),
        "pruned": sum(t.state == TrialState.PRUNED for t in states),
        "failed": sum(t.state == TrialState.FAIL for t in states),
    }
    return OptimizeResult(
        config=config,
        study=study,
        goals=goals,
        counts=counts,
        seed=seed,
        search_replications=n,
        reeval_first=n,
        baseline=baseline_result,
        candidates=candidates,
        improvement=improvement,
        changes=space.changes(candidates[0].params),
        constraints=list(bounds),
    )


def meets(candidate: Candidate, bounds: Mapping[str, Bound]) -> bool:
    """Whether a design's re-evaluated measures keep every constraint (``min ≤ value ≤ max``)."""
    for measure, bound in bounds.items():
        mean = candidate.objective(measure)
        if math.isnan(mean):
            return False
        if (bound.min is not None and mean < bound.min) or (
            bound.max is not None and mean > bound.max
        ):
            return False
    return True


def _nan_last(x: float) -> float:
    return math.inf if math.isnan(x) else x
