"""The one table of KPIs: a KPI added there reaches every output, and every output lists the table.

A toy KPI (half the profit) is put into ``sim.kpis.KPIS`` for the whole module, as a new
entry would be: the terminal tables, the JSON, the CSV, the run report, the comparison
(terminal, JSON, page), the objective check and the optimizer's table must all show it
without any other change. Each consumer is checked to list exactly the table's names.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from rich.table import Table

import sim
from conftest import ROOT
from optimize import StudyConfig, optimize_scenario
from optimize.report import best_table, result_dict
from sim import kpis
from sim.compare import compare_scenarios
from sim.compare_report import comparison_html
from sim.errors import ScenarioError
from sim.html_report import report_html
from sim.kpis import KPIS, Kpi
from sim.report import comparison_table, economics_table, summary_json, write_outputs
from sim.run_folder import read_run_folder
from sim.runner import RunResult

SMALL = ROOT / "tests" / "data" / "small.yaml"
TOY = Kpi(
    lambda t: t["profit"] / 2,
    "money",
    "toy (half the profit)",
    headline=9,
    key_figure=8,
    direction="maximize",
)
SEARCH = "search:\n  funnel.course.price: {low: 30, high: 90}\nobjective:\n  maximize: toy\n"


@pytest.fixture(scope="module", autouse=True)
def toy() -> Iterator[None]:
    """The toy KPI, last in the table, for every test of this module."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(KPIS, "toy", TOY)
        yield


@pytest.fixture(scope="module")
def run() -> RunResult:
    return sim.run_scenario(sim.load_scenario(SMALL), replications=3, breakdown=True)


@pytest.fixture(scope="module")
def folder(run: RunResult, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("run")
    write_outputs(run, out, scenario_text=SMALL.read_text(encoding="utf-8"))
    return out


def _column(table: Table, i: int = 0) -> list[str]:
    return [str(cell) for cell in table.columns[i].cells]


def test_the_toy_is_computed_from_the_books(run: RunResult) -> None:
    reps = run.replications
    assert list(reps["toy"]) == list(reps["profit"] / 2)
    assert run.summary.kpis["toy"]["mean"] == pytest.approx(run.summary.kpis["profit"]["mean"] / 2)


def test_the_summary_and_its_json_list_the_table(run: RunResult) -> None:
    assert list(run.summary.kpis) == list(KPIS)
    assert set(json.loads(summary_json(run.summary))["kpis"]) == set(KPIS)
    assert [c for c in run.replications.columns if "." not in c][1:] == list(KPIS)


def test_the_economics_table_lists_the_table(run: RunResult) -> None:
    signs = {"in": "+ ", "out": "− ", "total": "= ", None: ""}
    labels = [signs[kpi.line] + kpi.label for kpi in KPIS.values()]
    assert _column(economics_table(run.summary)) == labels


def test_the_run_report_lists_the_table(folder: Path) -> None:
    page = report_html(read_run_folder(folder))
    assert re.findall(r"<tr data-kpi='([^']+)'", page) == list(KPIS)
    cards = re.findall(r"<div class='card'><div class='label'>([^<]*)</div>", page)
    assert cards == [KPIS[name].label for name in kpis.headline()]
    assert cards[-1] == "toy (half the profit)"


def test_a_folder_without_a_headline_kpi_is_refused(folder: Path, tmp_path: Path) -> None:
    for file in folder.iterdir():
        (tmp_path / file.name).write_bytes(file.read_bytes())
    summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    del summary["kpis"]["toy"]
    (tmp_path / "summary.json").write_text(json.dumps(summary), encoding="utf-8")
    with pytest.raises(ValueError, match=r"no kpis\.toy"):
        read_run_folder(tmp_path)


def test_the_comparison_lists_the_table() -> None:
    base = sim.load_scenario(SMALL)
    other = sim.load_scenario(SMALL, overrides=["funnel.course.price=59"])
    comparison = compare_scenarios([base, other], ["A", "B"], replications=2)
    assert _column(comparison_table(comparison)) == list(KPIS)
    assert list(comparison.to_dict()["kpis"]) == list(KPIS)
    body = comparison_html(comparison).split("<section id='kpis'>")[1]
    assert re.findall(r"<tr><td>([^<]+)</td>", body) == list(KPIS)


def test_the_objective_check_knows_the_toy(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(SMALL.read_text(encoding="utf-8") + SEARCH, encoding="utf-8")
    assert sim.load_scenario(path).objective.goals == [("toy", "maximize")]
    with pytest.raises(ScenarioError, match="unknown KPI 'toi'"):
        sim.load_scenario(path, overrides=["objective.maximize=toi"])


def test_only_optimizable_kpis_may_be_objectives(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(SMALL.read_text(encoding="utf-8") + SEARCH, encoding="utf-8")
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(KPIS, "toy", Kpi(TOY.formula, "money", "toy", optimizable=False))
        assert "toy" not in kpis.optimizable()
        with pytest.raises(ScenarioError, match="unknown KPI 'toy'"):
            sim.load_scenario(path)


def test_the_optimizer_reports_its_objective_and_the_key_figures() -> None:
    text = SMALL.read_text(encoding="utf-8") + SEARCH
    config = StudyConfig(text, "s.yaml", storage="memory", trials=3, replications=2)
    result = optimize_scenario(config, top_k=1, reeval_replications=2)
    assert kpis.key_figures()[-1] == "toy"
    rows = _column(best_table(result))[len(result.changes) :]  # after the changed values
    assert rows == ["toy", *kpis.key_figures()[:-1]]  # the objective first
    data = result_dict(result)
    assert data["objective"] == ["maximize toy"]
    assert set(data["improvement"]) == set(kpis.key_figures())
    assert set(data["baseline"]) == set(KPIS)


def test_places_and_flags_read_the_table() -> None:
    assert kpis.headline() == [
        "profit",
        "profitable",
        "cash_low",
        "revenue",
        "gross_profit",
        "poas",
        "cac",
        "payback_day",
        "toy",
    ]
    assert kpis.optimizable() == list(KPIS)
    assert {kpi.unit for kpi in KPIS.values()} <= {"money", "share", "count", "days", "ratio"}


def test_a_formula_may_use_the_kpis_above_it() -> None:
    sums = dict.fromkeys(("visitors", "leads", "orders", "revenue", "refunds", "spend"), 0.0)
    sums |= {"cogs": 0.0, "fees": 0.0, "operating": 0.0, "revenue": 100.0, "spend": 40.0}
    sums |= {"traffic": 40.0, "acquisition": 0.0, "fixed": 0.0}
    values = kpis.compute(sums, buyers=2.0, cumulative_cash=np.array([-40.0, 60.0]))
    assert list(values) == list(KPIS)
    assert values["profit"] == 60.0
    assert values["toy"] == 30.0
    assert values["ltv_cac"] == values["ltv"] / values["cac"] == 2.5
    assert values["payback_day"] == 1.0
    assert math.isnan(values["cr1"])


def test_the_kpis_of_several_replications_are_each_ones_alone() -> None:
    """Computed for all replications at once, each one's KPIs are those it has alone.

    Two ways to the same numbers: plain floats for one replication, arrays for a batch.
    """
    rng = np.random.default_rng(5)
    names = ("visitors", "leads", "orders", "revenue", "refunds", "cogs", "fees", "spend")
    names += ("operating", "traffic", "acquisition", "fixed", "npv", "gross_profit_pv")
    # zeros and negative amounts make undefined ratios and losses; a row for each case
    sums = {name: rng.choice([0.0, -3.5, 1.0, 17.25, 1e6 / 3], size=6) for name in names}
    sums["tail_value"] = rng.random(6)
    buyers = np.array([0.0, 1.0, 2.0, 3.0, 0.0, 7.0])
    cash = np.cumsum(rng.normal(0.0, 10.0, size=(6, 9)), axis=1)
    cash[0] = [-1.0, 0.0, -0.0, 2.0, 3.0, -1.0, 0.0, 0.0, 1.0]  # back below zero once
    cash[1] = [0.0, -0.0, 4.0, 4.0, 4.0, 4.0, 4.0, 4.0, 0.0]  # never below zero
    together = kpis.compute_each(sums, buyers=buyers, cumulative_cash=cash)
    for r, values in enumerate(together):
        alone = kpis.compute(
            {name: float(v[r]) for name, v in sums.items()},
            buyers=float(buyers[r]),
            cumulative_cash=cash[r],
        )
        assert repr(values) == repr(alone), r
    assert together[0]["payback_day"] == 6.0
    assert (together[1]["payback_day"], together[1]["cash_low"]) == (0.0, 0.0)
