"""docs/tutorial.md: every command in it runs, and every pasted output is the current one."""

from __future__ import annotations

import sys
from typing import Any

from conftest import ROOT


def load_tutorial() -> Any:
    sys.path.insert(0, str(ROOT / "docs"))
    try:
        import tutorial  # type: ignore[import-not-found]
    finally:
        sys.path.pop(0)
    return tutorial


def test_lesson_1s_pasted_output_is_the_current_one() -> None:
    # The whole tutorial (every lesson's commands, about a minute) is checked by CI as a step
    # of its own, `python docs/tutorial.py --check`; here the same machinery on lesson 1.
    tutorial = load_tutorial()
    lesson = tutorial.TUTORIAL.read_text(encoding="utf-8").split("\n## ")[1]
    block = next(tutorial.BLOCK.finditer(lesson))
    assert tutorial.regenerate(block[0]) == block[0], "stale: run python docs/tutorial.py"


def test_the_tutorial_runs_a_command_in_every_lesson() -> None:
    tutorial = load_tutorial()
    text = tutorial.TUTORIAL.read_text(encoding="utf-8")
    lessons = text.split("\n## ")[1:]
    assert len(lessons) == 16
    for lesson in lessons:
        assert tutorial.commands(lesson), lesson.splitlines()[0]
        assert "*Try:*" in lesson, lesson.splitlines()[0]


def test_what_lesson_1_says_about_the_quickstart_is_written_from_the_file() -> None:
    """The emails and the offer lesson 1 names are the quickstart's own (a fact drifts no more)."""
    tutorial = load_tutorial()
    text = tutorial.TUTORIAL.read_text(encoding="utf-8")
    lesson = text.split("\n## ")[1]
    said = {(m["step"], m["what"]): m["text"] for m in tutorial.FACT.finditer(lesson)}
    assert {("nurture", "emails"), ("course", "via"), ("course", "delay")} <= set(said)
    assert tutorial.write_facts(text) == text, "stale facts: run python docs/tutorial.py"
    assert said[("nurture", "emails")] == "three emails"
    assert said[("course", "via")] == "on a page"
