"""Every call the studio makes into the simulation, in one place.

The page code never imports the engine's modules itself: loading and overriding a
scenario, running it, comparing two designs, tracing a visitor and drawing the run
report's charts all go through the functions here, so the studio follows the engine's
internals by changing this one file.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import plotly.graph_objects as go
from rich.console import Console

from sim import RunResult, Scenario, ScenarioError, ScenarioSource, run_scenario
from sim.assumptions import quantities
from sim.compare import Comparison
from sim.kpis import KPIS
from sim.kpis import headline as headline_kpis
from sim.metrics import INTERVAL
from sim.report import (
    comparison_verdicts,
    currency_symbol,
    difference_cells,
    fmt,
    journey_view,
    kpi_cells,
)
from sim.report_charts import cash_chart, funnel_chart
from sim.scenario import NumberRange
from sim.steps import STEP_KINDS
from sim.trace import WHERE_KEYS, trace_scenario

BASE = ScenarioSource.BASE

__all__ = [
    "BASE",
    "KPIS",
    "WHERE_KEYS",
    "Control",
    "RunResult",
    "Scenario",
    "ScenarioError",
    "ab_rows",
    "ab_verdict",
    "cash_figure",
    "controls_of",
    "current_value",
    "funnel_figure",
    "headline",
    "journey_text",
    "kpi_rows",
    "load",
    "run",
    "variants_of",
    "visitor_filters",
]

_TRACE_WIDTH = 100  # the terminal width the tutorial's traces are printed at


@dataclass(frozen=True)
class Control:
    """A number a lesson changes: its dotted path, and the search range when it has one."""

    path: str
    low: float | None = None
    high: float | None = None
    step: float | None = None
    choices: tuple[Any, ...] = ()


def load(path: str | Path, overrides: Sequence[str], variant: str = BASE) -> Scenario:
    """The scenario with ``--set`` overrides (and a variant) applied; raises ScenarioError."""
    source = ScenarioSource.from_file(path).with_overrides(overrides)
    return source.with_variant(variant or BASE).scenario


def run(scenario: Scenario, *, replications: int, seed: int) -> RunResult:
    """Replications ``0 … n − 1`` of ``seed``, as ``sim run`` runs them."""
    return run_scenario(scenario, replications=replications, seed=seed)


def current_value(path: str | Path, dotted: str) -> str:
    """The value a dotted path has in the file, as text ('' when left to its default).

    Raises:
        ScenarioError: the path names no item of the scenario.
    """
    source = ScenarioSource.from_file(path)
    if not source.has(dotted):
        source.with_overrides([f"{dotted}=0"])  # raises the located "no such key" message
        return ""
    node = source.get(dotted)
    return "" if node is None or isinstance(node, Mapping | list) else str(node)


def controls_of(scenario: Scenario) -> list[Control]:
    """The scenario's ``search:`` entries and uncertain quantities, else every offer's price.

    An uncertain quantity's control spans its 5th to 95th percentile; left empty, the
    quantity keeps its distribution, and a value fixes it (as ``--set`` would). A quantity
    tied to another by a correlation gets no control: fixing it would break the tie.
    """
    controls = []
    for key, spec in scenario.search.items():
        if key == "variant":
            continue
        if isinstance(spec, NumberRange):
            controls.append(Control(key, spec.low, spec.high, spec.step))
        else:
            controls.append(Control(key, choices=tuple(spec)))
    searched = {control.path for control in controls}
    searched |= {path for tie in scenario.assumptions.correlations for path in tie.paths}
    for quantity in quantities(scenario):
        if quantity.path not in searched:
            low, high = (float(quantity.distribution.ppf(q)) for q in (0.05, 0.95))
            controls.append(Control(quantity.path, low, high))
    if controls:
        return controls
    priced = [step.id for step in scenario.funnel if getattr(step, "price", None) is not None]
    return [Control(f"funnel.{step_id}.price") for step_id in priced]


def variants_of(scenario: Scenario) -> list[str]:
    """The base design and the scenario's named variants."""
    return [BASE, *scenario.variants]


def funnel_figure(result: RunResult, scenario: Scenario) -> go.Figure:
    """Reached and converted per step (email sequences left out, as in the run report)."""
    counted = {step.id for step in scenario.funnel if STEP_KINDS[step.type].counts_visitors}
    steps = {sid: figs for sid, figs in result.summary.steps.items() if sid in counted}
    labels = {}
    for sid, figs in steps.items():
        reached, converted = figs["reached"]["mean"] or 0.0, figs["converted"]["mean"] or 0.0
        rate = fmt(converted / reached if reached else None, "share")
        labels[sid] = f"<b>{sid}</b><br><span style='font-size:11px'>converted {rate}</span>"
    fig = funnel_chart(steps, labels)
    fig.update_layout(xaxis_title="visitors (mean; bars: 90% interval)")  # fits half a page
    return fig


def cash_figure(result: RunResult) -> go.Figure:
    """Cumulative cash by day with its 90% band and the payback day."""
    cash = result.daily.pivot(index="day", columns="replication", values="cumulative_cash")
    values = cash.to_numpy(dtype=float)
    lo, hi = np.quantile(values, INTERVAL, axis=1)
    band = {"mean": values.mean(axis=1).tolist(), "lo": lo.tolist(), "hi": hi.tolist()}
    sign = currency_symbol(result.summary.currency)
    return cash_chart([int(d) for d in cash.index], band, result.summary.kpis["payback_day"], sign)


def headline(result: RunResult) -> list[tuple[str, str, str, str]]:
    """The headline KPIs as (name, label, mean, interval) text."""
    kpis = result.summary.kpis
    return [(k, *kpi_cells(k, kpis[k], result.summary.currency)) for k in headline_kpis()]


def kpi_rows(result: RunResult) -> list[tuple[str, str, str, str]]:
    """Every KPI of the economics table as (name, label, mean, interval) text."""
    s = result.summary
    return [(k, *kpi_cells(k, s.kpis[k], s.currency)) for k in s.kpis]


def _comparison(a: RunResult, b: RunResult) -> Comparison:
    s = a.summary
    return Comparison(labels=["A", "B"], runs=[a, b], seed=s.seed, replications=s.replications)


def ab_rows(a: RunResult, b: RunResult) -> list[dict[str, Any]]:
    """B − A per KPI on the same replications: means, paired difference, told apart or not.

    Each row holds the text ``sim compare`` prints and the raw difference (``mean``,
    ``lo``, ``hi``) as ``sim compare --json`` gives it.
    """
    comparison, currency = _comparison(a, b), a.summary.currency
    rows = []
    for name in a.summary.kpis:
        label, mean_a, _ = kpi_cells(name, a.summary.kpis[name], currency)
        _, mean_b, _ = kpi_cells(name, b.summary.kpis[name], currency)
        diff = comparison.difference(1, name)
        text, interval, apart = difference_cells(diff, KPIS[name].unit, currency)
        rows.append(
            {
                "kpi": name,
                "label": label,
                "a": mean_a,
                "b": mean_b,
                "diff": text,
                "interval": interval,
                "apart": apart,
                "raw": {"mean": diff.mean, "lo": diff.lo, "hi": diff.hi},
            }
        )
    return rows


def ab_verdict(a: RunResult, b: RunResult) -> str:
    """One sentence on profit: told apart or not, as ``sim compare`` ends."""
    return comparison_verdicts(_comparison(a, b))[0]


def visitor_filters(scenario: Scenario) -> list[tuple[str, str]]:
    """(label, ``--where`` filter) pairs a class picks a visitor by, in the scenario's words."""
    options = [("any lead", "lead=true")]
    for step in scenario.funnel:
        kind = STEP_KINDS[step.type]
        events = {event.name for event in kind.events}
        if "churn" in events:
            options.append((f"a subscriber of {step.id}", f"subscribed={step.id}"))
            options.append((f"someone who churned from {step.id}", f"churned={step.id}"))
        elif kind.sells:
            options.append((f"a buyer of {step.id}", f"bought={step.id}"))
            options.append((f"someone who declined {step.id}", f"declined={step.id}"))
    options += [(f"someone from {name}", f"channel={name}") for name in scenario.channels]
    options += [(f"someone in segment {name}", f"segment={name}") for name in scenario.segments]
    return options


def journey_text(
    scenario: Scenario, *, seed: int, where: str, visitor: int | None
) -> tuple[str, str]:
    """One visitor's story as ``sim trace`` prints it: (who was picked, the journey).

    Without ``visitor``, the seeded pick among those matching ``where`` that
    ``sim trace --where … --sample 1`` makes.

    Raises:
        ValueError: no such visitor, no visitor matches, or a bad filter.
    """
    traced = trace_scenario(scenario, replication=0, seed=seed)
    filters = [] if visitor is not None else [where]
    ids = traced.select(visitors=[] if visitor is None else [visitor], where=filters, sample=1)
    if not ids:
        raise ValueError(f"nobody with {where} in replication 0 of seed {seed}")
    matching = traced.count_matching(filters) if visitor is None else 1
    note = (
        f"visitor {ids[0]} of {matching:,} with {where} in replication 0 of seed {seed} "
        f"({len(traced.visitors):,} visitors in all)"
        if visitor is None
        else f"visitor {visitor} in replication 0 of seed {seed}"
    )
    buffer = io.StringIO()
    console = Console(file=buffer, width=_TRACE_WIDTH, no_color=True, highlight=False)
    console.print(journey_view(traced.journey(ids[0]), scenario.currency))
    lines = [line.rstrip() for line in buffer.getvalue().splitlines()]
    return note, "\n".join(lines)
