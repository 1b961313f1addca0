"""docs/tutorial.md: every command in it runs, and every pasted output is the current one."""

from __future__ import annotations

import subprocess
import sys

import pytest

from conftest import ROOT


@pytest.mark.slow
def test_the_tutorial_outputs_are_current() -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "docs" / "tutorial.py"), "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "is current" in proc.stderr


def test_the_tutorial_runs_a_command_in_every_lesson() -> None:
    sys.path.insert(0, str(ROOT / "docs"))
    try:
        import tutorial  # type: ignore[import-not-found]
    finally:
        sys.path.pop(0)
    text = tutorial.TUTORIAL.read_text(encoding="utf-8")
    lessons = text.split("\n## ")[1:]
    assert len(lessons) == 16
    for lesson in lessons:
        assert tutorial.commands(lesson), lesson.splitlines()[0]
        assert "*Try:*" in lesson, lesson.splitlines()[0]


def test_what_lesson_1_says_about_the_quickstart_is_written_from_the_file() -> None:
    """The emails and the offer lesson 1 names are the quickstart's own (a fact drifts no more)."""
    sys.path.insert(0, str(ROOT / "docs"))
    try:
        import tutorial  # type: ignore[import-not-found]
    finally:
        sys.path.pop(0)
    text = tutorial.TUTORIAL.read_text(encoding="utf-8")
    lesson = text.split("\n## ")[1]
    said = {(m["step"], m["what"]): m["text"] for m in tutorial.FACT.finditer(lesson)}
    assert {("nurture", "emails"), ("course", "via"), ("course", "delay")} <= set(said)
    assert tutorial.write_facts(text) == text, "stale facts: run python docs/tutorial.py"
    assert said[("nurture", "emails")] == "three emails"
    assert said[("course", "via")] == "on a page"
