"""`sim new`: every template is a valid, runnable scenario, written without clobbering."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

import sim
from cli import app
from sim.templates import TEMPLATES, available, template_text

runner = CliRunner()


@pytest.mark.parametrize("name", available())
def test_each_template_validates_and_runs(name: str) -> None:
    scenario = sim.parse_scenario(template_text(name), source=f"{name}.yaml")
    result = sim.run_scenario(scenario, replications=2)
    assert result.summary.kpis["visitors"]["mean"] > 0
    assert result.summary.kpis["buyers"]["mean"] > 0, "a starter should sell something"


def test_templates_are_all_shipped() -> None:
    assert available() == list(TEMPLATES)


def test_new_writes_a_template_and_will_not_overwrite(tmp_path: Path) -> None:
    target = tmp_path / "mine.yaml"
    first = runner.invoke(app, ["new", str(target), "--template", "webinar"])
    assert first.exit_code == 0, first.output
    header, _, body = target.read_text(encoding="utf-8").partition("\n")
    assert body == template_text("webinar")
    assert header.startswith("# yaml-language-server: $schema=")
    target.write_text("edited", encoding="utf-8")
    again = runner.invoke(app, ["new", str(target)])
    assert again.exit_code == 2
    assert "exists" in again.output
    assert target.read_text(encoding="utf-8") == "edited"
    forced = runner.invoke(app, ["new", str(target), "--force"])
    assert forced.exit_code == 0
    assert target.read_text(encoding="utf-8").partition("\n")[2] == template_text("tripwire")


def test_new_refuses_an_unknown_template(tmp_path: Path) -> None:
    result = runner.invoke(app, ["new", str(tmp_path / "x.yaml"), "--template", "nope"])
    assert result.exit_code == 2
    assert "no template 'nope'" in result.output
    assert not (tmp_path / "x.yaml").exists()


def test_new_files_point_editors_at_the_schema(tmp_path: Path) -> None:
    """Like the bundled scenarios: the first line names the schema, which exists and is current."""
    import json

    from sim.keys import scenario_schema

    target = tmp_path / "mine.yaml"
    assert runner.invoke(app, ["new", str(target)]).exit_code == 0
    first = target.read_text(encoding="utf-8").splitlines()[0]
    assert first == "# yaml-language-server: $schema=scenario.schema.json"
    written = json.loads((tmp_path / "scenario.schema.json").read_text(encoding="utf-8"))
    assert written == scenario_schema()
    bundled = Path("scenarios/quickstart.yaml").read_text(encoding="utf-8").splitlines()[0]
    assert bundled.startswith("# yaml-language-server: $schema=")
