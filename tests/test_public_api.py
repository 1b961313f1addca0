"""The public surface is small and pinned: changing it is a decision, not an accident."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

import sim
from cli import app


def test_sim_exports() -> None:
    assert sorted(sim.__all__) == [
        "Comparison",
        "PreparedScenario",
        "Problem",
        "RunResult",
        "Scenario",
        "ScenarioError",
        "ScenarioSource",
        "Summary",
        "Trace",
        "compare_scenarios",
        "load_scenario",
        "paired_difference",
        "parse_scenario",
        "prepare",
        "run_scenario",
        "trace_scenario",
    ]


def test_cli_commands() -> None:
    names = sorted(c.name or c.callback.__name__ for c in app.registered_commands)  # type: ignore[union-attr]
    assert names == [
        "calibrate",
        "compare",
        "new",
        "optimize",
        "report",
        "run",
        "schema",
        "sensitivity",
        "studio",
        "trace",
        "validate",
    ]
    result = CliRunner().invoke(app, ["--help"])
    assert result.exit_code == 0


def test_optimize_exports() -> None:
    import optimize

    assert sorted(optimize.__all__) == ["OptimizeResult", "StudyConfig", "optimize_scenario"]


SHORT = 300  # characters: a repr one reads in a notebook cell, not a wall


def test_results_have_short_reprs_and_tables() -> None:
    scenario = sim.load_scenario("scenarios/quickstart.yaml")
    result = sim.run_scenario(scenario, replications=2, seed=1, events=True)
    dearer = scenario.with_changes({"funnel.course.price": 59})
    comparison = sim.compare_scenarios([scenario, dearer], replications=2, seed=1)
    trace = sim.trace_scenario(scenario)
    journey = trace.journey(trace.select(where=["bought=course"], sample=1)[0])
    for thing in (result, result.summary, comparison, trace, journey):
        assert len(repr(thing)) < SHORT, repr(thing)
    kpis = result.summary.to_frame()
    assert isinstance(kpis, pd.DataFrame)
    assert kpis.loc["revenue", "mean"] == result.summary.kpis["revenue"]["mean"]
    assert comparison.labels == [scenario.name, f"{scenario.name} (2)"]
    table = comparison.to_frame()
    assert (
        table.loc["profit", comparison.labels[0]]
        == comparison.runs[0].summary.kpis["profit"]["mean"]
    )
    assert list(journey.to_frame()["what"]).count("buy") >= 1


def test_optimize_result_has_a_short_repr_and_a_table() -> None:
    from optimize import StudyConfig, optimize_scenario

    text = Path("scenarios/quickstart.yaml").read_text()
    text += "search:\n  funnel.course.price: {low: 20, high: 120}\n"
    config = StudyConfig(text, "q.yaml", storage="memory", trials=3, replications=2)
    found = optimize_scenario(config, top_k=2)
    assert len(repr(found)) < SHORT, repr(found)
    assert found.to_frame().index.name == "trial"


@pytest.mark.parametrize("path", sorted(Path("scenarios").glob("*.yaml")), ids=lambda p: p.stem)
def test_with_changes_validates_like_a_file(path: Path) -> None:
    scenario = sim.load_scenario(path)
    assert scenario.with_changes({}) == scenario, "a scenario survives the round trip"
    assert scenario.with_changes({"seed": 7}).seed == 7
    with pytest.raises(sim.ScenarioError, match="acquisition_days"):
        scenario.with_changes({"horizon_days": 1, "acquisition_days": 2})
    with pytest.raises(sim.ScenarioError, match="no_such_key"):
        scenario.with_changes({"no_such_key": 1})


def test_model_copy_cannot_skip_validation() -> None:
    scenario = sim.load_scenario("scenarios/quickstart.yaml")
    with pytest.raises(TypeError, match="with_changes"):
        scenario.model_copy(update={"horizon_days": 10})
    assert scenario.model_copy() == scenario
