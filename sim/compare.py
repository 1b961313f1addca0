"""Several designs on the same simulated people: the A/B test before launch.

Every design runs replications ``0 … n − 1`` of one seed (common random numbers), so
replication ``r`` of design B meets the same arrivals and the same dice as replication ``r``
of design A wherever the two funnels agree. The difference of a KPI is then measured per
replication, and its mean gets a 90% t-interval from those paired differences: far
narrower than comparing two independent runs, because the noise both designs share
cancels.

A difference is *distinguishable* when its interval leaves out zero. When it does not,
:func:`replications_needed` says how many replications would tell the designs apart if
the difference were as large as measured (90% interval, 80% power).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.executor import Executor
from sim.kpis import KPIS
from sim.runner import Progress, RunResult, run_scenario
from sim.scenario import Scenario
from sim.source import ScenarioSource

CONFIDENCE = 0.90
POWER = 0.80


@dataclass(frozen=True)
class Difference:
    """One KPI of design B minus design A, paired by replication."""

    mean: float | None
    lo: float | None
    hi: float | None
    sd: float | None  # standard deviation of the per-replication differences
    pairs: int  # replications where both values are finite

    @property
    def distinguishable(self) -> bool:
        """Whether the 90% interval leaves out zero."""
        if self.lo is None or self.hi is None:
            return False
        return self.lo > 0 or self.hi < 0

    @property
    def identical(self) -> bool:
        """Whether the two designs gave exactly the same value in every replication."""
        return self.mean == 0 and self.sd == 0

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON."""
        return {
            "mean": self.mean,
            "lo": self.lo,
            "hi": self.hi,
            "distinguishable": self.distinguishable,
            "replications_needed": replications_needed(self),
        }


def paired_difference(b: np.ndarray, a: np.ndarray) -> Difference:
    """Mean of ``b − a`` over the replications where both are finite, with its interval.

    Examples:
        >>> d = paired_difference(np.array([3.0, 4.0, 5.0]), np.array([1.0, 2.0, 3.0]))
        >>> d.mean, d.lo, d.hi
        (2.0, 2.0, 2.0)
    """
    with np.errstate(invalid="ignore"):  # never-paid-back minus never-paid-back
        diff = np.asarray(b, dtype=float) - np.asarray(a, dtype=float)
    diff = diff[np.isfinite(diff)]
    if diff.size == 0:
        return Difference(None, None, None, None, 0)
    mean = float(diff.mean())
    if diff.size < 2:
        return Difference(mean, None, None, None, 1)
    # Student's t quantile, as scipy.stats.t.ppf computes it, without loading scipy.stats
    from scipy.special import stdtrit

    sd = float(diff.std(ddof=1))
    half = float(stdtrit(diff.size - 1, 0.5 + CONFIDENCE / 2)) * sd / math.sqrt(diff.size)
    return Difference(mean, mean - half, mean + half, sd, int(diff.size))


def replications_needed(diff: Difference) -> int | None:
    """Replications that would tell the designs apart, were the difference as measured.

    The usual sample size of a two-sided test on paired differences (normal
    approximation): ``n = ((z₀.₉₅ + z₀.₈₀) · sd / |mean|)²``, so that a 90% interval
    leaves out zero with 80% power. ``None`` when it cannot be said: identical designs,
    or too few replications to estimate the spread.
    """
    if diff.mean is None or diff.sd is None or diff.identical:
        return None
    if diff.sd == 0:
        return 2  # no noise at all: any two replications show the difference
    if diff.mean == 0:
        return None
    from scipy.special import ndtri  # the normal quantile (scipy.stats.norm.ppf)

    z = ndtri(0.5 + CONFIDENCE / 2) + ndtri(POWER)
    return max(2, math.ceil((z * diff.sd / abs(diff.mean)) ** 2))


@dataclass(frozen=True)
class Comparison:
    """Designs run on the same seeds; differences to the first design."""

    labels: list[str]
    runs: list[RunResult]
    seed: int
    replications: int

    def difference(self, design: int, kpi: str) -> Difference:
        """Design ``design`` minus the first design, for one KPI."""
        return paired_difference(
            self.runs[design].replications[kpi].to_numpy(dtype=float),
            self.runs[0].replications[kpi].to_numpy(dtype=float),
        )

    def to_frame(self) -> pd.DataFrame:
        """Every KPI: each design's mean, then each design's paired difference to the first.

        Columns are the labels, then ``"<label> − <first>"`` and its ``lo`` and ``hi``.
        """
        first = self.labels[0]
        rows = []
        for kpi in KPIS:
            row: dict[str, Any] = {"kpi": kpi}
            row.update(
                {
                    label: run.summary.kpis[kpi]["mean"]
                    for label, run in zip(self.labels, self.runs, strict=True)
                }
            )
            for i in range(1, len(self.runs)):
                diff, name = self.difference(i, kpi), f"{self.labels[i]} − {first}"
                row.update({name: diff.mean, f"{name} lo": diff.lo, f"{name} hi": diff.hi})
            rows.append(row)
        return pd.DataFrame(rows).set_index("kpi")

    def __repr__(self) -> str:
        first = self.labels[0]
        profits = []
        for i in range(1, len(self.runs)):
            d = self.difference(i, "profit")
            mean = "—" if d.mean is None else f"{d.mean:+,.2f}"
            apart = "told apart" if d.distinguishable else "not told apart"
            profits.append(f"{self.labels[i]} − {first} {mean} ({apart})")
        return (
            f"<Comparison of {len(self.labels)} designs, {self.replications} replications of "
            f"seed {self.seed}: profit {'; '.join(profits)}>"
        )

    def to_dict(self) -> dict[str, Any]:
        """The comparison as plain JSON-ready data."""
        return {
            "designs": self.labels,
            "seed": self.seed,
            "replications": self.replications,
            "currency": self.runs[0].summary.currency,
            "kpis": {
                kpi: {
                    "designs": [run.summary.kpis[kpi] for run in self.runs],
                    "differences": [
                        {"design": self.labels[i], **self.difference(i, kpi).to_dict()}
                        for i in range(1, len(self.runs))
                    ],
                }
                for kpi in KPIS
            },
        }


def compare_scenarios(
    scenarios: Sequence[Scenario],
    labels: Sequence[str] | None = None,
    *,
    replications: int | None = None,
    seed: int | None = None,
    jobs: int = 1,
    progress: Progress | None = None,
    executor: Executor | None = None,
) -> Comparison:
    """Run every design on the same replication seeds and pair their replications.

    Args:
        scenarios: the designs; the first is the reference the others are compared with.
        labels: a short name for each design (default: each scenario's name, made unique).
        replications: per design; default the first scenario's ``replications``.
        seed: default the first scenario's ``seed``; every design uses the same one.
        jobs: worker processes; results do not depend on it.
        progress: called as ``progress(done, total)`` over all designs' replications.
        executor: where the replications run (local processes or a Dask cluster), one
            for every design; default ``jobs`` local processes. Results do not depend on it.

    Raises:
        ValueError: fewer than two designs, or labels that do not match them.
    """
    if len(scenarios) < 2:
        raise ValueError("a comparison needs at least two designs")
    if labels is None:
        labels = _unique([scenario.name for scenario in scenarios])
    if len(labels) != len(scenarios):
        raise ValueError(f"{len(scenarios)} designs but {len(labels)} labels")
    n = scenarios[0].replications if replications is None else replications
    s = scenarios[0].seed if seed is None else seed
    runs = []
    with Executor(jobs) if executor is None else nullcontext(executor) as where:
        for i, scenario in enumerate(scenarios):
            step = None
            if progress is not None:
                step = _offset(progress, i * n, len(scenarios) * n)
            runs.append(
                run_scenario(
                    scenario, replications=n, seed=s, jobs=jobs, progress=step, executor=where
                )
            )
    return Comparison(labels=list(labels), runs=runs, seed=s, replications=n)


def designs_to_compare(
    files: Sequence[str | Path],
    *,
    versus: Sequence[str] = (),
    variants: Sequence[str] = (),
    overrides: Sequence[str] = (),
    names: Sequence[str] = (),
) -> tuple[list[Scenario], list[str]]:
    """The designs ``sim compare`` runs, and their labels (made unique).

    Each file (labelled by its name), then the first file with each set of ``versus``
    overrides (``PATH=VALUE;PATH=VALUE``, labelled by that text), then each of the first
    file's ``variants`` (labelled by name); ``overrides`` apply to every design. ``names``,
    if given, label the designs in that order instead (the first ones, if fewer).

    Raises:
        ScenarioError: a file, override or variant is invalid.
        ValueError: fewer than two designs, or more names than designs.
    """
    sources = []
    for path in files:  # one at a time: the first bad file is the one reported
        sources.append(ScenarioSource.from_file(path).with_overrides(overrides))
        sources[-1].scenario  # noqa: B018  (validated here)
    designs = [(Path(path).stem, s.scenario) for path, s in zip(files, sources, strict=True)]
    for text in versus:
        extra = [part.strip() for part in text.split(";") if part.strip()]
        designs.append((text, sources[0].with_overrides(extra, option="--vs").scenario))
    for name in variants:
        designs.append((name, sources[0].with_variant(name).scenario))
    if len(designs) < 2:
        raise ValueError("give two scenarios, or one with --vs PATH=VALUE or --variant NAME")
    if len(names) > len(designs):
        raise ValueError(f"{len(names)} labels for {len(designs)} designs")
    labels = [*names, *(label for label, _ in designs[len(names) :])]
    return [spec for _, spec in designs], _unique(labels)


def _unique(labels: list[str]) -> list[str]:
    """Labels made unique by numbering repeats: a, a (2), a (3)."""
    seen: dict[str, int] = {}
    out = []
    for label in labels:
        seen[label] = seen.get(label, 0) + 1
        out.append(label if seen[label] == 1 else f"{label} ({seen[label]})")
    return out


def _offset(progress: Progress, before: int, total: int) -> Progress:
    return lambda done, _n: progress(before + done, total)
