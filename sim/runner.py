"""Replications, seeds and worker processes: from a scenario to a summary.

Replication ``r`` of seed ``s`` always draws from ``SeedSequence(s, spawn_key=(r,))``
(the same as ``SeedSequence(s).spawn(n)[r]``), whichever process runs it, and results
are put back in replication order, so 1 or N workers give the same numbers bit for bit.

Small replications run in batches (:func:`run_batch`): one pass over the days for several
replications, each with its own books and the same results as alone.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, replace
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import numpy as np
import pandas as pd

from sim import assumptions, budget
from sim._alloc import reuse_freed_memory
from sim.breakdown import breakdown_tables
from sim.compile import CompiledScenario, compile_scenario
from sim.executor import Executor
from sim.forecast import pipeline_forecast
from sim.kpis import KPIS, profit_formula
from sim.ledger import Ledger
from sim.metrics import (
    ReplicationResult,
    buyers_per_replication,
    daily_rows,
    daily_series,
    describe,
    horizon_sums,
    replication_kpis,
    replication_rows,
    step_tallies,
    visitor_table,
)
from sim.model import FunnelModel
from sim.scenario import Scenario
from sim.steps._layers import layer_figures

Progress = Callable[[int, int], None]
# visitors a batch of replications holds, about: enough that the per-day, per-step cost is
# small beside the per-visitor work, few enough to stay within the processor's caches
BATCH_VISITORS = 200_000
ASSUMED = "assumed:"  # per-replication column of an uncertain quantity's drawn value


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
    # with uncertain quantities: draws, and each KPI's variance split (sim.assumptions.Spread)
    assumptions: dict[str, Any] | None = None
    forecast: dict[str, Any] | None = None  # a pipeline's (sim/forecast.py); None: no pipeline
    layers: dict[str, dict[str, Any]] | None = None  # layer -> figure -> {mean, lo, hi}

    def to_frame(self) -> pd.DataFrame:
        """The KPI table: one row per KPI (label, unit, mean, lo, hi), in the reports' order.

        Examples:
            >>> import sim
            >>> s = sim.run_scenario(sim.load_scenario("scenarios/quickstart.yaml"),
            ...                      replications=2, seed=1).summary
            >>> revenue = s.to_frame().loc["revenue"]
            >>> revenue["unit"], revenue["mean"] == s.kpis["revenue"]["mean"]
            ('money', np.True_)
        """
        rows = [
            {"kpi": name, "label": kpi.label, "unit": kpi.unit, **self.kpis[name]}
            for name, kpi in KPIS.items()
            if name in self.kpis
        ]
        return pd.DataFrame(rows).set_index("kpi")

    def __repr__(self) -> str:
        return f"<Summary of {self.scenario!r}: {_headline(self)}>"

    def to_dict(self) -> dict[str, Any]:
        """The summary as plain JSON-ready data."""
        out = {
            "scenario": self.scenario,
            "replications": self.replications,
            "seed": self.seed,
            "currency": self.currency,
            "kpis": self.kpis,
            "economics": profit_formula(),
            "steps": self.steps,
            **({} if self.layers is None else {"layers": self.layers}),
            **({} if self.forecast is None else {"forecast": self.forecast}),
            "meta": self.meta,
        }
        if self.assumptions is not None:
            out["assumptions"] = self.assumptions
        return out


@dataclass(frozen=True)
class RunResult:
    """A run: its summary, one row per replication, the daily series, and optional events."""

    summary: Summary
    replications: pd.DataFrame
    daily: pd.DataFrame
    events: pd.DataFrame | None = None
    visitors: pd.DataFrame | None = None  # with the event log: one row per visitor
    breakdown: dict[str, pd.DataFrame] | None = None  # by_step, by_channel, by_segment tables

    def __repr__(self) -> str:
        tables = ["replications", "daily"] + [
            name for name in ("events", "visitors", "breakdown") if getattr(self, name) is not None
        ]
        return (
            f"<RunResult of {self.summary.scenario!r}: {_headline(self.summary)}; "
            f"tables: {', '.join(tables)}>"
        )


def _headline(summary: Summary) -> str:
    """Replications, seed and the profit with its interval: a result in one line."""
    from sim.report import fmt

    profit = summary.kpis.get("profit", {})
    money = fmt(profit.get("mean"), "money", summary.currency)
    lo, hi = profit.get("lo"), profit.get("hi")
    interval = ""
    if lo is not None and hi is not None:
        interval = f" ({fmt(lo, 'money', summary.currency)} … {fmt(hi, 'money', summary.currency)})"
    return f"{summary.replications} replications of seed {summary.seed}, profit {money}{interval}"


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
    reuse_freed_memory()
    model = FunnelModel(
        compiled, rng=replication_seed(seed, index), record_events=events, breakdown=breakdown
    )
    model.run()
    log = people = None
    if model.log is not None:
        channels = [ch.name for ch in compiled.channels]
        log = model.log.frame(list(compiled.step_ids), channels, model.population.column("uid"))
        people = visitor_table(model.population, compiled.segments, channels)
    buyers = buyers_per_replication(model.population, 1)
    tables = breakdown_tables(model.ledger, model.population, compiled) if breakdown else None
    model.population.release()
    (result,) = _results(compiled, model.ledger, buyers)
    return replace(result, events=log, visitors=people, breakdown=tables)


def run_drawn(
    scenario: Scenario,
    seed: int,
    indices: Sequence[int],
    *,
    events: bool = False,
    breakdown: bool = False,
) -> list[ReplicationResult]:
    """Replications of a scenario with uncertain quantities, each compiled from its own draw.

    Replication ``r`` runs :func:`sim.assumptions.draw` ``(scenario, seed, r)``: a concrete
    scenario, compiled for it alone (no batches: each replication has its own numbers).
    """
    return [
        run_replication(
            compile_scenario(assumptions.draw(scenario, seed, r)),
            seed,
            r,
            events=events,
            breakdown=breakdown,
        )
        for r in indices
    ]


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
    return _results(compiled, *_simulate(compiled, seed, indices))


def _batch_kpis(
    compiled: CompiledScenario, seed: int, indices: Sequence[int]
) -> list[dict[str, float]]:
    """The KPIs alone of several replications run together, in order (an optimizer's need).

    The same, bit for bit, as each replication's :func:`run_batch` result's ``kpis``,
    without assembling the step tallies, layers and daily tables of a whole result.
    """
    if len(indices) == 1:
        return [run_replication(compiled, seed, indices[0]).kpis]
    ledger, buyers = _simulate(compiled, seed, indices)
    daily = daily_series(ledger)
    sums = horizon_sums(ledger)
    return replication_kpis(ledger, sums, buyers, daily, discount_rate=compiled.discount_rate)


def _simulate(
    compiled: CompiledScenario, seed: int, indices: Sequence[int]
) -> tuple[Ledger, list[int]]:
    """Several replications in one pass over the days: the batch's books and each one's buyers."""
    reuse_freed_memory()
    model = FunnelModel(compiled, seeds=[replication_seed(seed, r) for r in indices])
    model.run()
    buyers = buyers_per_replication(model.population, len(indices))
    model.population.release()
    return model.ledger, buyers


def _results(
    compiled: CompiledScenario, ledger: Ledger, buyers: list[int]
) -> list[ReplicationResult]:
    """Each replication's result from the books of its batch, assembled for all at once.

    Every figure is the one the replication gives alone, bit for bit: each row of the
    books is summed on its own, and the KPIs' arithmetic is elementwise.
    """
    names = compiled.layers.names if compiled.layers is not None else ()
    daily = daily_series(ledger, names)
    sums = horizon_sums(ledger)
    kpis = replication_kpis(ledger, sums, buyers, daily, discount_rate=compiled.discount_rate)
    steps = step_tallies(ledger, compiled)
    layers: list[dict[str, dict[str, float]] | None] = [None] * len(buyers)
    if names:
        layers = [layer_figures(names, row) for row in replication_rows(sums, len(buyers))]
    return [
        ReplicationResult(kpis=k, steps=s, daily=d, layers=figures)
        for k, s, d, figures in zip(
            kpis, steps, daily_rows(daily, len(buyers)), layers, strict=True
        )
    ]


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
    executor: Executor | None = None,
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
        executor: where the replications run (:class:`sim.executor.Executor`: local
            processes or a Dask cluster); default ``jobs`` local processes. The result
            does not depend on it.

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
        executor=executor,
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
    # uncertain quantities: each replication draws and compiles its own scenario;
    # ``compiled`` is then the scenario at the quantities' medians
    uncertain: bool = False

    def run_replication(self, seed: int, index: int) -> dict[str, float]:
        """The KPIs of replication ``index`` of seed ``seed`` (NaN where undefined)."""
        if self.uncertain:
            return run_drawn(self.scenario, seed, [index])[0].kpis
        return run_replication(self.compiled, seed, index).kpis

    def run_replications(self, seed: int, indices: Sequence[int]) -> list[dict[str, float]]:
        """The KPIs of several replications of seed ``seed``, run as one batch, in order.

        Each the same as :meth:`run_replication`'s, bit for bit, at a fraction of the
        cost when replications are small.
        """
        if self.uncertain:
            return [result.kpis for result in run_drawn(self.scenario, seed, list(indices))]
        return _batch_kpis(self.compiled, seed, list(indices))

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
        executor: Executor | None = None,
    ) -> RunResult:
        """Run replications ``first … first + n − 1`` and summarize them.

        The arguments are those of :func:`run_scenario` (``first`` is its
        ``first_replication``); ``batch`` is how many replications run together (default:
        :func:`batch_size`; 1 with ``events`` or ``breakdown``). Neither it nor ``jobs``
        nor ``executor`` (where the batches run; default ``jobs`` local processes)
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
        if batch is not None and batch < 1:
            raise ValueError(f"batch must be >= 1, got {batch}")
        central = assumptions.central(self.scenario)
        local = jobs if executor is None else executor.local_processes
        budget.check_run(central, replications=n, jobs=local, events=events)
        indices = range(first, first + n)
        with Executor(jobs) if executor is None else nullcontext(executor) as where:
            results = _run_all(
                self.compiled,
                s,
                indices,
                executor=where,
                events=events,
                breakdown=breakdown,
                progress=progress,
                batch=batch,
                drawn=self.scenario if self.uncertain else None,
            )
        return _assemble(self.scenario, s, results, first=first)


def prepare(scenario: Scenario) -> PreparedScenario:
    """Compile a validated scenario for many runs (see :class:`PreparedScenario`)."""
    if assumptions.has_uncertain(scenario):
        return PreparedScenario(scenario, compile_scenario(assumptions.central(scenario)), True)
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
    executor: Executor,
    events: bool,
    breakdown: bool,
    progress: Progress | None,
    batch: int | None,
    drawn: Scenario | None = None,
) -> list[ReplicationResult]:
    n = len(indices)
    size = batch_size(compiled, n, executor.workers) if batch is None else batch
    if events or breakdown or drawn is not None:
        # per-visitor tables and the breakdown come one replication at a time, and so do
        # replications that draw their own assumptions (each compiled on its own)
        size = 1
    chunks = [indices[i : i + size] for i in range(0, n, size)]
    call: Callable[..., list[ReplicationResult]] = _one if size == 1 else run_batch
    target: CompiledScenario | Scenario = compiled
    if drawn is not None:
        call, target = run_drawn, drawn
    done = 0

    def finished(i: int) -> None:
        nonlocal done
        done += len(chunks[i])
        if progress:
            progress(done, n)

    # the executor keeps two chunks per worker in flight: workers never idle, memory stays
    # bounded; the chunks come back in order, wherever they ran
    run = functools.partial(call, events=events, breakdown=breakdown)
    slots = executor.map(run, [(target, seed, chunk) for chunk in chunks], finished)
    return [r for chunk in slots for r in chunk]


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
    layers = results[0].layers or {}
    step_cols |= {
        f"layers.{name}.{figure}": [(r.layers or {})[name][figure] for r in results]
        for name, figures in layers.items()
        for figure in figures
    }
    per_rep = pd.concat([per_rep, pd.DataFrame(step_cols)], axis=1)
    per_rep.insert(0, "replication", np.arange(first, first + len(results)))
    uncertain = assumptions.quantities(scenario)
    if uncertain:
        drawn = [
            assumptions.draw_values(scenario, seed, assumptions.draw_index(scenario, r))
            for r in per_rep["replication"]
        ]
        for q in uncertain:
            per_rep[f"{ASSUMED}{q.path}"] = [values[q.path] for values in drawn]
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
        assumptions=_spread(scenario, per_rep, first) if uncertain else None,
        forecast=pipeline_forecast(scenario, per_rep, [r.daily["revenue"] for r in results]),
        layers={
            name: {f: describe(per_rep[f"layers.{name}.{f}"].to_numpy()) for f in figures}
            for name, figures in layers.items()
        }
        or None,
    )
    daily = _daily_table(results, first)
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


def _spread(scenario: Scenario, per_rep: pd.DataFrame, first: int) -> dict[str, Any]:
    """The assumptions block of a summary: the quantities, draws, and each KPI's split."""
    m = scenario.assumptions.replications_per_draw
    split = {k: assumptions.decompose(per_rep[k].to_numpy(), m, first) for k in KPIS}
    return {
        "quantities": {
            q.path: q.distribution.model_dump(mode="json") for q in assumptions.quantities(scenario)
        },
        "replications_per_draw": m,
        "draws": len({(first + i) // m for i in range(len(per_rep))}),
        "spread": {k: s.to_dict() for k, s in split.items() if s is not None},
        "method": "law of total variance, one-way random effects on draws x replications",
    }


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


def _daily_table(results: list[ReplicationResult], first: int) -> pd.DataFrame:
    """Every replication's daily series in one table (built from columns, not one per run)."""
    days = len(results[0].daily["day"])
    columns = {"replication": np.repeat(np.arange(first, first + len(results)), days)}
    for name in results[0].daily:
        columns[name] = np.concatenate([r.daily[name] for r in results])
    return pd.DataFrame(columns)


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
