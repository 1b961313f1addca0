"""Which assumption matters: tornado, spider, Sobol indices, loss regions, value of information.

The inputs are a scenario's uncertain quantities (:mod:`sim.assumptions`). Every evaluation
is one replication of a concrete scenario (each input at a stated value, the others at their
medians), run through the engine seam :func:`sim.prepare`; evaluations that should differ
only in their inputs share a replication number, so they meet the same luck (common random
numbers) and seed noise does not pass for sensitivity. docs/sensitivity.md states each
method, its estimator and its run count.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sim import assumptions
from sim.executor import run_all
from sim.runner import prepare
from sim.scenario import Scenario
from sim.spec import EDGE, TOP

Progress = Callable[[int, int], None]
# runs ``(values, replication)`` work items (of a design, default the scenario), KPIs in order
Many = Callable[..., list[dict[str, float]]]
Z90 = 1.6448536269514722  # the normal quantile of a two-sided 90% interval
SPIDER = (0.05, 0.25, 0.5, 0.75, 0.95)  # the percentiles a spider chart visits
NOISE = "seed noise"  # the Sobol input that picks the replication: luck as a bar of its own
LUCK_SEEDS = 1 << 20  # replications the seed-noise input chooses among


@dataclass(frozen=True)
class Bar:
    """One input's tornado bar: the KPI at its 5th and 95th percentile, others at medians.

    ``low``/``high`` are mean KPIs; ``swing`` the mean paired difference high − low over
    the same replications, with its 90% interval (``± 1.645 SE``).
    """

    path: str
    low_value: float
    high_value: float
    low: float
    high: float
    swing: float
    swing_lo: float
    swing_hi: float


@dataclass(frozen=True)
class Indices:
    """First-order and total Sobol indices of one KPI, with 90% confidence half-widths."""

    names: list[str]  # the inputs, then ``seed noise``
    first: list[float]
    first_conf: list[float]
    total: list[float]
    total_conf: list[float]


@dataclass(frozen=True)
class Region:
    """A box of inputs where the funnel loses money more often (PRIM-style peeling)."""

    box: dict[str, tuple[float, float]]  # only the inputs the peeling narrowed
    loss_rate: float  # share of evaluations inside the box with profit < 0
    overall: float  # the same over every evaluation
    support: float  # share of evaluations inside the box
    coverage: float  # share of all losing evaluations that fall inside

    def as_ranges(self) -> dict[str, dict[str, list[float]]]:
        """The box as uncertain quantities to paste into a scenario (``{between: …}``)."""
        return {path: {"between": [lo, hi]} for path, (lo, hi) in self.box.items()}


@dataclass(frozen=True)
class Value:
    """The value of information for a decision between designs, in money (mean profit)."""

    designs: list[str]
    means: list[float]  # each design's mean profit over the assumption draws
    evpi: float  # learning every input before choosing
    evppi: dict[str, float]  # learning one input before choosing


@dataclass(frozen=True)
class Sensitivity:
    """Everything ``sim sensitivity`` finds, per KPI; ``evaluations`` holds every run."""

    scenario: str
    currency: str
    seed: int
    inputs: dict[str, dict[str, Any]]  # path -> the distribution as written
    tornado: dict[str, list[Bar]]
    spider: dict[str, dict[str, list[tuple[float, float, float]]]]  # (pct, value, mean kpi)
    sobol: dict[str, Indices]
    region: Region | None
    value: Value | None
    runs: dict[str, int]
    evaluations: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data (the evaluations left out: they go to CSV)."""
        return {
            "scenario": self.scenario,
            "currency": self.currency,
            "seed": self.seed,
            "inputs": self.inputs,
            "runs": self.runs,
            "tornado": {k: [vars(b) for b in bars] for k, bars in self.tornado.items()},
            "spider": {
                k: {p: [list(t) for t in pts] for p, pts in by.items()}
                for k, by in self.spider.items()
            },
            "sobol": {k: vars(ix) for k, ix in self.sobol.items()},
            "loss_region": None
            if self.region is None
            else {**vars(self.region), "ranges": self.region.as_ranges()},
            "value_of_information": None if self.value is None else vars(self.value),
        }


def evaluation(
    target: Scenario, seed: int, values: Mapping[str, float], replication: int
) -> dict[str, float]:
    """KPIs of one replication of ``target`` with some inputs set (the others at medians)."""
    known = {q.path for q in assumptions.quantities(target)}
    concrete = assumptions.with_values(target, {p: v for p, v in values.items() if p in known})
    return prepare(concrete).run_replication(seed, replication)


class _Evaluator:
    """Runs evaluations (here or on a cluster), logs them in order, reports progress."""

    def __init__(
        self,
        scenario: Scenario,
        seed: int,
        progress: Progress | None,
        total: int,
        cluster: str | None = None,
        jobs: int = 1,
    ):
        self.scenario, self.seed, self.cluster, self.jobs = scenario, seed, cluster, jobs
        self.progress, self.total, self.done = progress, total, 0
        self.log: list[dict[str, Any]] = []

    def many(
        self, work: Sequence[tuple[Mapping[str, float], int]], design: Scenario | None = None
    ) -> list[dict[str, float]]:
        """Each ``(values, replication)``'s KPIs (of ``design``, default the scenario), in order."""
        target = self.scenario if design is None else design
        items = [(target, self.seed, values, r) for values, r in work]
        results = run_all(evaluation, items, self.cluster, self._tick, self.jobs)
        for (values, r), kpis in zip(work, results, strict=True):
            self.log.append({"replication": r, **values, **kpis})
        return results

    def _tick(self) -> None:
        self.done += 1
        if self.progress:
            self.progress(self.done, self.total)


def planned_runs(d: int, *, reps: int, sobol_n: int, designs: int, voi_n: int) -> dict[str, int]:
    """How many evaluations each part makes (each one replication of one concrete scenario).

    Examples:
        >>> planned_runs(3, reps=8, sobol_n=64, designs=2, voi_n=100)
        {'tornado and spider': 104, 'sobol': 384, 'value of information': 200}
    """
    return {
        "tornado and spider": reps * (1 + d * (len(SPIDER) - 1)),
        "sobol": sobol_n * (d + 1 + 2),
        "value of information": designs * voi_n if designs > 1 else 0,
    }


def analyze(
    scenario: Scenario,
    *,
    kpis: Sequence[str] = ("profit",),
    seed: int | None = None,
    reps: int = 8,
    sobol_n: int = 64,
    designs: Mapping[str, Scenario] | None = None,
    voi_n: int = 200,
    progress: Progress | None = None,
    cluster: str | None = None,
    jobs: int = 1,
) -> Sensitivity:
    """Run every analysis over the scenario's uncertain quantities.

    Args:
        scenario: a validated scenario with at least one uncertain quantity.
        kpis: the KPIs to analyze (``profit`` drives the loss region and the value).
        seed: the run's seed (default the scenario's).
        reps: replications per tornado/spider point (the same numbers at every point).
        sobol_n: Sobol' base sample size (a power of 2); ``n (d + 3)`` evaluations.
        designs: name → scenario to choose between, for the value of information.
        voi_n: assumption draws for the value of information, per design.
        progress: called as ``progress(done, total)`` after each evaluation.
        cluster: a Dask scheduler's address to run the evaluations on (None: here);
            the results are the same either way.
        jobs: local worker processes when no cluster is named (the same results).

    Raises:
        ValueError: the scenario has no uncertain quantity, or ``sobol_n`` is not a power of 2.
    """
    found = assumptions.quantities(scenario)
    if not found:
        raise ValueError("no uncertain quantity: write a range at a number, or pass --range")
    if sobol_n < 2 or sobol_n & (sobol_n - 1):
        raise ValueError(f"sobol_n must be a power of 2 (Sobol' sequence), got {sobol_n}")
    s = scenario.seed if seed is None else seed
    runs = planned_runs(
        len(found), reps=reps, sobol_n=sobol_n, designs=len(designs or {}), voi_n=voi_n
    )
    evaluate = _Evaluator(scenario, s, progress, sum(runs.values()), cluster, jobs)
    bars, spider = tornado_and_spider(found, evaluate.many, kpis, reps)
    names = [q.path for q in found]
    sample, outputs = sobol_sample(found, evaluate.many, sobol_n, s)
    sobol = {k: sobol_indices(names, sample, outputs[k], s) for k in kpis}
    values = np.column_stack([q.distribution.ppf(sample[:, i]) for i, q in enumerate(found)])
    region = None
    if "profit" in outputs:
        region = loss_region(names, values, outputs["profit"] < 0)
    value = None
    if designs and len(designs) > 1:
        value = value_of_information(scenario, designs, evaluate.many, voi_n, s)
    return Sensitivity(
        scenario=scenario.name,
        currency=scenario.currency,
        seed=s,
        inputs={q.path: q.distribution.model_dump(mode="json") for q in found},
        tornado=bars,
        spider=spider,
        sobol=sobol,
        region=region,
        value=value,
        runs=runs,
        evaluations=evaluate.log,
    )


def tornado_and_spider(
    found: Sequence[assumptions.Quantity],
    many: Many,
    kpis: Sequence[str],
    reps: int,
) -> tuple[dict[str, list[Bar]], dict[str, dict[str, list[tuple[float, float, float]]]]]:
    """Each input at each :data:`SPIDER` percentile, the others at medians, on ``reps`` seeds."""
    points = [(q.path, pct) for q in found for pct in SPIDER if pct != 0.5]
    where = {q.path: q for q in found}
    work: list[tuple[Mapping[str, float], int]] = [({}, r) for r in range(reps)]
    for path, pct in points:
        value = float(where[path].distribution.ppf(pct))
        work += [({path: value}, r) for r in range(reps)]
    done = many(work)
    base = done[:reps]
    at = {(q.path, 0.5): base for q in found}
    for i, point in enumerate(points, start=1):
        at[point] = done[i * reps : (i + 1) * reps]
    bars: dict[str, list[Bar]] = {}
    spider: dict[str, dict[str, list[tuple[float, float, float]]]] = {}
    for k in kpis:
        bars[k] = sorted(
            (_bar(q, at[q.path, SPIDER[0]], at[q.path, SPIDER[-1]], k) for q in found),
            key=lambda b: -abs(b.swing) if math.isfinite(b.swing) else 0.0,
        )
        spider[k] = {
            q.path: [
                (pct, float(q.distribution.ppf(pct)), _mean([e[k] for e in at[q.path, pct]]))
                for pct in SPIDER
            ]
            for q in found
        }
    return bars, spider


def _bar(
    q: assumptions.Quantity, lows: list[dict[str, float]], highs: list[dict[str, float]], k: str
) -> Bar:
    diff = np.array([h[k] - lo[k] for lo, h in zip(lows, highs, strict=True)], dtype=float)
    swing = float(diff.mean())
    se = float(diff.std(ddof=1) / math.sqrt(diff.size)) if diff.size > 1 else math.nan
    return Bar(
        path=q.path,
        low_value=float(q.distribution.ppf(SPIDER[0])),
        high_value=float(q.distribution.ppf(SPIDER[-1])),
        low=_mean([e[k] for e in lows]),
        high=_mean([e[k] for e in highs]),
        swing=swing,
        swing_lo=swing - Z90 * se,
        swing_hi=swing + Z90 * se,
    )


def _mean(values: Sequence[float]) -> float:
    finite = [v for v in values if math.isfinite(v)]
    return float(np.mean(finite)) if finite else math.nan


def sobol_sample(
    found: Sequence[assumptions.Quantity],
    many: Many,
    n: int,
    seed: int,
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Saltelli's scheme on a scrambled Sobol' sequence over the inputs and seed noise.

    Returns the unit-cube sample (one column per input, then the seed-noise column) and
    every KPI's value at each row.
    """
    from SALib.sample import sobol as sampler

    spec = problem([q.path for q in found])
    sample = np.clip(sampler.sample(spec, n, calc_second_order=False, seed=seed % 2**32), EDGE, TOP)
    work = [
        (
            {q.path: float(q.distribution.ppf(row[i])) for i, q in enumerate(found)},
            int(row[-1] * LUCK_SEEDS),
        )
        for row in sample
    ]
    rows = many(work)
    outputs = {k: np.array([r[k] for r in rows], dtype=float) for k in rows[0]}
    return sample, outputs


def problem(names: Sequence[str]) -> dict[str, Any]:
    """SALib's problem: each input, then seed noise, on the unit interval."""
    names = [*names, NOISE]
    return {"num_vars": len(names), "names": names, "bounds": [[0.0, 1.0]] * len(names)}


def sobol_indices(
    names: Sequence[str], sample: np.ndarray, y: np.ndarray, seed: int = 0
) -> Indices:
    """First-order and total indices (Saltelli 2010; Jansen) with 90% bootstrap intervals.

    ``y`` is the output at each row of ``sample`` (from :func:`sobol_sample`, or any
    function of a ``sobol`` sample over ``names`` plus seed noise). Undefined outputs
    (NaN) are replaced by the mean, so a KPI undefined in some runs still ranks.
    """
    from SALib.analyze import sobol as analyzer

    y = np.where(np.isfinite(y), y, np.nanmean(y) if np.isfinite(y).any() else 0.0)
    spec = problem(names)
    if float(np.var(y)) == 0.0:
        zero = [0.0] * spec["num_vars"]
        return Indices(spec["names"], zero, zero, zero, zero)
    got = analyzer.analyze(spec, y, calc_second_order=False, conf_level=0.90, seed=seed % 2**32)
    return Indices(
        spec["names"],
        [float(v) for v in got["S1"]],
        [float(v) for v in got["S1_conf"]],
        [float(v) for v in got["ST"]],
        [float(v) for v in got["ST_conf"]],
    )


def loss_region(
    names: Sequence[str],
    values: np.ndarray,
    loses: np.ndarray,
    *,
    peel: float = 0.05,
    min_support: float = 0.1,
) -> Region | None:
    """The box where losing is most frequent, by PRIM's peeling (Friedman and Fisher 1999).

    Start from every evaluation; at each step remove the ``peel`` share of the points
    still inside from the low or high end of one input, whichever leaves the highest loss
    rate; stop when fewer than ``min_support`` of all points would remain or no peel
    raises the rate. None when nothing loses money.
    """
    loses = np.asarray(loses, dtype=bool)
    if not loses.any():
        return None
    inside = np.ones(loses.size, dtype=bool)
    box = {i: (float(values[:, i].min()), float(values[:, i].max())) for i in range(len(names))}
    rate = float(loses.mean())
    while True:
        best: tuple[float, int, tuple[float, float], np.ndarray] | None = None
        for i in range(len(names)):
            column = values[inside, i]
            lo_cut, hi_cut = np.quantile(column, [peel, 1 - peel])
            for bounds in ((float(lo_cut), box[i][1]), (box[i][0], float(hi_cut))):
                keep = inside & (values[:, i] >= bounds[0]) & (values[:, i] <= bounds[1])
                if keep.sum() < min_support * loses.size or keep.sum() == inside.sum():
                    continue
                r = float(loses[keep].mean())
                if best is None or r > best[0]:
                    best = (r, i, bounds, keep)
        if best is None or best[0] <= rate:
            break
        rate, i, bounds, inside = best
        box[i] = bounds
    full = {i: (float(values[:, i].min()), float(values[:, i].max())) for i in range(len(names))}
    return Region(
        box={names[i]: box[i] for i in box if box[i] != full[i]},
        loss_rate=rate,
        overall=float(loses.mean()),
        support=float(inside.mean()),
        coverage=float(loses[inside].sum() / loses.sum()),
    )


def value_of_information(
    scenario: Scenario,
    designs: Mapping[str, Scenario],
    many: Many,
    n: int,
    seed: int,
) -> Value:
    """EVPI and EVPPI per input, from ``n`` assumption draws, every design on the same ones."""
    found = assumptions.quantities(scenario)
    draws = [assumptions.draw_values(scenario, seed, j) for j in range(n)]
    work = [(draws[j], j) for j in range(n)]
    profit = np.array([[e["profit"] for e in many(work, d)] for d in designs.values()])
    theta = {q.path: np.array([d[q.path] for d in draws]) for q in found}
    evpi, evppi = expected_values(profit, theta)
    return Value(list(designs), [float(m) for m in profit.mean(axis=1)], evpi, evppi)


def expected_values(
    profit: np.ndarray, theta: Mapping[str, np.ndarray], bins: int | None = None
) -> tuple[float, dict[str, float]]:
    """EVPI and EVPPI from a designs × draws table of profit.

    ``EVPI = mean_j max_d f_dj − max_d mean_j f_dj``; ``EVPPI_i = Σ_b w_b max_d mean_{j∈b}
    f_dj − max_d mean_j f_dj`` over ``bins`` equal-count bins of input ``i`` (default
    ``clip(n // 20, 2, 10)``). Both are ≥ 0 and EVPPI ≤ EVPI by construction.

    Examples:
        >>> f = np.array([[0.0, 0.0, 0.0, 0.0], [-2.0, -1.0, 1.0, 2.0]])
        >>> evpi, evppi = expected_values(f, {"x": np.array([1.0, 2.0, 3.0, 4.0])}, bins=2)
        >>> evpi, evppi["x"]
        (0.75, 0.75)
    """
    n = profit.shape[1]
    best = float(profit.mean(axis=1).max())
    evpi = float(profit.max(axis=0).mean()) - best
    b = bins if bins is not None else int(np.clip(n // 20, 2, 10))
    evppi = {}
    for path, x in theta.items():
        order = np.argsort(x, kind="stable")
        total = sum(
            float(profit[:, part].mean(axis=1).max()) * part.size
            for part in np.array_split(order, b)
        )
        evppi[path] = max(0.0, total / n - best)
    return max(0.0, evpi), evppi
