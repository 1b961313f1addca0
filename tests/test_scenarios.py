"""Every bundled scenario is a test: it validates, runs, and its offers sell."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

import sim
from cli import app
from conftest import SCENARIOS


def test_the_bundle_is_complete() -> None:
    names = {p.stem for p in SCENARIOS}
    assert {
        "quickstart",
        "pastry_school",
        "saas_trial",
        "webinar_funnel",
        "eshop_first_order",
        "b2b_consulting",
        "eshop_loyalty",
    } <= names


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_bundled_scenario_runs_and_sells(path: Path) -> None:
    scenario = sim.load_scenario(path)
    assert scenario.description or path.read_text().startswith("#"), (
        "explain the scenario in a comment"
    )
    result = sim.run_scenario(scenario, replications=2)
    kpis = result.summary.kpis
    assert kpis["visitors"]["mean"] > 0
    assert kpis["buyers"]["mean"] > 0
    for step in scenario.funnel:
        if step.type in ("offer", "order_bump", "subscription", "sales_call", "winback"):
            assert result.summary.steps[step.id]["converted"]["mean"] > 0, f"{step.id} never sells"


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_sim_run_succeeds_on_bundled_scenario(path: Path) -> None:
    result = CliRunner().invoke(app, ["run", str(path), "-n", "1"])
    assert result.exit_code == 0, result.stderr
    assert "Economics" in result.stdout


def test_readme_example_scenario_is_valid() -> None:
    text = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    blocks = [b.split("```", 1)[0] for b in text.split("```yaml\n")[1:]]
    block = next(b for b in blocks if b.startswith("name:"))
    scenario = sim.parse_scenario(block, source="README.md")
    assert sim.run_scenario(scenario, replications=1).summary.kpis["buyers"]["mean"] > 0
