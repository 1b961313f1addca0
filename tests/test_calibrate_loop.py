"""The calibration loop: plan a pilot, check the fit against its pilot, decide on the posterior."""

from __future__ import annotations

import math
import re
import sys
from pathlib import Path

import numpy as np
import pytest
from plotly.offline import get_plotlyjs
from typer.testing import CliRunner

from cli import app
from sim import load_scenario, run_scenario
from sim.assumptions import central
from sim.calibrate import calibrate
from sim.pilot import pilot_from_run, read_pilot
from sim.plan import fit_simulated, pilot_scenario, plan_pilot
from sim.predictive import observed_days, predictive_check

ONE_OFFER = Path("tests/data/one_offer.yaml")
CHROMIUM = Path("/usr/bin/chromium")
runner = CliRunner()


def _pilot_csv(tmp: Path, days: int, budget: float) -> Path:
    """One simulated pilot of the one-offer funnel, written as a pilot CSV."""
    scenario = pilot_scenario(load_scenario(ONE_OFFER), days, budget)
    result = run_scenario(scenario, replications=1, seed=11, events=True)
    path = tmp / "pilot.csv"
    pilot_from_run(result, 0).to_csv(path, index=False)
    return path


def test_the_pilot_spends_its_budget_over_its_days() -> None:
    scenario = pilot_scenario(load_scenario(ONE_OFFER), days=5, budget=123.0)
    result = run_scenario(scenario, replications=1, seed=1)
    spend = float(result.replications["traffic_spend"].iloc[0])
    assert scenario.acquisition_days == 5, scenario.acquisition_days
    assert math.isclose(spend, 123.0, rel_tol=1e-9), spend


def test_the_plan_predicts_the_widths_of_simulated_pilots_within_20_percent(
    tmp_path: Path,
) -> None:
    """Pilots simulated apart from the plan (truths drawn here, event log, CSV, fit) agree."""
    scenario = load_scenario(ONE_OFFER)
    days, budget, n, draws = 5, 150.0, 48, 2**12
    plan = plan_pilot(scenario, days, budget, pilots=n, draws=draws, seed=1)
    rng = np.random.default_rng(2024)
    priors = scenario.calibrate
    widths: dict[str, list[float]] = {path: [] for path in priors}
    pilot = pilot_scenario(scenario, days, budget)
    for k in range(n):
        truth = {path: float(d.ppf(rng.uniform())) for path, d in priors.items()}
        result = run_scenario(pilot.with_changes(truth), replications=1, seed=100 + k, events=True)
        path = tmp_path / f"pilot{k}.csv"
        pilot_from_run(result, 0).to_csv(path, index=False)
        fit = calibrate(pilot, read_pilot(path, pilot), draws=draws, seed=k)
        for p in fit.parameters:
            widths[p.path].append(p.posterior[2] - p.posterior[0])
    for planned in plan.widths:
        seen = np.array(widths[planned.path])
        mean, se = seen.mean(), seen.std(ddof=1) / math.sqrt(n)
        gap = abs(planned.expected_width - mean) / mean
        assert gap <= 0.2, (
            f"{planned.path}: planned {planned.expected_width:.4f} ± {planned.standard_error:.4f}, "
            f"simulated pilots {mean:.4f} ± {se:.4f} ({gap:.0%} apart)"
        )


def test_the_plan_command_prints_each_parameter() -> None:
    args = ["--plan", "3", "--budget", "60", "--pilots", "8", "--draws", "1024"]
    done = runner.invoke(app, ["calibrate", str(ONE_OFFER), *args])
    assert done.exit_code == 0, done.output
    assert "A pilot of 3 days with a budget of 60.00" in done.output
    for path in ("funnel.guide.rate", "funnel.course.take"):
        assert path in done.output, done.output


def test_a_larger_pilot_is_planned_narrower() -> None:
    scenario = load_scenario(ONE_OFFER)
    small = plan_pilot(scenario, 3, 60.0, pilots=16, draws=2**11)
    large = plan_pilot(scenario, 12, 600.0, pilots=16, draws=2**11)
    for a, b in zip(small.widths, large.widths, strict=True):
        assert b.expected_width < a.expected_width, (a, b)


def test_planned_pilots_do_not_depend_on_how_the_work_is_cut() -> None:
    """Each work item is a pure function of its pilots: any --jobs or --cluster gives the same."""
    scenario = load_scenario(ONE_OFFER)
    fitted = pilot_scenario(scenario, 3, 60.0)
    priors = {p: d.model_dump(mode="json") for p, d in scenario.calibrate.items()}
    truth = fitted.with_changes({**priors, "assumptions.replications_per_draw": 1})
    whole = fit_simulated(truth, fitted, 4, 0, 6, 2**10)
    cut = fit_simulated(truth, fitted, 4, 0, 2, 2**10) + fit_simulated(
        truth, fitted, 4, 2, 4, 2**10
    )
    assert whole == cut


def test_calibrated_runs_are_wider_by_the_parameter_uncertainty(tmp_path: Path) -> None:
    """Law of total variance: Var(CR1) = E[p(1−p)/N] + Var(p); the point run has the first only."""
    pilot = _pilot_csv(tmp_path, days=3, budget=60.0)
    out = tmp_path / "fit"
    done = runner.invoke(
        app,
        [
            "calibrate",
            str(ONE_OFFER),
            str(pilot),
            "--out",
            str(out),
            "--check",
            "0",
            "--draws",
            "8192",
        ],
    )
    assert done.exit_code == 0, done.output
    # decide on a run as short as the pilot, so luck and the parameter weigh alike
    calibrated = load_scenario(out / "calibrated.yaml")
    posterior = pilot_scenario(calibrated, 3, 60.0).with_changes(
        {"assumptions.replications_per_draw": 1}
    )
    _, var_p = posterior.step("guide").rate.moments()
    n = 400
    wide = run_scenario(posterior, replications=n, seed=5).replications["cr1"].to_numpy()
    point = run_scenario(central(posterior), replications=n, seed=5).replications["cr1"]
    narrow = point.to_numpy()
    gap = wide.var(ddof=1) - narrow.var(ddof=1)
    # the sample variance's standard error, sqrt(2 / (n − 1)) σ² for each run (normal draws)
    se = math.sqrt(2 / (n - 1)) * math.hypot(wide.var(ddof=1), narrow.var(ddof=1))
    assert abs(gap - var_p) <= 4 * se, f"Var gap {gap:.3g}, Var(p) {var_p:.3g}, se {se:.3g}"
    assert gap > 4 * se, f"the calibrated run is not wider: gap {gap:.3g}, se {se:.3g}"


def test_the_check_passes_a_true_model_and_flags_a_wrong_one(tmp_path: Path) -> None:
    pilot = _pilot_csv(tmp_path, days=5, budget=150.0)
    scenario = pilot_scenario(load_scenario(ONE_OFFER), 5, 150.0)
    seen = observed_days(pilot, scenario)
    right = predictive_check(scenario, seen, replications=30, seed=1)
    assert not right.misfits, right.misfits
    wrong = predictive_check(
        scenario.with_changes({"funnel.course.take": 0.1}), seen, replications=30, seed=1
    )
    assert {(b.step, b.column) for b in wrong.misfits} >= {("course", "converted")}, wrong


def test_calibrate_writes_the_predictive_page_with_a_manifest(tmp_path: Path) -> None:
    pilot = _pilot_csv(tmp_path, days=4, budget=100.0)
    out = tmp_path / "fit"
    args = ["calibrate", str(ONE_OFFER), str(pilot), "--out", str(out), "--check", "20"]
    done = runner.invoke(app, args)
    assert done.exit_code == 0, done.output
    assert "Posterior predictive check" in done.output
    assert "course" in done.output
    assert "converted" in done.output
    assert sorted(p.name for p in out.iterdir()) == [
        "calibrated.yaml",
        "manifest.json",
        "predictive.html",
    ]
    text = (out / "predictive.html").read_text()
    assert text.startswith("<!doctype html>")
    assert "data-chart='ppc-0'" in text
    assert not re.search(r"<script[^>]*\ssrc=", text), "a script is loaded from elsewhere"
    assert text.count(get_plotlyjs()[:200]) == 1, "plotly.js must be embedded exactly once"


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--plan", "3", "--cluster", "not an address"], "not a scheduler address"),
        (["--plan", "3", "--cluster", "tcp://127.0.0.1:1"], "cannot reach a Dask scheduler"),
        (["--budget", "100"], "--budget sizes a planned pilot"),
        ([], "give a pilot file"),
    ],
)
def test_bad_options_are_refused(args: list[str], words: str) -> None:
    pilot = ["scenarios/pilot_quickstart.csv"] if "--budget" in args else []
    done = runner.invoke(app, ["calibrate", str(ONE_OFFER), *pilot, *args])
    assert done.exit_code == 2, done.output
    assert words in done.output.replace("\n", " "), done.output


@pytest.mark.slow
@pytest.mark.skipif(
    not CHROMIUM.exists(), reason="needs /usr/bin/chromium (apt-get install chromium)"
)
def test_the_predictive_page_draws_in_headless_chromium_offline(tmp_path: Path) -> None:
    from conftest import ROOT

    pilot = _pilot_csv(tmp_path, days=4, budget=100.0)
    out = tmp_path / "fit"
    args = ["calibrate", str(ONE_OFFER), str(pilot), "--out", str(out), "--check", "10"]
    assert runner.invoke(app, args).exit_code == 0
    sys.path.insert(0, str(ROOT / "docs"))
    try:
        import render_report  # type: ignore[import-not-found]
    finally:
        sys.path.pop(0)
    drawn = render_report.charts_drawn(out / "predictive.html", str(CHROMIUM))
    assert len(drawn) >= 4, drawn
    assert all(drawn.values()), drawn
