"""`sim calibrate`: the pilot file, the fit and its coverage, the calibrated scenario."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli import app
from sim import load_scenario, run_scenario
from sim.calibrate import calibrate
from sim.errors import ScenarioError
from sim.pilot import pilot_from_run, read_pilot

ONE_OFFER = Path("tests/data/one_offer.yaml")
TRUTH = {"funnel.guide.rate": 0.25, "funnel.course.take": 0.4}
runner = CliRunner()


def _pilot_file(tmp: Path, replications: int) -> list[Path]:
    scenario = load_scenario(ONE_OFFER)
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
