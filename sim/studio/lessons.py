"""The tutorial's lessons as studio openings: each lesson's scenario and the numbers it changes.

Read from ``docs/tutorial.md`` itself, so a lesson added or edited there opens in the
studio without a second list to keep in step: a lesson is a ``## N. Title`` section; its
scenario is the first ``scenarios/*.yaml`` a command of the section names; its controls are
the paths its ``--set`` and ``--vs`` options change, and its replications the first ``-n``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TUTORIAL = ROOT / "docs" / "tutorial.md"

_SECTION = re.compile(r"^## (\d+)\. (.+)$", re.MULTILINE)
_COMMAND = re.compile(
    r"sim (?:run|compare|trace|optimize) [^`\n]*?(scenarios/[\w.-]+\.yaml)[^`\n]*"
)
_SETTING = re.compile(r"--(?:set|vs) ([\w.]+)=")
_REPLICATIONS = re.compile(r"(?:-n|--replications) (\d+)")
_VARIANT = re.compile(r"--variant (\w+)")


@dataclass(frozen=True)
class Lesson:
    """What the studio opens for one lesson."""

    number: int
    title: str
    scenario: Path
    controls: tuple[str, ...]  # dotted paths, in the order the lesson uses them
    replications: int | None
    variant: str | None
    commands: tuple[str, ...]


def lessons(text: str | None = None) -> dict[int, Lesson]:
    """Every lesson of the tutorial that runs a scenario, by number."""
    text = TUTORIAL.read_text(encoding="utf-8") if text is None else text
    marks = list(_SECTION.finditer(text))
    found = {}
    for i, mark in enumerate(marks):
        body = text[mark.end() : marks[i + 1].start() if i + 1 < len(marks) else len(text)]
        lesson = _lesson(int(mark[1]), mark[2].strip(), body)
        if lesson is not None:
            found[lesson.number] = lesson
    return found


def _lesson(number: int, title: str, body: str) -> Lesson | None:
    commands = list(dict.fromkeys(m[0].strip() for m in _COMMAND.finditer(body)))
    if not commands:
        return None
    scenario = _COMMAND.search(body)[1]  # type: ignore[index]  # commands is not empty
    paths = dict.fromkeys(_SETTING.findall(body))
    runs = _REPLICATIONS.findall(" ".join(commands))
    variant = _VARIANT.search(body)
    return Lesson(
        number=number,
        title=title,
        scenario=ROOT / scenario,
        controls=tuple(paths),
        replications=int(runs[0]) if runs else None,
        variant=variant[1] if variant else None,
        commands=tuple(commands),
    )


def lesson(number: int) -> Lesson:
    """One lesson.

    Raises:
        FileNotFoundError: the tutorial is not there (the studio runs from a source tree).
        KeyError: no lesson of that number runs a scenario; the message lists those that do.
    """
    if not TUTORIAL.is_file():
        raise FileNotFoundError(f"no tutorial at {TUTORIAL}: lessons open from a source checkout")
    found = lessons()
    if number not in found:
        raise KeyError(f"no lesson {number}; the lessons are {', '.join(map(str, found))}")
    return found[number]
