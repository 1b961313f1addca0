"""`sim` end to end: through typer's CliRunner, and as a real subprocess."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli import app
from conftest import ROOT
from sim.kpis import KPIS

runner = CliRunner()
SMALL = ROOT / "tests" / "data" / "small.yaml"  # a stable copy: bundled scenarios may be retuned


@pytest.fixture
def small() -> Path:
    return SMALL


def sim_cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONHASHSEED"}
    return subprocess.run(
        [sys.executable, "-m", "cli", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_run_prints_funnel_and_economics(small: Path) -> None:
    result = runner.invoke(app, ["run", str(small), "-n", "3"])
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("Chance of profit: "), result.stdout
    for text in ("Funnel", "Economics", "CR1", "payback day", "guide", "course", "Cash needed"):
        assert text in result.stdout


def test_json_is_the_summary_and_nothing_else(small: Path) -> None:
    result = runner.invoke(app, ["run", str(small), "-n", "3", "--seed", "5", "--json"])
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert (data["scenario"], data["replications"], data["seed"]) == ("small test funnel", 3, 5)
    assert set(data["kpis"]) == set(KPIS)
    assert data["economics"].startswith("profit = revenue - refunds")
    for name, figure in data["kpis"].items():
        # "never": replications that never pay back, where there are any
        extra = {"never"} if name == "payback_day" else set()
        assert set(figure) - extra == {"mean", "lo", "hi"}
    for step in data["steps"].values():
        assert {"reached", "converted", "revenue"} <= set(step)
        assert set(step["reached"]) == {"mean", "lo", "hi"}


def test_out_writes_the_three_files(small: Path, tmp_path: Path) -> None:
    result = runner.invoke(app, ["run", str(small), "-n", "2", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "by_channel.csv",
        "by_segment.csv",
        "by_step.csv",
        "daily.csv",
        "manifest.json",
        "replications.csv",
        "scenario.yaml",
        "summary.json",
    ]
    assert (tmp_path / "scenario.yaml").read_text() == small.read_text()
    daily = (tmp_path / "daily.csv").read_text().splitlines()
    assert daily[0].startswith("replication,day,spend,visitors,leads,orders,revenue")
    assert len(daily) == 1 + 2 * 60  # two replications of a 60-day horizon


def test_events_need_an_output_folder(small: Path, tmp_path: Path) -> None:
    result = runner.invoke(app, ["run", str(small), "--events"])
    assert result.exit_code == 2
    assert "--out" in result.stderr
    result = runner.invoke(app, ["run", str(small), "-n", "1", "--events", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.stderr
    header = (tmp_path / "events.csv").read_text().splitlines()[0]
    assert header == "replication,visitor,uid,day,step,event,amount"


def test_set_changes_the_run(small: Path) -> None:
    def revenue(*extra: str) -> float:
        result = runner.invoke(app, ["run", str(small), "-n", "2", "--json", *extra])
        assert result.exit_code == 0, result.stderr
        return float(json.loads(result.stdout)["kpis"]["aov"]["mean"])

    assert revenue("--set", "funnel.course.price=20") == 20
    assert revenue("--set", "funnel.course.price=20", "--set", "costs.payment_fee=0") == 20


def test_bad_override_exits_2_with_its_location(small: Path) -> None:
    result = runner.invoke(app, ["run", str(small), "--set", "funnel.course.take=1.5"])
    assert result.exit_code == 2
    assert "--set funnel.course.take=1.5" in result.stderr
    assert "must be <= 1" in result.stderr


def test_validate_accepts_every_bundled_scenario() -> None:
    files = sorted(str(p) for p in (ROOT / "scenarios").glob("*.yaml"))
    result = runner.invoke(app, ["validate", *files])
    assert result.exit_code == 0, result.stderr
    assert result.stdout.count("ok ") == len(files)


def test_schema_is_json_schema_and_matches_the_shipped_copy() -> None:
    result = runner.invoke(app, ["schema"])
    assert result.exit_code == 0
    schema = json.loads(result.stdout)
    assert schema["title"] == "Scenario"
    assert "funnel" in schema["properties"]
    shipped = json.loads((ROOT / "docs" / "scenario.schema.json").read_text())
    assert shipped == schema, (
        "docs/scenario.schema.json is stale: run `sim schema > docs/scenario.schema.json`"
    )


@pytest.mark.parametrize(
    ("edit", "path"),
    [
        pytest.param(("take: 0.35", "tkae: 0.35"), "funnel.course.tkae", id="unknown-key"),
        pytest.param(("price: 49", "price: lots"), "funnel.course.price", id="wrong-type"),
        pytest.param(("rate: 0.30", "rate: 1.5"), "funnel.guide.rate", id="rate-1.5"),
        pytest.param(("{cold: 1.0}", "{cold: 0.9}"), "channels.ads.mix", id="mix-0.9"),
        pytest.param(
            ("after: guide\n    delay_days", "after: gide\n    delay_days"),
            "funnel.course.after",
            id="after-nothing",
        ),
        pytest.param(("horizon_days: 60", "horizon_days: [60"), "", id="broken-yaml"),
    ],
)
def test_bad_scenario_exits_2_without_traceback(
    small: Path, tmp_path: Path, edit: tuple[str, str], path: str
) -> None:
    text = small.read_text()
    assert edit[0] in text
    line = text[: text.index(edit[0])].count("\n") + 1
    where = f":{line}:" if path else ":"
    bad = tmp_path / "bad.yaml"
    bad.write_text(text.replace(edit[0], edit[1], 1))
    out_dir = tmp_path / "out"
    proc = sim_cli("run", str(bad), "--out", str(out_dir))
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    assert f"bad.yaml{where}" in proc.stderr
    assert path in proc.stderr
    assert not out_dir.exists(), "nothing is written for a bad scenario"


def test_installed_console_script_runs() -> None:
    exe = shutil.which("sim")
    assert exe is not None, "the `sim` console script is not installed: pip install -e ."
    proc = subprocess.run([exe, "--help"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0
    for command in ("run", "validate", "schema"):
        assert command in proc.stdout
