"""`sim calibrate`: the pilot file, the fit and its coverage, the calibrated scenario."""

from __future__ import annotations

import math
import shutil
import statistics
from dataclasses import replace
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli import app
from sim import load_scenario, run_scenario
from sim.calibrate import Calibration, calibrate, likelihood_steps
from sim.calibrate_abc import AbcSettings
from sim.errors import ScenarioError
from sim.pilot import Observed, pilot_from_run, read_pilot

ONE_OFFER = Path("tests/data/one_offer.yaml")
LATE_EMAIL = Path("tests/data/late_email.yaml")
SALES_STEP = Path("tests/data/sales_step.yaml")
TRUTH = {"funnel.guide.rate": 0.25, "funnel.course.take": 0.4}
runner = CliRunner()


def _pilot_file(tmp: Path, replications: int, file: Path = ONE_OFFER) -> list[Path]:
    scenario = load_scenario(file)
    result = run_scenario(scenario, replications=replications, events=True)
    files = []
    for r in range(replications):
        path = tmp / f"pilot{r}.csv"
        pilot_from_run(result, r).to_csv(path, index=False)
        files.append(path)
    return files


def test_the_posterior_interval_holds_the_truth(tmp_path: Path) -> None:
    scenario = load_scenario(ONE_OFFER)
    (path,) = _pilot_file(tmp_path, 1)
    fit = calibrate(scenario, read_pilot(path, scenario))
    assert fit.steps_used == ("guide", "course")
    for p in fit.parameters:
        lo, _, hi = p.posterior
        assert lo <= TRUTH[p.path] <= hi, f"{p.path}: truth {TRUTH[p.path]} not in {p.posterior}"
        assert p.identified, p
    assert fit.effective_sample_size > 100, fit.effective_sample_size


def test_coverage_over_30_pilots_is_90_percent(tmp_path: Path) -> None:
    scenario = load_scenario(ONE_OFFER)
    files = _pilot_file(tmp_path, 30)
    hits = dict.fromkeys(TRUTH, 0)
    for path in files:
        for p in calibrate(scenario, read_pilot(path, scenario), draws=2**14).parameters:
            hits[p.path] += p.posterior[0] <= TRUTH[p.path] <= p.posterior[2]
    n = len(files)
    se = math.sqrt(n * 0.9 * 0.1)
    for path, k in hits.items():
        assert abs(k - 0.9 * n) <= 4 * se, f"{path}: {k} of {n} intervals hold the truth, se {se}"


def test_a_step_the_pilot_does_not_observe_is_not_identified(tmp_path: Path) -> None:
    scenario = load_scenario(ONE_OFFER)
    (path,) = _pilot_file(tmp_path, 1)
    lines = path.read_text().splitlines()
    path.write_text("\n".join(line for line in lines if ",course," not in line) + "\n")
    fit = calibrate(scenario, read_pilot(path, scenario))
    by_path = {p.path: p for p in fit.parameters}
    assert by_path["funnel.guide.rate"].identified
    assert not by_path["funnel.course.take"].identified
    result = runner.invoke(app, ["calibrate", str(ONE_OFFER), str(path)])
    assert result.exit_code == 0, result.output
    assert "not identified" in result.output


@pytest.mark.parametrize(
    ("text", "line", "column", "words"),
    [
        ("day,step,reached\n0,guide,5\n", 1, None, "needs a"),  # fine: no conversion given
        ("step,reached,converted\nguide,5,1\n", 1, None, "`day` is missing"),
        ("day,step,reached,converted\n0,guide,5,1\n1,guide,x,1\n", 3, 3, "not a whole number"),
        ("day,step,reached,converted\n0,nowhere,5,1\n", 2, 2, "unknown step"),
        ("day,step,reached,converted\n0,guide,-5,1\n", 2, 3, "negative"),
        ("day,step,reached,converted\n0,guide,5,6\n", 2, 4, "more than reached"),
        ("day,channel,visitors\n0,tv,5\n", 2, 2, "unknown channel"),
        ("day,step,reached,colour\n0,guide,5,red\n", 1, 4, "unknown column"),
    ],
)
def test_a_bad_pilot_is_refused_with_row_and_column(
    tmp_path: Path, text: str, line: int, column: int | None, words: str
) -> None:
    scenario = load_scenario(ONE_OFFER)
    path = tmp_path / "pilot.csv"
    path.write_text(text)
    if words == "needs a":  # a file without converted counts is read, and fits nothing
        assert read_pilot(path, scenario).steps == {}
        return
    with pytest.raises(ScenarioError) as caught:
        read_pilot(path, scenario)
    problem = caught.value.problems[0]
    assert (problem.file, problem.line, problem.column) == (str(path), line, column), problem
    assert words in problem.message, problem
    result = runner.invoke(app, ["calibrate", str(ONE_OFFER), str(path)])
    assert result.exit_code == 2, result.output
    assert f"{path}:{line}" in result.output.replace("\n", "")


def test_calibrated_yaml_runs(tmp_path: Path) -> None:
    (path,) = _pilot_file(tmp_path, 1)
    out = tmp_path / "out"
    result = runner.invoke(app, ["calibrate", str(ONE_OFFER), str(path), "--out", str(out)])
    assert result.exit_code == 0, result.output
    calibrated = load_scenario(out / "calibrated.yaml")
    assert calibrated.calibrate == {}
    take = calibrated.step("course").take
    assert hasattr(take, "ppf"), take
    run = runner.invoke(app, ["run", str(out / "calibrated.yaml"), "-n", "2"])
    assert run.exit_code == 0, run.output


def test_the_bundled_pilot_reads() -> None:
    scenario = load_scenario("scenarios/quickstart.yaml")
    pilot = read_pilot("scenarios/pilot_quickstart.csv", scenario)
    assert pilot.steps["guide"].reached >= pilot.steps["guide"].converted > 0


def test_a_pilot_that_ends_before_its_email_offers_are_due_recovers_the_take(
    tmp_path: Path,
) -> None:
    """Only purchases are counted at the mailed offer; the fit counts as reached only the
    leads whose offer was due by the pilot's last day, so the take is not biased low."""
    scenario = load_scenario(LATE_EMAIL)
    truth = scenario.step("course").take
    n = 16
    result = run_scenario(scenario, replications=n, events=True)
    medians, naive = [], []
    for r in range(n):
        rows = pilot_from_run(result, r)
        checkout = rows["step"] == "course"
        rows["reached"] = rows["reached"].astype(object)
        rows.loc[checkout, "reached"] = ""  # the checkout exports purchases, not reach
        path = tmp_path / f"pilot{r}.csv"
        rows.to_csv(path, index=False)
        pilot = read_pilot(path, scenario)
        assert "course" not in pilot.steps
        fit = calibrate(scenario, pilot, draws=2**12)
        assert fit.steps_used == ("guide", "course"), fit
        medians.append(fit.parameters[0].posterior[1])
        # the same fit with every lead of the pilot as reached: biased low
        leads = sum(pilot.converted_by_day["guide"].values())
        due = sum(k for d, k in pilot.converted_by_day["guide"].items() if d <= pilot.last_day - 7)
        naive.append(medians[-1] * due / leads)
    mean, se = statistics.fmean(medians), statistics.stdev(medians) / math.sqrt(n)
    assert abs(mean - truth) <= 4 * se, (
        f"take {truth}: mean posterior median {mean:.4f}, se {se:.4f}"
    )
    low = statistics.fmean(naive)
    assert truth - low > 4 * se, f"naive denominators should be biased low: {low:.4f}, se {se:.4f}"


def test_a_queue_is_fitted_by_simulation_the_same_for_the_same_seed_and_resumably(
    tmp_path: Path,
) -> None:
    """The close rate of a rep with a queue has no exact likelihood: ABC-SMC fits it; the deal's
    price, which no count depends on, is reported unidentified; a run stopped after one
    generation resumes from its history, the same bit for bit for the same seed."""
    pytest.importorskip("pyabc")
    priors = (
        "calibrate={funnel.form.rate: {between: [0.05, 0.6]}, "
        "funnel.call.team.close_rate: {between: [0.05, 0.8]}, "
        "funnel.call.price: {between: [100, 1000]}}"
    )
    week = ["horizon_days=7", "acquisition_days=7"]  # a week's pilot: cheaper simulations
    scenario = load_scenario(SALES_STEP, overrides=[priors, *week])
    result = run_scenario(scenario, replications=1, events=True)
    path = tmp_path / "pilot.csv"
    pilot_from_run(result, 0).to_csv(path, index=False)
    pilot = read_pilot(path, scenario)

    def fit(generations: int, history: Path | None = None, population: int = 20) -> Calibration:
        settings = AbcSettings(population, generations, seed=3, history=history)
        return calibrate(scenario, pilot, draws=2**10, abc=settings)

    # one generation of 40 particles: the accepted prior draws, whose price stays as spread
    broad = fit(1, population=40)
    assert broad.simulated == ("call",)
    assert broad.steps_used == ("form",)
    methods = {p.path: p.method for p in broad.parameters}
    assert methods == {
        "funnel.form.rate": "exact",
        "funnel.call.team.close_rate": "abc-smc",
        "funnel.call.price": "abc-smc",
    }, methods
    price = {p.path: p for p in broad.parameters}["funnel.call.price"]
    assert not price.identified, price
    stopped = fit(1, tmp_path / "abc.db")
    shutil.copy(tmp_path / "abc.db", tmp_path / "copy.db")
    resumed = fit(2, tmp_path / "abc.db")  # runs the second generation only
    assert fit(2, tmp_path / "copy.db") == resumed  # the same seed, the same posterior
    assert resumed.simulations > stopped.simulations, (stopped, resumed)
    assert resumed != stopped


def test_steps_whose_visitors_emails_warmed_have_no_exact_likelihood() -> None:
    scenario = load_scenario("scenarios/pastry_school.yaml")
    pilot = read_pilot("scenarios/pilot_quickstart.csv", load_scenario("scenarios/quickstart.yaml"))
    steps = {s.id: Observed(10, 1) for s in scenario.funnel}
    exact, simulated = likelihood_steps(scenario, replace(pilot, steps=steps))
    assert exact == ["masterclass"], exact  # nurture emails warm every later step's visitors
    assert "nurture" not in simulated  # a sequence neither opts in nor sells: tells nothing
    assert simulated == ["tripwire", "core_course", "starter_kit", "core_lite", "club"], simulated
