"""The public surface is small and pinned: changing it is a decision, not an accident."""

from __future__ import annotations

from typer.testing import CliRunner

import sim
from cli import app


def test_sim_exports() -> None:
    assert sorted(sim.__all__) == [
        "PreparedScenario",
        "Problem",
        "RunResult",
        "Scenario",
        "ScenarioError",
        "ScenarioSource",
        "Summary",
        "load_scenario",
        "paired_difference",
        "parse_scenario",
        "prepare",
        "run_scenario",
    ]


def test_cli_commands() -> None:
    names = sorted(c.name or c.callback.__name__ for c in app.registered_commands)  # type: ignore[union-attr]
    assert names == [
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
