"""`sim compare` (paired differences on common random numbers) and `sim trace` (journeys)."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import sim
from cli import app
from conftest import ROOT
from sim.compare import Difference, compare_scenarios, paired_difference, replications_needed
from sim.kpis import KPIS
from sim.trace import Trace, trace_scenario

runner = CliRunner()
SMALL = ROOT / "tests" / "data" / "small.yaml"


# --- the statistics, against hand computation ------------------------------------------------


def test_paired_interval_is_the_t_interval_of_the_differences() -> None:
    # differences 1, 2, 3, 4: mean 2.5, sd sqrt(5/3); t(0.95, 3 df) = 2.353363
    d = paired_difference(np.array([2.0, 4.0, 6.0, 8.0]), np.array([1.0, 2.0, 3.0, 4.0]))
    half = 2.353363 * math.sqrt(5 / 3) / 2
    assert d.mean == 2.5
    assert d.lo == pytest.approx(2.5 - half, rel=1e-6)
    assert d.hi == pytest.approx(2.5 + half, rel=1e-6)
    assert d.distinguishable


def test_undefined_replications_are_left_out_of_the_pairs() -> None:
    d = paired_difference(np.array([1.0, np.nan, np.inf, 3.0]), np.array([0.0, 1.0, np.inf, 1.0]))
    assert (d.mean, d.pairs) == (1.5, 2)


def test_replications_needed_is_the_paired_sample_size_formula() -> None:
    # ((z0.95 + z0.80) * sd / mean)^2 = ((1.644854 + 0.841621) * 2 / 1)^2 = 24.73 -> 25
    assert replications_needed(Difference(1.0, -0.5, 2.5, 2.0, 10)) == 25
    assert replications_needed(Difference(0.0, 0.0, 0.0, 0.0, 10)) is None  # identical


# --- comparisons ------------------------------------------------------------------------------


def test_a_scenario_compared_with_itself_shows_no_difference() -> None:
    result = runner.invoke(app, ["compare", str(SMALL), str(SMALL), "-n", "6", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["designs"] == ["small", "small (2)"]
    for kpi in KPIS:
        (diff,) = data["kpis"][kpi]["differences"]
        assert diff["distinguishable"] is False, kpi
        assert diff["mean"] in (0.0, None), kpi  # None: undefined in every replication
        assert diff["replications_needed"] is None, kpi
    table = runner.invoke(
        app, ["compare", str(SMALL), str(SMALL), "-n", "6"], env={"COLUMNS": "120"}
    )
    assert "identical in every replication" in table.stdout


def test_a_price_rise_is_told_apart_once_there_are_enough_replications() -> None:
    a = sim.load_scenario(SMALL)
    # a small rise: with each visitor's own dice, a larger one is told apart in 2 or 3
    b = sim.load_scenario(SMALL, overrides=["funnel.course.price=51"])
    few = compare_scenarios([a, b], ["49", "51"], replications=4).difference(1, "buyers")
    assert not few.distinguishable
    needed = replications_needed(few)
    assert needed is not None
    assert needed > 4
    # a higher price loses buyers (§3.3: fewer visitors value the course at 51 than at 49)
    enough = compare_scenarios([a, b], ["49", "51"], replications=2 * needed)
    diff = enough.difference(1, "buyers")
    assert diff.distinguishable
    assert diff.hi is not None
    assert diff.hi < 0


def test_compare_with_vs_and_variant_designs(tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        ["compare", str(SMALL), "--vs", "funnel.course.price=69", "-n", "4", "--json"],
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["designs"] == ["small", "funnel.course.price=69"]
    pastry = ROOT / "scenarios" / "pastry_school.yaml"
    bad = runner.invoke(app, ["compare", str(pastry), "--variant", "nope", "-n", "2"])
    assert bad.exit_code == 2
    assert "no variant named 'nope'" in bad.output
    lone = runner.invoke(app, ["compare", str(SMALL)])
    assert lone.exit_code == 2


# --- journeys ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def traced() -> Trace:
    return trace_scenario(sim.load_scenario(SMALL))


def test_journeys_add_up_to_the_runs_counts(traced: Trace) -> None:
    run = sim.run_scenario(sim.load_scenario(SMALL), replications=1)
    steps = run.summary.steps
    assert traced.count_matching(["bought=course"]) == steps["course"]["converted"]["mean"]
    assert traced.count_matching(["shown=course"]) == steps["course"]["reached"]["mean"]
    assert traced.count_matching(["lead=true"]) == run.summary.kpis["leads"]["mean"]
    buyers = traced.select(where=["bought=course"], sample=5)
    assert len(buyers) == 5
    for visitor in buyers:
        journey = traced.journey(visitor)
        row = traced.visitors.iloc[visitor]
        assert [line.what for line in journey.lines if line.step == "course"][-1:] in (
            ["buy"],
            ["refund"],
        )
        assert journey.paid == pytest.approx(row["revenue"])


def test_replayed_trust_ends_where_the_engine_left_it(traced: Trace) -> None:
    for visitor in traced.select(where=["lead=true"], sample=200):
        journey = traced.journey(visitor)
        end = journey.lines[-1].trust if journey.lines else journey.trust_at_arrival
        assert end == traced.visitors.iloc[visitor]["trust_at_end"], visitor


def test_trace_prints_the_sampled_journeys() -> None:
    result = runner.invoke(app, ["trace", str(SMALL), "--sample", "3"], env={"COLUMNS": "120"})
    assert result.exit_code == 0, result.output
    assert result.stdout.count("Visitor ") == 3
    assert "opted in" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--where", "bought=nothing"], "no step 'nothing'"),
        (["--where", "colour=red"], "KEY=VALUE"),
        (["--visitor", "99999999"], "no visitor 99999999"),
    ],
)
def test_trace_refuses_bad_choices(args: list[str], message: str) -> None:
    result = runner.invoke(app, ["trace", str(SMALL), *args])
    assert result.exit_code == 2
    assert message in result.output


# --- the comparison page ------------------------------------------------------------------------

CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture(scope="module")
def compare_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("compare")
    args = ["compare", str(SMALL), "--vs", "funnel.course.price=69", "-n", "4"]
    result = runner.invoke(app, [*args, "--report", "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out


def test_compare_report_is_self_contained_and_matches_the_json(compare_dir: Path) -> None:
    page = (compare_dir / "compare.html").read_text(encoding="utf-8")
    data = json.loads((compare_dir / "compare.json").read_text(encoding="utf-8"))
    assert "src='http" not in page
    assert 'src="http' not in page
    assert page.count("/* plotly.js") == 1
    assert page.count("data-chart=") == 2
    assert data["designs"] == ["small", "funnel.course.price=69"]
    profit = data["kpis"]["profit"]["differences"][0]
    assert profit["lo"] <= profit["mean"] <= profit["hi"]


@pytest.mark.skipif(
    not CHROMIUM.exists(), reason="needs /usr/bin/chromium (apt-get install chromium)"
)
def test_compare_report_draws_in_headless_chromium(compare_dir: Path) -> None:
    sys.path.insert(0, str(ROOT / "docs"))
    try:
        import render_report  # type: ignore[import-not-found]
    finally:
        sys.path.pop(0)
    drawn = render_report.charts_drawn(compare_dir / "compare.html", str(CHROMIUM))
    assert drawn == {"money": True, "difference": True}
