"""Replications, seeds and worker processes: from a scenario to a summary.

Replication ``r`` of seed ``s`` always draws from ``SeedSequence(s, spawn_key=(r,))``
(the same as ``SeedSequence(s).spawn(n)[r]``), whichever process runs it, and results
are put back in replication order, so 1 or N workers give the same numbers bit for bit.

Small replications run in batches (:func:`run_batch`): one pass over the days for several
replications, each with its own books and the same results as alone.
"""

from __future__ import annotations

import itertools
import multiprocessing
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import numpy as np
import pandas as pd

from sim import budget
from sim.breakdown import breakdown_tables
from sim.compile import CompiledScenario, compile_scenario
from sim.forecast import pipeline_forecast
from sim.kpis import KPIS, profit_formula
from sim.ledger import Ledger
from sim.metrics import (
    ReplicationResult,
    daily_series,
    describe,
    replication_kpis,
    step_tallies,
    visitor_table,
)
from sim.model import FunnelModel
from sim.population import Population
from sim.scenario import Scenario

Progress = Callable[[int, int], None]
# visitors a batch of replications holds, about: enough that the per-day, per-step cost is
# small beside the per-visitor work, few enough to stay within the processor's caches
BATCH_VISITORS = 200_000


@dataclass(frozen=True)
class Summary:
    """Every KPI and step figure over replications: mean and 90% interval.

    ``to_dict()`` is the ``summary.json`` shape: ``{"scenario", "replications", "seed",
    "currency", "kpis": {kpi: {"mean", "lo", "hi"}}, "economics", "steps": {id: {figure:
    {...}}}, "meta"}``; ``economics`` says which KPIs add up to profit
    (:func:`sim.kpis.profit_formula`).
    """

    scenario: str
    replications: int
    seed: int
    currency: str
    kpis: dict[str, dict[str, float | None]]
    steps: dict[str, dict[str, Any]]  # figure -> {mean, lo, hi}; a sales step's "reps" nest
    meta: dict[str, str]
    forecast: dict[str, Any] | None = None  # a pipeline's (sim/forecast.py); None: no pipeline

    def to_dict(self) -> dict[str, Any]:
        """The summary as plain JSON-ready data."""
        return {
            "scenario": self.scenario,
            "replications": self.replications,
            "seed": self.seed,
            "currency": self.currency,
            "kpis": self.kpis,
            "economics": profit_formula(),
            "steps": self.steps,
            **({} if self.forecast is None else {"forecast": self.forecast}),
            "meta": self.meta,
        }


@dataclass(frozen=True)
class RunResult:
    """A run: its summary, one row per replication, the daily series, and optional events."""

    summary: Summary
    replications: pd.DataFrame
    daily: pd.DataFrame
    events: pd.DataFrame | None = None
    visitors: pd.DataFrame | None = None  # with the event log: one row per visitor
    breakdown: dict[str, pd.DataFrame] | None = None  # by_step, by_channel, by_segment tables


def replication_seed(seed: int, index: int) -> np.random.SeedSequence:
    """The seed of replication ``index`` of a run seeded ``seed``."""
    return np.random.SeedSequence(seed, spawn_key=(index,))


def run_replication(
    compiled: CompiledScenario,
    seed: int,
    index: int,
    *,
    events: bool = False,
    breakdown: bool = False,
) -> ReplicationResult:
    """Simulate one replication (a top-level function, so worker processes can run it)."""
    model = FunnelModel(
        compiled, rng=replication_seed(seed, index), record_events=events, breakdown=breakdown
    )
    model.run()
    log = people = None
    if model.log is not None:
        channels = [ch.name for ch in compiled.channels]
        log = model.log.frame(list(compiled.step_ids), channels, model.population.column("uid"))
        people = visitor_table(model.population, compiled.segments, channels)
    return _result(compiled, model.ledger, model.population, log, people, breakdown)


def run_batch(
    compiled: CompiledScenario, seed: int, indices: Sequence[int], **_: bool
) -> list[ReplicationResult]:
    """Simulate several replications together (one pass over the days); their results in order.

    Each replication's result is the same, bit for bit, as :func:`run_replication`'s; the
    day loop and each step's fixed cost are paid once for the batch. No event log or
    breakdown (run those one replication at a time).
    """
    if len(indices) == 1:
        return [run_replication(compiled, seed, indices[0])]
    model = FunnelModel(compiled, seeds=[replication_seed(seed, r) for r in indices])
    model.run()
    return [
        _result(
            compiled,
            model.ledger.replication(i),
            model.population.replication_view(i),
            None,
            None,
            False,
        )
        for i in range(len(indices))
    ]


def _result(
    compiled: CompiledScenario,
    ledger: Ledger,
    population: Population,
    log: pd.DataFrame | None,
    people: pd.DataFrame | None,
    breakdown: bool,
) -> ReplicationResult:
    daily = daily_series(ledger)
    return ReplicationResult(
        kpis=replication_kpis(ledger, population, daily, discount_rate=compiled.discount_rate),
        steps=step_tallies(ledger, compiled),
        daily=daily,
        events=log,
        visitors=people,
        breakdown=breakdown_tables(ledger, population, compiled) if breakdown else None,
    )


def run_scenario(
    scenario: Scenario,
    *,
    replications: int | None = None,
    seed: int | None = None,
    jobs: int = 1,
    events: bool = False,
    breakdown: bool = False,
    progress: Progress | None = None,
    first_replication: int = 0,
) -> RunResult:
    """Run a scenario's replications and summarize them.

    Args:
        scenario: a validated scenario.
        replications: how many; default the scenario's own ``replications``.
        seed: the run's seed; default the scenario's own ``seed``.
        jobs: worker processes (1 runs in this process); the result does not depend on it.
        events: also keep the per-visitor event log.
        breakdown: also sum money and people by step, channel and segment (for the
            report; a little slower).
        progress: called as ``progress(done, total)`` after each replication.
        first_replication: run replications ``first … first + n − 1`` of the seed (fresh
            seeds for a re-evaluation that must not reuse the search's replications).

    Returns:
        The summary, one row per replication, the daily series and, with ``events``,
        the event log and the visitor table, with ``breakdown`` the tables by step,
        channel and segment (each with a ``replication`` column).

    Examples:
        >>> from sim import load_scenario
        >>> result = run_scenario(load_scenario("scenarios/quickstart.yaml"), replications=2)
        >>> result.summary.replications
        2
    """
    return prepare(scenario).run(
        replications=replications,
        seed=seed,
        first=first_replication,
        jobs=jobs,
        events=events,
        breakdown=breakdown,
        progress=progress,
    )


@dataclass(frozen=True)
class PreparedScenario:
    """A validated scenario compiled once, to run any replication of any seed.

    Plain data: it pickles, so worker processes (an optimizer's pool, a sensitivity
    sweep) receive it once and run many replications of it. Replication ``r`` of seed
    ``s`` gives the same figures whichever process runs it, and whatever ran before.

    Examples:
        >>> from sim import load_scenario
        >>> prepared = prepare(load_scenario("scenarios/quickstart.yaml"))
        >>> kpis = prepared.run_replication(seed=1, index=0)
        >>> kpis["profit"] == prepared.run(replications=1, seed=1).summary.kpis["profit"]["mean"]
        True
    """

    scenario: Scenario
    compiled: CompiledScenario  # the engine's arrays: internal, may change

    def run_replication(self, seed: int, index: int) -> dict[str, float]:
        """The KPIs of replication ``index`` of seed ``seed`` (NaN where undefined)."""
        return run_replication(self.compiled, seed, index).kpis

    def run_replications(self, seed: int, indices: Sequence[int]) -> list[dict[str, float]]:
        """The KPIs of several replications of seed ``seed``, run as one batch, in order.

        Each the same as :meth:`run_replication`'s, bit for bit, at a fraction of the
        cost when replications are small.
        """
        return [result.kpis for result in run_batch(self.compiled, seed, list(indices))]

    def run(
        self,
        *,
        replications: int | None = None,
        seed: int | None = None,
        first: int = 0,
        jobs: int = 1,
        events: bool = False,
        breakdown: bool = False,
        progress: Progress | None = None,
        batch: int | None = None,
    ) -> RunResult:
        """Run replications ``first … first + n − 1`` and summarize them.

        The arguments are those of :func:`run_scenario` (``first`` is its
        ``first_replication``); ``batch`` is how many replications run together (default:
        :func:`batch_size`; 1 with ``events`` or ``breakdown``). Neither it nor ``jobs``
        changes a result.

        Raises:
            ValueError: ``replications`` or ``jobs`` below 1.
        """
        n = self.scenario.replications if replications is None else replications
        s = self.scenario.seed if seed is None else seed
        if n < 1:
            raise ValueError(f"replications must be >= 1, got {n}")
        if jobs < 1:
            raise ValueError(f"jobs must be >= 1, got {jobs}")
        budget.check_run(self.scenario, replications=n, jobs=jobs, events=events)
        if batch is not None and batch < 1:
            raise ValueError(f"batch must be >= 1, got {batch}")
        indices = range(first, first + n)
        results = _run_all(
            self.compiled,
            s,
            indices,
            jobs=jobs,
            events=events,
            breakdown=breakdown,
            progress=progress,
            batch=batch,
        )
        return _assemble(self.scenario, s, results, first=first)


def prepare(scenario: Scenario) -> PreparedScenario:
    """Compile a validated scenario for many runs (see :class:`PreparedScenario`)."""
    return PreparedScenario(scenario, compile_scenario(scenario))


def batch_size(compiled: CompiledScenario, replications: int, jobs: int = 1) -> int:
    """How many replications to run together: about :data:`BATCH_VISITORS` visitors a batch.

    Small populations gain most (the day loop and each step's fixed cost are paid once a
    batch); with ``jobs`` processes, at least one batch per process.
    """
    per_replication = sum(ch.visitors_per_day for ch in compiled.channels) * compiled.acquisition
    size = max(1, int(BATCH_VISITORS // max(per_replication, 1.0)))
    return max(1, min(size, -(-replications // jobs)))


def _run_all(
    compiled: CompiledScenario,
    seed: int,
    indices: range,
    *,
    jobs: int,
    events: bool,
    breakdown: bool,
    progress: Progress | None,
    batch: int | None,
) -> list[ReplicationResult]:
    n = len(indices)
    size = batch_size(compiled, n, jobs) if batch is None else batch
    if events or breakdown:
        size = 1  # per-visitor tables and the breakdown come one replication at a time
    chunks = [indices[i : i + size] for i in range(0, n, size)]
    call: Callable[..., list[ReplicationResult]] = _one if size == 1 else run_batch
    if jobs == 1 or len(chunks) == 1:
        out: list[ReplicationResult] = []
        for chunk in chunks:
            out += call(compiled, seed, chunk, events=events, breakdown=breakdown)
            if progress:
                progress(len(out), n)
        return out
    slots: list[list[ReplicationResult] | None] = [None] * len(chunks)
    # spawn, set here rather than at import, so workers start clean on every platform
    context = multiprocessing.get_context("spawn")
    workers = min(jobs, len(chunks))
    waiting = iter(enumerate(chunks))
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        # two chunks per worker in flight: workers never idle, memory stays bounded
        running: dict[Any, int] = {}
        done = 0
        while True:
            for slot, chunk in itertools.islice(waiting, 2 * workers - len(running)):
                future = pool.submit(
                    call, compiled, seed, chunk, events=events, breakdown=breakdown
                )
                running[future] = slot
            if not running:
                break
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                slot = running.pop(future)
                slots[slot] = future.result()
                done += len(chunks[slot])
                if progress:
                    progress(done, n)
    return [r for chunk in slots if chunk is not None for r in chunk]


def _one(
    compiled: CompiledScenario, seed: int, indices: Sequence[int], **options: bool
) -> list[ReplicationResult]:
    return [run_replication(compiled, seed, r, **options) for r in indices]


def _assemble(
    scenario: Scenario, seed: int, results: list[ReplicationResult], *, first: int
) -> RunResult:
    per_rep = pd.DataFrame([r.kpis for r in results], columns=list(KPIS))
    step_cols = {
        f"{step_id}.{name}": [r.steps[step_id][name] for r in results]
        for step_id, figures in results[0].steps.items()
        for name in figures
    }
    per_rep = pd.concat([per_rep, pd.DataFrame(step_cols)], axis=1)
    per_rep.insert(0, "replication", np.arange(first, first + len(results)))
    summary = Summary(
        scenario=scenario.name,
        replications=len(results),
        seed=seed,
        currency=scenario.currency,
        kpis={k: describe(per_rep[k].to_numpy()) for k in KPIS},
        steps={
            step_id: _nest(
                {name: describe(per_rep[f"{step_id}.{name}"].to_numpy()) for name in figures}
            )
            for step_id, figures in results[0].steps.items()
        },
        meta=_meta(),
        forecast=pipeline_forecast(scenario, per_rep, [r.daily["revenue"] for r in results]),
    )
    daily = _stack([pd.DataFrame(r.daily) for r in results], first)
    events = visitors = None
    if results[0].events is not None:
        events = _stack([r.events for r in results], first)
        visitors = _stack([r.visitors for r in results], first)
    tables = None
    if results[0].breakdown is not None:
        tables = {
            name: _stack([r.breakdown[name] for r in results if r.breakdown], first)
            for name in results[0].breakdown
        }
    return RunResult(
        summary=summary,
        replications=per_rep,
        daily=daily,
        events=events,
        visitors=visitors,
        breakdown=tables,
    )


def _nest(figures: dict[str, Any]) -> dict[str, Any]:
    """``{"reps.anna.calls": x}`` → ``{"reps": {"anna": {"calls": x}}}``; plain keys stay."""
    out: dict[str, Any] = {}
    for key, value in figures.items():
        *parents, last = key.split(".")
        node = out
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = value
    return out


def _stack(frames: list[Any], first: int) -> pd.DataFrame:
    tagged = [f.assign(replication=first + i) for i, f in enumerate(frames)]
    out: pd.DataFrame = pd.concat(tagged, ignore_index=True)
    return out[["replication", *[c for c in out.columns if c != "replication"]]]


def _meta() -> dict[str, str]:
    try:
        ours = version("funnelsim")
    except PackageNotFoundError:  # running from a source tree that was not installed
        ours = "unknown"
    return {
        "funnelsim": ours,
        "numpy": np.__version__,
        "interval": "5th to 95th percentile over replications",
    }
