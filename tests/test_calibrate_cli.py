"""`sim calibrate`: the flags of the simulation-based fit, and what a pilot pins down when
several free parameters act on one step (docs/calibration.md)."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import pytest
from scipy import stats
from typer.testing import CliRunner

from cli import app
from sim import load_scenario, run_scenario
from sim.calibrate import calibrate
from sim.calibrate_abc import AbcSettings
from sim.pilot import pilot_from_run, read_pilot

ONE_OFFER = Path("tests/data/one_offer.yaml")
SALES_STEP = Path("tests/data/sales_step.yaml")
TAKE_AND_VALUE = (
    "calibrate={funnel.course.take: {between: [0.05, 0.9]}, "
    "funnel.course.value: {between: [20, 200]}}"
)
WEEK = ["--set", "horizon_days=4", "--set", "acquisition_days=4"]  # cheaper simulations
runner = CliRunner()


def _pilot(tmp: Path, file: Path, overrides: list[str]) -> Path:
    scenario = load_scenario(file, overrides=overrides)
    path = tmp / "pilot.csv"
    pilot_from_run(run_scenario(scenario, replications=1, events=True), 0).to_csv(path, index=False)
    return path


def _width(q: tuple[float, float, float]) -> float:
    return q[2] - q[0]


def test_take_and_value_at_one_price_pin_down_only_the_conversion(tmp_path: Path) -> None:
    """With one price, take and value are not separately identifiable: each alone stays wide,
    while the offer's conversion probability (1 − junk) · take · trust · S(price) is narrow
    and holds the truth."""
    scenario = load_scenario(ONE_OFFER, overrides=[TAKE_AND_VALUE])
    path = _pilot(tmp_path, ONE_OFFER, [])
    fit = calibrate(scenario, read_pilot(path, scenario), draws=2**14)
    seg = scenario.segments["cold"]
    course = scenario.step("course")
    # S(price) = P(LogNormal(0, σ) · value ≥ price) = Φ(ln(value / price) / σ)
    accept = stats.norm.cdf(math.log(course.value / course.price) / seg.price_dispersion)
    truth = (1 - seg.junk_share) * course.take * seg.trust * accept
    (combo,) = fit.combinations
    assert combo.step == "course"
    assert combo.paths == ("funnel.course.take", "funnel.course.value")
    assert "take" in combo.formula
    assert "P(willingness to pay ≥ price)" in combo.formula
    lo, _mid, hi = combo.posterior
    assert lo <= truth <= hi, f"true conversion {truth:.4f} outside {combo.posterior}"
    narrowed = _width(combo.posterior) / _width(combo.prior)
    by_path = {p.path: p for p in fit.parameters}
    for p in by_path.values():
        alone = _width(p.posterior) / _width(p.prior)
        assert alone > 3 * narrowed, f"{p.path}: {alone:.3f} of its prior against {narrowed:.3f}"
    assert not by_path["funnel.course.value"].identified
    result = runner.invoke(
        app,
        [
            "calibrate",
            str(ONE_OFFER),
            str(path),
            "--set",
            TAKE_AND_VALUE,
            "--check",
            "0",
            "--draws",
            "4096",
            "--out",
            str(tmp_path / "o"),
        ],
    )
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "not separately identifiable: take, value" in text, text
    assert "course: (1 − junk share) × take × trust × P(willingness to pay ≥ price) =" in text
    header = (tmp_path / "o" / "calibrated.yaml").read_text().split("\nname:")[0]
    assert "not separately identifiable: funnel.course.take, funnel.course.value" in header


def test_one_free_parameter_a_step_is_no_combination(tmp_path: Path) -> None:
    scenario = load_scenario(ONE_OFFER)
    fit = calibrate(scenario, read_pilot(_pilot(tmp_path, ONE_OFFER, []), scenario), draws=2**10)
    assert fit.combinations == ()


@pytest.mark.parametrize(
    ("flags", "words"),
    [
        (["--particles", "5"], "--particles"),
        (["--generations", "0"], "--generations"),
        (["--history", "."], "is a folder"),
        (["--history", "nowhere/abc.db"], "folder does not exist"),
        (["--history", "tests/data/one_offer.yaml"], "not an SQLite history"),
        (["--plan", "5", "--history", "abc.db"], "a plan fits many pilots"),
    ],
)
def test_a_bad_abc_flag_is_refused(flags: list[str], words: str) -> None:
    pilot = [] if "--plan" in flags else ["scenarios/pilot_quickstart.csv"]
    result = runner.invoke(app, ["calibrate", str(ONE_OFFER), *pilot, *flags])
    assert result.exit_code == 2, result.output
    assert words in " ".join(result.output.split()), result.output


def test_an_interrupted_abc_fit_resumes_from_its_history(tmp_path: Path) -> None:
    """Generation 1 kept in --history; a second command with --generations 2 resumes it and
    gives the library's fit resumed from the same file, bit for bit."""
    pytest.importorskip("pyabc")
    path = _pilot(tmp_path, SALES_STEP, WEEK[1::2])
    history = tmp_path / "abc.db"
    common = [
        "calibrate",
        str(SALES_STEP),
        str(path),
        *WEEK,
        "--particles",
        "10",
        "--draws",
        "1024",
        "--check",
        "0",
        "--history",
        str(history),
    ]
    first = runner.invoke(app, [*common, "--generations", "1"])
    assert first.exit_code == 0, first.output
    assert "fitted by ABC-SMC" in first.output
    assert "resuming" not in first.output
    shutil.copy(history, tmp_path / "copy.db")
    resumed = runner.invoke(app, [*common, "--generations", "2"])
    assert resumed.exit_code == 0, resumed.output
    assert "resuming the fit kept in" in " ".join(resumed.output.split())
    scenario = load_scenario(SALES_STEP, overrides=WEEK[1::2])
    seen: list[tuple[int, int]] = []
    settings = AbcSettings(
        10, 2, seed=0, history=tmp_path / "copy.db", progress=lambda *a: seen.append(a)
    )
    fit = calibrate(scenario, read_pilot(path, scenario), draws=1024, abc=settings)
    assert seen == [(1, 2), (2, 2)], seen  # resumed after generation 1: one more to run
    close = {p.path: p for p in fit.parameters}["funnel.call.team.close_rate"]
    lo, mid, _hi = close.posterior
    assert f"{mid:.4g} [{lo:.4g}," in resumed.output, resumed.output  # the table wraps the rest


def test_a_plan_fits_simulated_steps_with_small_settings_and_says_so() -> None:
    pytest.importorskip("pyabc")
    result = runner.invoke(
        app,
        [
            "calibrate",
            str(SALES_STEP),
            "--plan",
            "3",
            "--pilots",
            "2",
            "--particles",
            "10",
            "--generations",
            "1",
            "--draws",
            "256",
        ],
    )
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "no exact likelihood at call" in text, text
    assert "10 particles" in text, text
    assert "funnel.call.team.close_rate" in text
