"""What a new user meets first: help, versions, and errors that say what to do."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli import app

QUICKSTART = "scenarios/quickstart.yaml"


def _sim(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output + (result.stderr if result.stderr_bytes else "")


def _flat(text: str) -> str:
    """Help text without its box drawing and line wraps."""
    return " ".join(re.sub(r"[│╭╮╰╯─]", " ", text).split())


def test_version() -> None:
    code, text = _sim("--version")
    assert code == 0, text
    assert text.startswith("funnelsim "), text


def test_flags_show_no_type() -> None:
    code, text = _sim("run", "--help")
    assert code == 0
    assert "<bool>" not in text, text


def test_run_help_names_every_file_a_run_writes(tmp_path: Path) -> None:
    out = tmp_path / "run"
    code, text = _sim("run", QUICKSTART, "-n", "2", "--out", str(out), "--events", "--report")
    assert code == 0, text
    written = sorted(p.name for p in out.iterdir())
    assert "visitors.csv" in written
    assert "manifest.json" in written
    help_text = _flat(_sim("run", "--help")[1])
    missing = [name for name in written if name not in help_text]
    assert not missing, f"sim run --help does not name {missing}"


def test_jobs_rule_is_in_the_help() -> None:
    assert "When --jobs helps" in _flat(_sim("run", "--help")[1])


@pytest.mark.parametrize(
    ("override", "hint"),
    [
        ("funnel.guide.rate=30", "write a share as a fraction: 0.3 for 30%"),
        ("funnel.course.take=35%", "write a share as a fraction: 0.35, not 35%"),
    ],
)
def test_share_written_as_percent_gets_a_hint(override: str, hint: str) -> None:
    code, text = _sim("validate", QUICKSTART, "--set", override)
    assert code == 2, text
    assert hint in _flat(text), text


def test_vs_typo_is_reported_as_vs() -> None:
    code, text = _sim("compare", QUICKSTART, "--vs", "funnel.coarse.price=55", "-n", "2")
    assert code == 2
    assert "--vs funnel.coarse.price=55" in text, text
    assert "--set" not in text, text


def test_unknown_variant_in_a_file_without_variants() -> None:
    code, text = _sim("compare", QUICKSTART, "--variant", "cheap", "-n", "2")
    assert code == 2
    assert "the file has no variants" in _flat(text), text
    assert "choose base" not in text, text


def test_where_bought_suggests_only_steps_that_can_be_bought() -> None:
    code, text = _sim("trace", QUICKSTART, "--where", "bought=guide")
    assert code == 2
    assert "choose course" in _flat(text), text
    assert "nurture" not in text, text


def test_set_suggests_ids_that_hold_the_name(tmp_path: Path) -> None:
    scenario = tmp_path / "s.yaml"
    scenario.write_text(Path(QUICKSTART).read_text().replace("id: course", "id: core_course"))
    code, text = _sim("validate", str(scenario), "--set", "funnel.core.price=60")
    assert code == 2, text
    assert "did you mean 'core_course'?" in text, text


def test_not_in_requires_is_reported_as_a_condition() -> None:
    code, text = _sim("validate", QUICKSTART, "--set", "funnel.course.requires=[not guide]")
    assert code == 2
    flat = _flat(text)
    assert "is a condition, not a step id" in flat, text
    assert "names may hold" not in flat, text


def test_names_and_references_are_reported_in_one_pass(tmp_path: Path) -> None:
    text = Path(QUICKSTART).read_text()
    text = text.replace("rate: 0.30", "rat: 0.30").replace(
        "after: guide\n    days", "after: gide\n    days"
    )
    scenario = tmp_path / "s.yaml"
    scenario.write_text(text)
    code, out = _sim("validate", str(scenario))
    assert code == 2
    assert "unknown key 'rat'" in out, out
    assert "no step has id 'gide'" in out, out


def test_compare_label_names_the_designs() -> None:
    code, text = _sim(
        "compare", QUICKSTART, "--vs", "funnel.course.price=55",
        "--label", "today", "--label", "dearer", "-n", "2",
    )  # fmt: skip
    assert code == 0, text
    assert "B = dearer  vs  A = today" in text, text
