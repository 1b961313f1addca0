"""A pilot's data: what a small real test of a funnel observed, day by day (docs/calibration.md).

One CSV file, one row per day and step (``day, step, reached, converted, revenue``) and,
optionally, one row per day and channel (``day, channel, spend, visitors``). Every column but
``day`` may be missing and every cell but ``day`` and its step or channel may be empty: a
pilot observes what its tools export. A bad file is refused with file, row and column.

Examples:
    >>> from sim import load_scenario
    >>> s = load_scenario("scenarios/quickstart.yaml")
    >>> pilot = read_pilot("scenarios/pilot_quickstart.csv", s)
    >>> sorted(pilot.steps)
    ['course', 'guide', 'nurture']
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from sim.errors import Problem, ScenarioError
from sim.runner import RunResult
from sim.scenario import Scenario

COLUMNS = ("day", "step", "reached", "converted", "revenue", "channel", "spend", "visitors")
_COUNTS = ("reached", "converted", "visitors")
_AMOUNTS = ("revenue", "spend")
_CONVERTING_EVENTS = ("optin", "buy")  # the events that make a reached visitor converted


@dataclass(frozen=True)
class Observed:
    """One step's totals over the pilot's days, where both counts were given."""

    reached: int
    converted: int


@dataclass(frozen=True)
class Pilot:
    """A pilot's data, summed over its days.

    Attributes:
        steps: step id → its reached and converted totals (rows with both counts only).
        visitors: channel id → visitors over the pilot (rows that give them only).
        days: how many distinct days the file covers.
        converted_by_day: step id → day → converted that day (every row giving
            ``converted``, with or without ``reached``): a step's daily conversions, which
            are the next step's arrivals, and the purchases of an offer whose reach the
            pilot's tools did not export.
        last_day: the last day of the file (−1: none).
    """

    steps: dict[str, Observed] = field(default_factory=dict)
    visitors: dict[str, int] = field(default_factory=dict)
    days: int = 0
    converted_by_day: dict[str, dict[int, int]] = field(default_factory=dict)
    last_day: int = -1


def read_pilot(path: str | Path, scenario: Scenario) -> Pilot:
    """Read and check a pilot CSV against the scenario's steps and channels.

    Raises:
        ScenarioError: every problem of the file, each at its row (as line) and column.
    """
    name = str(path)
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            rows = list(csv.reader(handle))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise ScenarioError([Problem("", f"cannot read the pilot file: {exc}", name)]) from None
    if not rows:
        raise ScenarioError([Problem("", "the pilot file is empty", name, 1)])
    header = [h.strip() for h in rows[0]]
    problems = _check_header(header, name)
    if problems:
        raise ScenarioError(problems)
    steps = {s.id for s in scenario.funnel}
    channels = set(scenario.channels)
    reached: dict[str, int] = {}
    converted: dict[str, int] = {}
    visitors: dict[str, int] = {}
    by_day: dict[str, dict[int, int]] = {}
    days: set[int] = set()
    for line, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        cells = dict(zip(header, (c.strip() for c in row), strict=False))
        found, values = _parse_row(cells, header, name, line, steps, channels)
        problems += found
        if found:
            continue
        day = int(values["day"])
        days.add(day)
        step, channel = cells.get("step", ""), cells.get("channel", "")
        if step and "converted" in values:
            daily = by_day.setdefault(step, {})
            daily[day] = daily.get(day, 0) + int(values["converted"])
        if step and "reached" in values and "converted" in values:
            reached[step] = reached.get(step, 0) + int(values["reached"])
            converted[step] = converted.get(step, 0) + int(values["converted"])
        if channel and "visitors" in values:
            visitors[channel] = visitors.get(channel, 0) + int(values["visitors"])
    if problems:
        raise ScenarioError(problems)
    observed = {s: Observed(reached[s], converted[s]) for s in reached}
    return Pilot(observed, visitors, len(days), by_day, max(days, default=-1))


def _check_header(header: Sequence[str], name: str) -> list[Problem]:
    problems = []
    for col, title in enumerate(header, start=1):
        if title not in COLUMNS:
            problems.append(
                Problem(title, "unknown column", name, 1, col, "columns: " + ", ".join(COLUMNS))
            )
    if "day" not in header:
        problems.append(Problem("day", "the column `day` is missing", name, 1))
    if "step" not in header and "channel" not in header:
        problems.append(Problem("step", "needs a `step` or a `channel` column", name, 1))
    return problems


def _parse_row(
    cells: dict[str, str],
    header: Sequence[str],
    name: str,
    line: int,
    steps: set[str],
    channels: set[str],
) -> tuple[list[Problem], dict[str, float]]:
    problems: list[Problem] = []
    values: dict[str, float] = {}

    def refuse(column: str, message: str, hint: str = "") -> None:
        problems.append(Problem(column, message, name, line, header.index(column) + 1, hint))

    for column in ("day", *_COUNTS, *_AMOUNTS):
        text = cells.get(column, "")
        if not text:
            if column == "day" and column in header:
                refuse(column, "a row needs its day")
            continue
        number = _number(text)
        whole = column in ("day", *_COUNTS)
        if number is None or (whole and not number.is_integer()):
            kind = "a whole number" if whole else "a number"
            refuse(column, f"{text!r} is not {kind}")
        elif number < 0:
            refuse(column, f"{text} is negative")
        else:
            values[column] = number
    step, channel = cells.get("step", ""), cells.get("channel", "")
    if step and step not in steps:
        refuse("step", f"unknown step '{step}'", "steps: " + ", ".join(sorted(steps)))
    if channel and channel not in channels:
        refuse(
            "channel", f"unknown channel '{channel}'", "channels: " + ", ".join(sorted(channels))
        )
    if not step and not channel:
        refuse("step" if "step" in header else "channel", "a row names a step or a channel")
    if values.get("converted", 0) > values.get("reached", math.inf):
        refuse("converted", "converted is more than reached")
    return problems, values


def _number(text: str) -> float | None:
    try:
        number = float(text)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def pilot_from_run(result: RunResult, replication: int) -> pd.DataFrame:
    """One replication of a run with its event log, as a pilot's rows (day, step, counts).

    A visitor is reached by a step on the day of its first event at that step and converted
    by an opt-in or a purchase there, counted on the day it was reached (a lead called days
    after it queued counts with that day's leads), so no day converts more than it reached
    (docs/calibration.md). Rows of days with no one reached are left out.

    Raises:
        ValueError: the run kept no event log (run it with ``events=True``).
    """
    if result.events is None:
        raise ValueError("the run kept no event log: run it with events=True")
    return pilot_rows(result.events[result.events["replication"] == replication])


def pilot_rows(events: pd.DataFrame) -> pd.DataFrame:
    """One replication's event log as a pilot's rows (see :func:`pilot_from_run`)."""
    events = events[events["event"] != "arrive"]
    first = events.drop_duplicates(["visitor", "step"])
    reached = first.groupby(["day", "step"], observed=True).size().rename("reached")
    won = events[events["event"].isin(_CONVERTING_EVENTS)].drop(columns="day")
    won = won.merge(first[["visitor", "step", "day"]], on=["visitor", "step"])  # day reached
    converted = won.groupby(["day", "step"], observed=True).size().rename("converted")
    revenue = won.groupby(["day", "step"], observed=True)["amount"].sum().rename("revenue")
    table = pd.concat([reached, converted, revenue], axis=1).fillna(0).reset_index()
    table = table[table["reached"] > 0]
    table["step"] = table["step"].astype(str)
    for column in ("reached", "converted"):
        table[column] = table[column].astype(int)
    return table.sort_values(["day", "step"], ignore_index=True)


def pilot_totals(events: pd.DataFrame) -> dict[str, Observed]:
    """One replication's event log as a pilot's totals per step: :func:`pilot_rows` summed.

    The same counts as summing the rows over days (a visitor is reached once per step), at a
    fraction of the cost: what a fit by simulation reads from each simulated pilot.
    """
    events = events[events["event"] != "arrive"]
    steps = events["step"].cat.codes.to_numpy().astype(np.int64)
    names = list(events["step"].cat.categories)
    visitor = events["visitor"].to_numpy().astype(np.int64)
    pairs = np.unique(visitor * (len(names) + 1) + steps)
    reached = np.bincount(pairs % (len(names) + 1), minlength=len(names))
    won = events["event"].isin(_CONVERTING_EVENTS).to_numpy()
    converted = np.bincount(steps[won], minlength=len(names))
    return {
        str(name): Observed(int(reached[i]), int(converted[i]))
        for i, name in enumerate(names)
        if reached[i] > 0
    }
