"""The run report: what `sim run --out` adds for it, the page's structure, rebuilding it, bad folders."""

from __future__ import annotations

import json
import re
import shutil
import sys
from pathlib import Path

import pytest
from plotly.offline import get_plotlyjs
from typer.testing import CliRunner

import sim
from cli import app
from conftest import ROOT
from sim.kpis import KPIS
from sim.report import kpi_cells

runner = CliRunner()
SMALL = ROOT / "tests" / "data" / "small.yaml"
CHARTS = ["funnel", "cash", "offers", "channels", "segments"]
CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("run")
    result = runner.invoke(app, ["run", str(SMALL), "-n", "3", "--report", "--out", str(folder)])
    assert result.exit_code == 0, result.stderr
    return folder


@pytest.fixture(scope="module")
def page(run_dir: Path) -> str:
    return (run_dir / "report.html").read_text(encoding="utf-8")


# --- what the run writes for the report ------------------------------------------------------


def test_the_breakdown_with_the_event_log_is_the_same(quickstart: Path) -> None:
    scenario = sim.load_scenario(quickstart)
    alone = sim.run_scenario(scenario, replications=2, breakdown=True)
    both = sim.run_scenario(scenario, replications=2, breakdown=True, events=True)
    logged = sim.run_scenario(scenario, replications=2, events=True)
    assert alone.breakdown is not None
    assert both.breakdown is not None
    for name, table in alone.breakdown.items():
        assert table.equals(both.breakdown[name]), name
    assert both.events is not None
    assert both.events.equals(logged.events)


def test_out_writes_what_the_report_needs(run_dir: Path) -> None:
    assert (run_dir / "scenario.yaml").read_text() == SMALL.read_text()
    header = (run_dir / "by_channel.csv").read_text().splitlines()[0]
    assert header.startswith("replication,channel,type,visitors,leads,buyers,revenue")
    steps = (run_dir / "by_step.csv").read_text().splitlines()
    assert len(steps) == 1 + 3 * 3  # three replications of three steps


def test_overrides_are_recorded_with_the_scenario(tmp_path: Path) -> None:
    args = ["run", str(SMALL), "-n", "1", "--set", "funnel.course.price=59", "--out", str(tmp_path)]
    assert runner.invoke(app, args).exit_code == 0
    text = (tmp_path / "scenario.yaml").read_text()
    assert "--set funnel.course.price=59" in text
    assert sim.parse_scenario(text).funnel[2].price == 59  # type: ignore[union-attr]


# --- the page ---------------------------------------------------------------------------------


def test_the_page_is_self_contained(page: str) -> None:
    assert not re.search(r"<script[^>]*\ssrc=", page), "a script is loaded from elsewhere"
    assert not re.search(r"<link[^>]*href=[\"']https?:", page), "a stylesheet from the network"
    assert page.count(get_plotlyjs()[:200]) == 1, "plotly.js must be embedded exactly once"


def test_one_div_and_one_drawing_per_chart(page: str) -> None:
    assert re.findall(r"<div class='chart' data-chart='(\w+)'>", page) == CHARTS
    for name in CHARTS:
        assert page.count(f'id="chart-{name}"') == 1, name
        assert page.count(f'"chart-{name}",') == 1, name  # the Plotly.newPlot call for it
    assert page.count("Plotly.newPlot(") == len(CHARTS)


def test_the_economics_table_is_the_summary(run_dir: Path, page: str) -> None:
    summary = json.loads((run_dir / "summary.json").read_text())
    rows = re.findall(
        r"<tr data-kpi='(\w+)' data-mean='([^']*)' data-lo='([^']*)' data-hi='([^']*)'>"
        r"<td>([^<]*)</td><td class='num'>([^<]*)</td><td class='num'>([^<]*)</td></tr>",
        page,
    )
    assert [r[0] for r in rows] == list(KPIS)
    for name, mean, lo, hi, *shown in rows:
        fig = summary["kpis"][name]
        assert [json.loads(mean), json.loads(lo), json.loads(hi)] == [
            fig["mean"],
            fig["lo"],
            fig["hi"],
        ], name
        expected = kpi_cells(name, fig, summary["currency"], signed=True)
        assert [s.replace("&amp;", "&") for s in shown] == list(expected), name


def test_the_scenario_is_on_the_page_collapsed(page: str) -> None:
    assert "<details><summary>scenario.yaml" in page
    assert "name: small test funnel" in page


def test_sim_report_rebuilds_the_same_page(run_dir: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(run_dir, copy)
    (copy / "report.html").unlink()
    result = runner.invoke(app, ["report", str(copy)])
    assert result.exit_code == 0, result.stderr
    assert (copy / "report.html").read_bytes() == (run_dir / "report.html").read_bytes()


def test_report_without_out_picks_a_folder_and_keeps_json_clean(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["run", str(SMALL), "-n", "1", "--report", "--json"])
    assert result.exit_code == 0, result.stderr
    json.loads(result.stdout)
    assert "small-run" in result.stderr
    assert (tmp_path / "small-run" / "report.html").is_file()


# --- bad folders --------------------------------------------------------------------------------


def _break_summary(folder: Path) -> None:
    (folder / "summary.json").write_text("{not json")


def _drop_channels(folder: Path) -> None:
    (folder / "by_channel.csv").unlink()


def _drop_a_column(folder: Path) -> None:
    path = folder / "by_step.csv"
    lines = path.read_text().splitlines()
    path.write_text("\n".join(",".join(line.split(",")[:-2]) for line in lines) + "\n")


def _text_for_numbers(folder: Path) -> None:
    (folder / "daily.csv").write_text("replication,day,cumulative_cash\n0,0,lots\n")


def _other_run(folder: Path) -> None:
    path = folder / "by_step.csv"
    path.write_text(path.read_text().replace(",course,", ",masterclass,"))


def _no_kpis(folder: Path) -> None:
    path = folder / "summary.json"
    data = json.loads(path.read_text())
    data["kpis"] = [1, 2]
    path.write_text(json.dumps(data))


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (_break_summary, "summary.json is not valid JSON"),
        (_drop_channels, "has no by_channel.csv"),
        (_drop_a_column, "by_step.csv lacks the column(s)"),
        (_text_for_numbers, "column cumulative_cash holds something other than numbers"),
        (_other_run, "by_step.csv and summary.json are of different runs"),
        (_no_kpis, "kpis and steps must be objects"),
    ],
    ids=["corrupt-json", "missing-file", "missing-column", "not-numbers", "other-run", "no-kpis"],
)
def test_a_damaged_folder_is_refused_in_one_line(
    run_dir: Path, tmp_path: Path, damage: object, message: str
) -> None:
    folder = tmp_path / "damaged"
    shutil.copytree(run_dir, folder)
    damage(folder)  # type: ignore[operator]
    result = runner.invoke(app, ["report", str(folder)])
    assert result.exit_code == 2
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "Traceback" not in result.stderr


def test_a_missing_folder_is_refused(tmp_path: Path) -> None:
    result = runner.invoke(app, ["report", str(tmp_path / "nowhere")])
    assert result.exit_code == 2
    assert result.stderr.strip() == f"error: no folder {tmp_path / 'nowhere'}"


# --- in a real browser --------------------------------------------------------------------------


@pytest.mark.skipif(
    not CHROMIUM.exists(), reason="needs /usr/bin/chromium (apt-get install chromium)"
)
def test_every_chart_draws_in_headless_chromium_offline(run_dir: Path) -> None:
    sys.path.insert(0, str(ROOT / "docs"))
    try:
        import render_report  # type: ignore[import-not-found]
    finally:
        sys.path.pop(0)
    drawn = render_report.charts_drawn(run_dir / "report.html", str(CHROMIUM))
    assert drawn == dict.fromkeys(CHARTS, True)
