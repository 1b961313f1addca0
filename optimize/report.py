"""What ``sim optimize`` shows and writes.

The best-design table, best.yaml, study.json, the HTML page of Optuna's plots, and the
result as JSON.
"""

from __future__ import annotations

import hashlib
import html
import importlib
import json
import math
import sys
from collections.abc import Callable, Container
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, overload

import numpy as np
import optuna
from optuna.trial import FrozenTrial, TrialState
from rich.markup import escape
from rich.table import Table

from optimize.evaluate import Candidate, OptimizeResult, paired_percentile_differences
from optimize.leave_out import left_out
from optimize.study import masked
from sim import measures
from sim._atomic import MANIFEST, manifest_json, write_files
from sim.kpis import KPIS, key_figures
from sim.metrics import describe
from sim.page import chart, section, shell
from sim.page import table as html_table
from sim.report import fmt


def _figure(values: Any, kpi: str, currency: str) -> str:
    d, unit = describe(values), KPIS[kpi].unit
    mean = fmt(d["mean"], unit, currency)
    if d["lo"] == d["hi"]:
        return mean
    return f"{mean} ({fmt(d['lo'], unit, currency)} … {fmt(d['hi'], unit, currency)})"


def best_table(result: OptimizeResult) -> Table:
    """Changed parameters, then the objective and key KPIs: baseline → best, re-evaluated."""
    best = result.best
    m = len(best.result.replications)
    labels = measures.described([k for k, _ in result.goals])
    objective = ", ".join(
        f"{d} {k}" + (f" ({labels[k]})" if k in labels else "") for k, d in result.goals
    )
    table = Table(
        title=(
            f"Best design — trial {best.trial} of study '{escape(result.config.study_name)}'\n"
            f"objective: {objective}"
        ),
        caption=(
            f"re-evaluated on {m} fresh replications "
            f"(indices {result.reeval_first}…{result.reeval_first + m - 1}); "
            "KPI: mean (5th…95th percentile); change: mean paired difference (90% CI)"
        ),
        title_justify="left",
    )
    table.add_column("", no_wrap=True)  # a path cut short names nothing
    for col in ("baseline", "best", "change"):
        table.add_column(col, justify="right", overflow="fold")
    for i, (name, cells) in enumerate(_decision_rows(result)):
        table.add_row(f"[bold]{escape(name)}[/]" if i < len(result.changes) else name, *cells)
    return table


def _decision_rows(result: OptimizeResult) -> list[tuple[str, tuple[str, str, str]]]:
    """Each changed value (baseline, best), then each KPI shown (baseline, best, change)."""
    currency = result.baseline.summary.currency
    rows = [(path, (_plain(old), _plain(new), "")) for path, old, new in result.changes]
    for kpi in shown_kpis(result):
        measure = measures.parse(kpi)
        unit = KPIS[measure.kpi].unit
        base = result.baseline.replications[measure.kpi].to_numpy()
        ours = result.best.result.replications[measure.kpi].to_numpy()
        diff = result.improvement.get(kpi)
        change = ""
        if diff and diff["mean"] is not None:
            change = fmt(diff["mean"], unit, currency)
            if diff["lo"] is not None:
                change += (
                    f" ({fmt(diff['lo'], unit, currency)} … {fmt(diff['hi'], unit, currency)})"
                )
        if measure.plain:
            cells = (_figure(base, kpi, currency), _figure(ours, kpi, currency))
        else:  # a percentile, or a derived figure: its value alone
            cells = (fmt(measure.of(base), unit, currency), fmt(measure.of(ours), unit, currency))
        rows.append((kpi, (*cells, change)))
    return rows


def shown_kpis(result: OptimizeResult) -> list[str]:
    """The objective's measures, the constraints' risk measures, then the key figures."""
    risks = list(measures.described(result.constraints))
    return list(dict.fromkeys([k for k, _ in result.goals] + risks + key_figures()))


def chance_better(
    result: OptimizeResult, candidate: Candidate | None = None
) -> tuple[int, int, float | None]:
    """How often, and how surely, a design (default the best) beats the baseline.

    On the first objective, over the re-evaluation's paired replications.

    Returns the paired replications where best did better, how many pairs there are,
    and the chance that its mean is better: ``T(d̄ / (s / √m))`` with ``T`` Student's t
    with ``m − 1`` degrees of freedom, the posterior of the mean difference under a flat
    prior (None with fewer than two pairs; 1 or 0 when every difference is equal). For a
    percentile objective, the chance is the share of paired resamples of the replications
    in which its percentile is better (ties count half).
    """
    from scipy.special import stdtr  # Student's t CDF (scipy.stats.t.cdf), loads faster

    text, direction = result.goals[0]
    measure = measures.parse(text)
    sign = 1.0 if direction == "maximize" else -1.0
    # the measure's figure per replication (cash needed is minus cash_low)
    ours = (candidate or result.best).result.replications[measure.kpi].to_numpy(dtype=float)
    best = measure.sign * ours
    base = measure.sign * result.baseline.replications[measure.kpi].to_numpy(dtype=float)
    with np.errstate(invalid="ignore"):
        diff = sign * (best - base)
    diff = diff[np.isfinite(diff)]
    wins, m = int((diff > 0).sum()), int(diff.size)
    if m < 2:
        return wins, m, None
    if measure.percentile is not None:
        draws = sign * paired_percentile_differences(best, base, measure.percentile)
        if draws.size == 0:
            return wins, m, None
        return wins, m, float(np.mean(draws > 0) + 0.5 * np.mean(draws == 0))
    sd = float(diff.std(ddof=1))
    if sd == 0:
        return wins, m, 1.0 if diff.mean() > 0 else 0.0
    return wins, m, float(stdtr(m - 1, diff.mean() / (sd / math.sqrt(m))))


def _plain(value: Any) -> str:
    """A value as written in a scenario: ``19,000``, ``13.6``, never ``1.9e+04`` or ``-0``.

    Examples:
        >>> _plain(19000.0), _plain(13.6), _plain(-0.0), _plain(None), _plain("b")
        ('19,000', '13.6', '0', '—', 'b')
    """
    if isinstance(value, float) and math.isfinite(value):
        return format(Decimal(repr(value + 0.0)).normalize(), ",f")
    return "—" if value is None else str(value)


def best_yaml(result: OptimizeResult) -> str:
    """The scenario file with the best design applied; comments kept where they survive.

    The search sections are dropped (they describe the search, not the design), and the
    seed and replications are those of the search, so ``sim run best.yaml`` reproduces the
    best trial's search figures exactly.
    """
    config, params = result.config, result.best.params
    design = config.scenario_source().with_design(params, as_written=True)
    design = design.with_values({"seed": result.seed, "replications": result.search_replications})
    changed = ", ".join(f"{k}={v}" for k, v in params.items())
    return design.dump(
        comment=f"Best design found by `sim optimize` (study '{config.study_name}', "
        f"trial {result.best.trial}):\n{changed}\n"
        f"Run it: sim run best.yaml   (seed {result.seed}, "
        f"{result.search_replications} replications, as in the search)"
    )


def study_json(study: optuna.Study) -> str:
    """Every trial: number, state, parameters, values, KPIs, constraints, worker."""
    trials = []
    for t in study.get_trials(deepcopy=False):
        trials.append(
            {
                "number": t.number,
                "state": t.state.name,
                "params": t.params,
                "values": t.values,
                "intermediate": {str(k): v for k, v in sorted(t.intermediate_values.items())},
                "constraints": t.constraints,
                "kpis": t.user_attrs.get("kpis"),
                "worker": t.user_attrs.get("worker"),
                "seconds": t.duration.total_seconds() if t.duration else None,
            }
        )
    data = {
        "study": study.study_name,
        "directions": [d.name.lower() for d in study.directions],
        "objective": study.user_attrs.get("objective"),
        "trials": trials,
    }
    return json.dumps(_clean(data), indent=2, sort_keys=True) + "\n"


def result_dict(result: OptimizeResult) -> dict[str, Any]:
    """The result as JSON-ready data (what ``--json`` prints and result.json holds)."""
    best = result.best
    data: dict[str, Any] = {
        "study": result.config.study_name,
        "storage": masked(result.config.storage),
        "objective": [f"{d} {k}" for k, d in result.goals],
        "trials": result.counts,
        "seed": result.seed,
        "search_replications": result.search_replications,
        "reevaluation_replications": len(best.result.replications),
        "best": {
            "trial": best.trial,
            "params": best.params,
            "changes": [{"path": p, "from": a, "to": b} for p, a, b in result.changes],
            "search_kpis": best.search_kpis,
            "reevaluated": best.result.summary.kpis,
        },
        "baseline": result.baseline.summary.kpis,
        "improvement": result.improvement,
        "candidates": [
            {
                "trial": c.trial,
                "params": c.params,
                "reevaluated": {k: c.objective(k) for k, _ in result.goals},
                "chance_better": chance_better(result, c)[2],
            }
            for c in result.candidates
        ],
        **_risk_measures(result),
    }
    cleaned: dict[str, Any] = _clean(data)
    return cleaned


def _risk_measures(result: OptimizeResult) -> dict[str, Any]:
    """Percentiles and derived figures of the objective: label, baseline's and best's value."""
    labels = measures.described([k for k, _ in result.goals] + result.constraints)
    if not labels:
        return {}
    return {
        "measures": {
            text: {
                "label": label,
                "baseline": _measure_of(result.baseline.replications, text),
                "best": result.best.objective(text),
            }
            for text, label in labels.items()
        }
    }


def _measure_of(replications: Any, text: str) -> float:
    measure = measures.parse(text)
    return measure.of(replications[measure.kpi].to_numpy(dtype=float))


@overload
def _clean(x: dict[str, Any]) -> dict[str, Any]: ...
@overload
def _clean(x: Any) -> Any: ...
def _clean(x: Any) -> Any:
    """Infinities and NaN become null, so the JSON is standard."""
    if isinstance(x, dict):
        return {str(k): _clean(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_clean(v) for v in x]
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


def decision_html(result: OptimizeResult) -> str:
    """What to change, and how sure that is: the page's first section."""
    kpi, direction = result.goals[0]
    measure = measures.parse(kpi)
    wins, m, chance = chance_better(result)
    better = "higher" if direction == "maximize" else "lower"
    what = f"mean {measure.label}" if measure.percentile is None else measure.label
    if chance is None:
        sure = "too few replications to say how sure"
    else:
        sure = (
            f"the chance that its {html.escape(what)} is {better} than the "
            f"baseline's: <b>{100 * chance:.0f}%</b> (it did better in {wins} of {m} paired "
            "replications)"
        )
    note = (
        f"Trial {result.best.trial}, re-evaluated with the baseline on {m} fresh replications "
        f"the search never saw (common random numbers); {sure}. KPI cells: mean (5th…95th "
        "percentile); change: mean paired difference (90% interval)."
    )
    head = ["", "baseline", "best", "change"]
    rows = [[name, *cells] for name, cells in _decision_rows(result)]
    labelled = [[_label(str(row[0])), *row[1:]] for row in rows]
    return section("decision", "Change these values", note, html_table(head, labelled))


def _label(name: str) -> str:
    """A measure by its label, with its key when they differ (``CAC (…) (cac)``)."""
    label = _measure_label(name)
    return name if label == name else f"{label} ({name})"


@dataclass(frozen=True)
class StudyDrawing:
    """What the outputs show of the study alone: study.json and the page's plots.

    None of it depends on the re-evaluation, so it can be drawn while the re-evaluation
    runs in the simulation processes (``optimize_scenario``'s ``meanwhile``).
    """

    title: str  # the page's title
    plots: list[str]  # the page's sections after the decision
    study_json: str

    @classmethod
    def of(
        cls, study: optuna.Study, goals: list[tuple[str, str]], currency: str = ""
    ) -> StudyDrawing:
        """Draw a finished study whose goals are ``goals``, money in ``currency``.

        The plots name each value by its dotted path, as the scenario does, and each KPI by
        its label and unit.
        """
        objective = ", ".join(f"{d} {_measure_label(k)}" for k, d in goals)
        return cls(
            f"Study {study.study_name}: {objective}",
            _plots(_Uncopied.of(study), goals, currency),
            study_json(study),
        )


def study_page(drawing: StudyDrawing, decision: str = "") -> str:
    """optimization.html: the decision, if any, then the study's plots."""
    sections = [decision] if decision else []
    return shell(drawing.title, "".join(sections + drawing.plots))


def _plots(study: optuna.Study, goals: list[tuple[str, str]], currency: str) -> list[str]:
    from optuna import visualization as vis

    names = [_axis(k, currency) for k, _ in goals]
    single = len(goals) == 1
    target = None if single else (lambda t: t.values[0])
    name = names[0]
    makers: list[tuple[str, str, Callable[[], Any]]] = [
        (
            "history",
            f"{name}, trial by trial",
            lambda: vis.plot_optimization_history(study, target=target, target_name=name),
        ),
        (
            "importances",
            f"Which values moved {name} most",
            lambda: vis.plot_param_importances(study, target=target, target_name=name),
        ),
        (
            "slices",
            f"{name} against each value searched",
            lambda: vis.plot_slice(study, target=target, target_name=name),
        ),
    ]
    if not single:
        makers.insert(
            0,
            (
                "pareto-front",
                "The best trade-offs",
                lambda: vis.plot_pareto_front(study, target_names=names),
            ),
        )
    sections = []
    for key, title, make in makers:
        try:
            figure = make()
            figure.update_layout(title=None)  # the section's title says it
            note, body = "", chart(key, figure)
        except (ValueError, RuntimeError, ZeroDivisionError) as exc:  # too few trials for it
            note, body = f"Not drawn: {html.escape(str(exc))}.", ""
        sections.append(section(key, title, note, body))
    return sections


class _Uncopied(optuna.Study):
    """A study as the plots read it: its trials as stored, not a deep copy at every read.

    Optuna's plots only read the trials, and the importance plot asks for a copy of all
    of them once per parameter.
    """

    @classmethod
    def of(cls, study: optuna.Study) -> optuna.Study:
        return cls(study.study_name, study._storage, study.sampler, study.pruner)

    def get_trials(
        self,
        deepcopy: bool = True,
        states: Container[TrialState] | None = None,
    ) -> list[FrozenTrial]:
        """The trials, never copied (``deepcopy`` is ignored)."""
        return super().get_trials(deepcopy=False, states=states)


# Optional packages that Optuna's plotting and importance modules import as they load,
# for what this page never draws: matplotlib figures, and fANOVA's random forests
# (scikit-learn). Loading them costs the study process about two seconds.
UNDRAWN = ("matplotlib", "sklearn")


def load_plotting_without_undrawn() -> None:
    """Import Optuna's plots and importances, leaving out the packages of :data:`UNDRAWN`.

    For a process that draws nothing but this page (``sim optimize``): Optuna defers an
    optional package's import error to its use, so its matplotlib plots and its fANOVA
    evaluator stay unusable in this process afterwards. Nothing changes on this page: its
    plots are plotly's, its importances PED-ANOVA's. Does nothing if Optuna's plots are
    already imported.
    """
    if "optuna.visualization" in sys.modules or "optuna.importance" in sys.modules:
        return
    with left_out(UNDRAWN):
        importlib.import_module("optuna.importance")
        importlib.import_module("optuna.visualization")


def _measure_label(text: str) -> str:
    """A measure by its label (``10th percentile of profit``); text that is none as it is."""
    try:
        return measures.parse(text).label
    except measures.MeasureError:
        return text


def _axis(kpi: str, currency: str) -> str:
    """A measure as an axis names it: its label, and the currency for money."""
    try:
        measure = measures.parse(kpi)
    except measures.MeasureError:
        return kpi
    unit = KPIS[measure.kpi].unit
    return f"{measure.label} ({currency})" if unit == "money" and currency else measure.label


def write_study_outputs(
    result: OptimizeResult, out_dir: str | Path, drawing: StudyDrawing | None = None
) -> list[Path]:
    """best.yaml, study.json, optimization.html and result.json, each written whole.

    ``drawing``: the study's, if already drawn (:class:`StudyDrawing`).

    Then manifest.json, last: the run they come from and each file's SHA-256, so a
    folder whose files were left from two runs (a kill between two renames) tells.
    The study's database stays in the folder as it is. Returns the four outputs' paths.
    """
    drawing = drawing or StudyDrawing.of(
        result.study, result.goals, result.baseline.summary.currency
    )
    files = {
        "best.yaml": best_yaml(result),
        "study.json": drawing.study_json,
        "optimization.html": study_page(drawing, decision_html(result)),
        "result.json": json.dumps(result_dict(result), indent=2, sort_keys=True) + "\n",
    }
    config = result.config
    info = {
        "kind": "optimize",
        "scenario": result.baseline.summary.scenario,
        "study": config.study_name,
        "storage": masked(config.storage),
        "seed": result.seed,
        "replications": result.search_replications,
        "overrides": list(config.overrides),
    }
    hashes = {name: hashlib.sha256(text.encode()).hexdigest() for name, text in files.items()}
    return write_files(out_dir, {**files, MANIFEST: manifest_json(info, hashes)})[:-1]
