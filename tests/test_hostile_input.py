"""Hostile scenario files and overrides: each refused at once, located, with exit 2.

The corpus is a table: a stable scenario (tests/data/small.yaml) with one edit, or an
override, or a file of tests/data/hostile/. Every case must be refused by both
``sim validate`` and ``sim run`` with exit 2, the file with line and column (or the
``--set`` that caused it), the key's path, and no traceback. A few run as real processes,
to check they end within 5 s and 1 GiB.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from cli import app
from conftest import ROOT

runner = CliRunner()
SMALL = (ROOT / "tests" / "data" / "small.yaml").read_text(encoding="utf-8")
HOSTILE = ROOT / "tests" / "data" / "hostile"


@dataclass(frozen=True)
class Case:
    """One hostile input and where its refusal must point."""

    id: str
    text: str  # the file's text
    path: str | None  # the key path the message names (None: the whole document)
    overrides: tuple[str, ...] = ()
    line_of: str | None = None  # the file's line holding this text is the one named


def edit(old: str, new: str) -> str:
    assert SMALL.count(old) == 1, old
    return SMALL.replace(old, new)


def with_step(step: str) -> str:
    """SMALL with one more funnel step (YAML of a list item, indented as the funnel's)."""
    return edit("\ncosts:", step.rstrip() + "\n\ncosts:")


def with_top(extra: str) -> str:
    return SMALL + extra


# --- a wrong value in each kind of number: string, boolean, infinity, NaN, huge, negative --

NUMBERS = {  # a line of SMALL -> the key path it holds
    "horizon_days: 60": "horizon_days",
    "replications: 20": "replications",
    "price_dispersion: 0.6": "segments.cold.price_dispersion",
    "trust: 0.4": "segments.cold.trust",
    "daily_budget: 100": "channels.ads.daily_budget",
    "cpc: 1.0": "channels.ads.cpc",
    "rate: 0.30": "funnel.guide.rate",
    "cost_per_email: 0.001": "funnel.nurture.cost_per_email",
    "delay_days: 3": "funnel.course.delay_days",
    "price: 49": "funnel.course.price",
    "value: 60": "funnel.course.value",
    "take: 0.35": "funnel.course.take",
    "payment_fee: 0.03": "costs.payment_fee",
}
BAD_NUMBERS = {
    "quoted": '"7"',
    "boolean": "true",
    "infinity": ".inf",
    "nan": ".nan",
    "huge": "1e308",
    "negative": "-1",
}

CASES = [
    Case(
        f"{path}-{kind}",
        edit(line, f"{line.split(':')[0]}: {bad}"),
        path,
        line_of=f"{line.split(':')[0]}: {bad}",
    )
    for line, path in NUMBERS.items()
    for kind, bad in BAD_NUMBERS.items()
]

SALES_CALL = """
  - id: call
    type: sales_call
    after: guide
    price: 2000
    team: [{name: anna, calls_per_day: CALLS, close_rate: 0.2}]
"""
FRIENDS = """
  friends:
    type: referral
"""
OFFERS = "".join(
    f"  - {{id: o{i}, type: offer, after: guide, price: 5, value: 6, take: 0.1}}\n"
    for i in range(64)
)

CASES += [
    # YAML that hangs, crashes or eats memory
    Case(
        "nested-brackets",
        edit("horizon_days: 60", "horizon_days: " + "[" * 5000),
        "horizon_days.0.0.0.0.0.…",
    ),
    Case(
        "nested-maps",
        edit("horizon_days: 60", "horizon_days: " + "{a: " * 200 + "1" + "}" * 200),
        "horizon_days.a.a.a.a.a.…",
    ),
    Case(
        "alias-square",
        with_top(
            "big: &big ["
            + ", ".join(["1"] * 150)
            + "]\nbigger: ["
            + ", ".join(["*big"] * 150)
            + "]\n"
        ),
        "bigger.130",
    ),
    Case("nul-byte", edit("seed: 42", "seed: 4\x002"), None, line_of="seed: 4"),
    Case("bell-character", edit("name: small", "name: sm\x07all"), None, line_of="name: sm"),
    Case("empty-file", "", None),
    Case("a-list", "- 1\n- 2\n", None),
    Case("a-number", "42\n", None),
    Case("two-documents", SMALL + "---\nname: other\n", None),
    Case("tab-indent", edit("    type: paid", "\ttype: paid"), None),
    Case("unclosed-flow", edit("mix: {cold: 1.0}", "mix: {cold: 1.0"), None),
    Case("duplicate-key", edit("seed: 42", "seed: 42\nseed: 43"), None, line_of="seed: 43"),
    Case("python-tag", edit("seed: 42", "seed: !!python/object/apply:os.system ['true']"), "seed"),
    # text that the terminal could read as markup
    Case("markup-key", edit("seed: 42", 'seed: 42\n"[/oops]": 1'), "[/oops]", line_of='"[/oops]"'),
    Case("markup-type", edit("type: paid", "type: '[bold]paid'"), "channels.ads.type"),
    # overrides
    Case("set-missing-section", SMALL, "channel", ("channel.ads.daily_budget=500",)),
    Case("set-search-reversed", SMALL, "search.x", ("search.x={low: 5, high: 1}",)),
    Case("set-mix-unbalanced", SMALL, "channels.ads.mix", ("channels.ads.mix.cold=0.5",)),
    Case("set-no-such-step", SMALL, "funnel.nope.price", ("funnel.nope.price=1",)),
    Case("set-index-out-of-range", SMALL, "funnel.7.price", ("funnel.7.price=1",)),
    Case("set-into-a-value", SMALL, "funnel.course.price.low", ("funnel.course.price.low=1",)),
    Case("set-not-a-number", SMALL, "funnel.course.price", ("funnel.course.price=abc",)),
    Case("set-quoted-number", SMALL, "funnel.course.price", ("funnel.course.price='49'",)),
    Case("set-infinity", SMALL, "funnel.course.price", ("funnel.course.price=.inf",)),
    Case("set-replications", SMALL, "replications", ("replications=1000000000",)),
    Case("set-no-equals", SMALL, None, ("funnel.course.price",)),
    Case("set-empty-part", SMALL, None, ("funnel..price=1",)),
    Case("set-markup", SMALL, "[/oops]", ("[/oops]=1",)),
    # values accepted before, then failing or running wild
    Case(
        "replications-billion",
        edit("replications: 20", "replications: 1000000000"),
        "replications",
        line_of="replications:",
    ),
    Case("horizon-too-long", edit("horizon_days: 60", "horizon_days: 3651"), "horizon_days"),
    Case(
        "acquisition-after-horizon",
        edit("acquisition_days: 30", "acquisition_days: 61"),
        "acquisition_days",
    ),
    Case("seed-negative", edit("seed: 42", "seed: -1"), "seed"),
    Case("seed-quoted", edit("seed: 42", 'seed: "7"'), "seed"),
    Case("seed-float", edit("seed: 42", "seed: 4.5"), "seed"),
    Case("mix-nan", edit("mix: {cold: 1.0}", "mix: {cold: .nan}"), "channels.ads.mix.cold"),
    Case(
        "warmth-two",
        edit("mix: {cold: 1.0}", "mix: {cold: 1.0}\n    warmth: 2"),
        "channels.ads.warmth",
    ),
    Case(
        "budget-traffic",
        edit("cpc: 1.0", "cpc: 0.000001")
        .replace("daily_budget: 100", "daily_budget: 100000000")
        .replace("    half_saturation_budget: 400\n", ""),
        "channels.ads",
    ),
    Case(
        "organic-flood",
        edit(
            "    type: paid\n    daily_budget: 100       # per day\n    cpc: 1.0                # cost per click at low spend\n    half_saturation_budget: 400",
            "    type: organic\n    visitors_per_day: 1e7",
        ),
        "channels.ads.visitors_per_day",
    ),
    Case("offers-64", edit("\ncosts:", OFFERS + "\ncosts:"), "funnel.o62.id"),
    Case(
        "calls-per-day-1e10",
        with_step(SALES_CALL.replace("CALLS", "1e10")),
        "funnel.call.team.0.calls_per_day",
    ),
    Case(
        "calls-per-day-text",
        with_step(SALES_CALL.replace("CALLS", "many")),
        "funnel.call.team.0.calls_per_day",
    ),
    Case(
        "team-size",
        with_step(
            SALES_CALL.replace(
                "[{name: anna, calls_per_day: CALLS, close_rate: 0.2}]",
                "{size: 501, calls_per_day: 10, close_rate: 0.2}",
            )
        ),
        "funnel.call.team.size",
    ),
    Case(
        "referral-100",
        edit("    mix: {cold: 1.0}\n", "    mix: {cold: 1.0}\n" + FRIENDS)
        + "referral: {rate: 100, channel: friends}\n",
        "referral.rate",
    ),
    Case(
        "referral-1e7",
        edit("    mix: {cold: 1.0}\n", "    mix: {cold: 1.0}\n" + FRIENDS)
        + "referral: {rate: 1e7, channel: friends}\n",
        "referral.rate",
    ),
    Case(
        "referral-chain",
        # everyone opts in and buys: each visitor brings 5 who bring 5, daily for ten years
        edit("    mix: {cold: 1.0}\n", "    mix: {cold: 1.0}\n" + FRIENDS)
        .replace("horizon_days: 60", "horizon_days: 3650")
        .replace("rate: 0.30", "rate: 1.0")
        .replace("take: 0.35", "take: 1.0")
        + "referral: {rate: 5, delay_days: 1, channel: friends}\n",
        "channels.ads",
    ),
    Case(
        "repeat-heavy-tail",
        edit(
            "    refund: {rate: 0.05, within_days: 14}",
            "    refund: {rate: 0.05, within_days: 14}\n    repeat: {r: 0.01, alpha: 0.01, a: 1, b: 1}",
        ),
        "funnel.course.repeat.r",
    ),
    Case(
        "repeat-too-often",
        edit(
            "    refund: {rate: 0.05, within_days: 14}",
            "    refund: {rate: 0.05, within_days: 14}\n    repeat: {r: 5, alpha: 1, a: 1, b: 1}",
        ),
        "funnel.course.repeat.alpha",
    ),
    Case(
        "refund-window-huge",
        edit("within_days: 14", "within_days: 1e9"),
        "funnel.course.refund.within_days",
    ),
    Case(
        "search-high-inf",
        with_top("search:\n  funnel.course.price: {low: 10, high: .inf}\n"),
        "search.funnel.course.price.high",
    ),
    Case(
        "search-step-huge",
        with_top("search:\n  funnel.course.price: {low: 10, high: 90, step: 1e308}\n"),
        "search.funnel.course.price.step",
    ),
    Case(
        "search-reversed",
        with_top("search:\n  funnel.course.price: {low: 90, high: 10}\n"),
        "search.funnel.course.price",
    ),
    Case(
        "search-choice-nan",
        with_top("search:\n  funnel.course.price: [10, .nan]\n"),
        "search.funnel.course.price",
    ),
    Case(
        "variant-removes-missing",
        with_top("variants:\n  lean:\n    remove: [nope]\n"),
        "variants.lean",
    ),
    Case("unknown-step-type", edit("type: email_sequence", "type: webinar"), "funnel.nurture.type"),
    Case(
        "bound-infinite",
        with_top("objective:\n  constraints:\n    profit: {min: .inf}\n"),
        "objective.constraints.profit.min",
    ),
]


def located(output: str, case: Case, file: Path) -> None:
    """The output names the file with line and column (or the override) and the key path."""
    assert "Traceback" not in output, output
    assert "error:" in output, output
    if case.overrides:
        assert "--set " in output, output
    else:
        found = re.search(re.escape(str(file)) + r":(\d+):(\d+)", output)
        assert found, output
        if case.line_of is not None:
            lines = case.text.splitlines()
            want = next(i for i, line in enumerate(lines, 1) if case.line_of in line)
            assert int(found.group(1)) == want, output
    if case.path is not None:
        assert f" {case.path}:" in output, output


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
@pytest.mark.parametrize("command", ["validate", "run"])
def test_hostile_input_is_refused_and_located(case: Case, command: str, tmp_path: Path) -> None:
    file = tmp_path / "hostile.yaml"
    file.write_text(case.text, encoding="utf-8")
    args = [command, str(file)] + [a for o in case.overrides for a in ("--set", o)]
    started = time.perf_counter()
    result = runner.invoke(app, args)
    took = time.perf_counter() - started
    assert result.exit_code == 2, result.output
    located(result.output, case, file)
    assert took < 5, f"{case.id}: refused after {took:.1f} s"


def test_the_corpus_is_as_large_as_the_findings() -> None:
    assert len(CASES) >= 97, len(CASES)


def test_a_billion_laughs_file_is_refused_at_the_alias_that_crosses_the_limit() -> None:
    file = HOSTILE / "billion_laughs.yaml"
    result = runner.invoke(app, ["validate", str(file)])
    assert result.exit_code == 2, result.output
    assert re.search(r"billion_laughs\.yaml:\d+:\d+: lol\d\.\d+: more than 20,000", result.output)


def test_a_file_with_undecodable_bytes_is_located(tmp_path: Path) -> None:
    file = tmp_path / "latin.yaml"
    file.write_bytes(SMALL.replace("small test", "sm\xe4ll").encode("latin-1"))
    result = runner.invoke(app, ["validate", str(file)])
    assert result.exit_code == 2, result.output
    assert f"{file}:2:9: the file is not UTF-8 text" in result.output


def test_a_name_with_brackets_prints_as_written(tmp_path: Path) -> None:
    file = tmp_path / "named.yaml"
    file.write_text(edit("name: small test funnel", 'name: "[bold]x[/bold] [red]y"'))
    result = runner.invoke(app, ["validate", str(file)])
    assert result.exit_code == 0, result.output
    assert "[bold]x[/bold] [red]y" in result.output
    result = runner.invoke(app, ["run", str(file), "-n", "2"])
    assert result.exit_code == 0, result.output
    assert "Funnel — [bold]x[/bold] [red]y" in result.output


def test_validate_reports_every_file_and_exits_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(edit("price: 49", 'price: "49"'))
    good = ROOT / "tests" / "data" / "small.yaml"
    result = runner.invoke(app, ["validate", str(bad), str(good)])
    assert result.exit_code == 2, result.output
    assert "write the number without quotes" in result.output
    assert f"ok {good}" in result.output


def test_a_run_that_would_not_fit_the_memory_budget_is_refused_before_it_starts() -> None:
    # 20 replications of 1,000,000 visitors each fit alone; with their event logs they do not
    result = runner.invoke(
        app,
        [
            "run",
            str(ROOT / "tests" / "data" / "small.yaml"),
            "--set",
            "channels.ads.cpc=0.003",
            "--set",
            "channels.ads.half_saturation_budget=1e9",
            "--events",
            "--out",
            "unused",
        ],
    )
    assert result.exit_code == 2, result.output
    assert "the budget is 4 GiB" in result.output
    assert "fewer replications with --events" in result.output
    assert not Path("unused").exists()


# --- as real processes: time and memory -----------------------------------------------------

LIMIT_S, LIMIT_BYTES = 5.0, 1024**3


# The child caps its own memory before it runs `sim`, so that a regression fails rather than
# swaps, and reports its own peak (VmHWM, of its own address space) as it exits: the kernel's
# ru_maxrss of a child also counts the pages of the test process it was forked from.
_CAPPED = (
    "import atexit, resource, runpy, sys; "
    f"resource.setrlimit(resource.RLIMIT_AS, ({4 * LIMIT_BYTES}, {4 * LIMIT_BYTES})); "
    "atexit.register(lambda: sys.stderr.write(next("
    "'\\nPEAK_KIB ' + line.split()[1] for line in open('/proc/self/status') "
    "if line.startswith('VmHWM:')))); "
    "sys.argv = ['sim', *sys.argv[1:]]; runpy.run_module('cli', run_name='__main__')"
)


@pytest.mark.parametrize(
    "name",
    ["billion_laughs", "fifty_megabytes", "nested-brackets", "repeat-heavy-tail", "budget-traffic"],
)
def test_refusals_take_little_time_and_memory(name: str, tmp_path: Path) -> None:
    if name == "billion_laughs":
        file = HOSTILE / "billion_laughs.yaml"
    else:
        file = tmp_path / f"{name}.yaml"
        if name == "fifty_megabytes":
            file.write_text("# " + "x" * 50_000_000 + "\n" + SMALL)
        else:
            file.write_text(next(c for c in CASES if c.id == name).text)
    err = tmp_path / "stderr.txt"
    with err.open("w") as sink:
        child = subprocess.Popen(
            [sys.executable, "-c", _CAPPED, "run", str(file)],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=sink,
        )
        # this child's own CPU time: RUSAGE_CHILDREN would add every child reaped meanwhile
        _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    # CPU time, not wall time: other processes on the machine do not count against it
    took = usage.ru_utime + usage.ru_stime
    stderr, _, peak_kib = err.read_text().rpartition("\nPEAK_KIB ")
    peak = int(peak_kib) * 1024
    done = subprocess.CompletedProcess(child.args, child.returncode, "", stderr)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert took < LIMIT_S, f"{name}: {took:.1f} s of CPU"
    assert peak < LIMIT_BYTES, f"{name}: {peak / 2**20:.0f} MiB"


def test_a_population_that_outgrows_the_budget_is_stopped_with_advice() -> None:
    from sim.errors import ScenarioError
    from sim.population import Population

    people = Population(capacity=16, cap=20)
    people.add(segment=np.zeros(15, dtype=np.int16))
    with pytest.raises(ScenarioError, match="grew past 20 visitors") as caught:
        people.add(segment=np.zeros(6, dtype=np.int16))
    assert "referral rates" in str(caught.value)
    assert people.size == 15  # nothing half added
