"""`sim optimize`: the search section, the closed-form price, resuming, workers, best.yaml."""

from __future__ import annotations

import json
import math
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import optuna
import pytest
import sqlalchemy
from scipy.optimize import brentq
from scipy.stats import norm

import sim
from conftest import ROOT
from optimize import StudyConfig, optimize_scenario, report
from sim.errors import ScenarioError

SIGMA, VALUE = 0.5, 100.0


def price_spec(**extra: Any) -> dict[str, Any]:
    """One segment that always trusts; one offer whose revenue-maximizing price is known."""
    spec: dict[str, Any] = {
        "name": "price",
        "horizon_days": 5,
        "acquisition_days": 1,
        "seed": 3,
        "replications": 4,
        "segments": {"s": {"price_dispersion": SIGMA, "trust": 1.0}},
        "channels": {"web": {"type": "organic", "visitors_per_day": 20000, "mix": {"s": 1}}},
        "funnel": [
            {"id": "m", "type": "optin", "rate": 1.0},
            {"id": "o", "type": "offer", "after": "m", "price": 50, "value": VALUE, "take": 1.0},
        ],
        "search": {"funnel.o.price": {"low": 20, "high": 300, "log": True}},
        "objective": {"maximize": "revenue"},
    }
    spec.update(extra)
    return spec


def revenue_maximizing_price() -> float:
    """argmax p·S(p), S(p) = 1 − Φ(ln(p/v)/σ): solves 1 − Φ(z) = φ(z)/σ, p = v·e^(σz)."""
    z = brentq(lambda z: norm.sf(z) - norm.pdf(z) / SIGMA, -5, 5)
    return VALUE * math.exp(SIGMA * z)


def test_optimizer_finds_the_closed_form_price() -> None:
    config = StudyConfig(
        json.dumps(price_spec()), "price", storage="memory", trials=40, prune=False
    )
    result = optimize_scenario(config, top_k=3)
    found, best = result.best.params["funnel.o.price"], revenue_maximizing_price()
    assert abs(found / best - 1) < 0.05, f"found {found:.2f}, closed form {best:.2f}"


# --- the search section is checked when the file is validated ------------------------------

SEARCH_BASE = """\
name: t
horizon_days: 30
acquisition_days: 10
segments:
  warm: {trust: 0.5}
channels:
  web: {type: organic, visitors_per_day: 100, mix: {warm: 1.0}}
funnel:
  - {id: magnet, type: optin, rate: 0.3}
  - {id: trip, type: offer, after: magnet, price: 9, value: 20, take: 0.3}
  - {id: course, type: offer, after: trip, price: 49, value: 60, take: 0.3}
variants:
  no_trip:
    remove: [trip]
    set: {funnel.course.after: magnet}
search:
  funnel.course.price: {low: 20, high: 200}
  variant: [base, no_trip]
objective:
  maximize: poas
"""


@pytest.mark.parametrize(
    ("old", "new", "path", "message", "line"),
    [
        pytest.param(
            "funnel.course.price: {",
            "funnel.corse.price: {",
            "search.funnel.corse.price",
            "'funnel.corse.price' names nothing in the funnel or any variant",
            17,
            id="unknown-path",
        ),
        pytest.param(
            "{low: 20, high: 200}",
            "{low: 200, high: 20}",
            "search.funnel.course.price",
            "`low <= high` must hold, got low=200, high=20",
            17,
            id="low-above-high",
        ),
        pytest.param(
            "[base, no_trip]", "[]", "search.variant", "must not be empty", 18, id="empty-choice"
        ),
        pytest.param(
            "maximize: poas",
            "maximize: poaz",
            "objective.maximize",
            "unknown KPI 'poaz'",
            20,
            id="unknown-kpi",
        ),
        pytest.param(
            "    set: {funnel.course.after: magnet}\n",
            "",
            "variants.no_trip",
            "leaves the funnel invalid: funnel.course.after: no step has id 'trip'",
            13,
            id="broken-variant",
        ),
        pytest.param(
            "[base, no_trip]",
            "[base, no_trp]",
            "search.variant",
            "no variant named 'no_trp'",
            18,
            id="unknown-variant",
        ),
        pytest.param(
            "high: 200}",
            "high: 200}\n  funnel.trip.take: {low: 0.1, high: 1.5}",
            "search.funnel.trip.take",
            "the value 1.5 makes the scenario invalid: funnel.trip.take: must be <= 1, got 1.5",
            18,
            id="range-outside-rule",
        ),
    ],
)
def test_bad_search_sections_are_located(
    old: str, new: str, path: str, message: str, line: int
) -> None:
    assert old in SEARCH_BASE
    text = SEARCH_BASE.replace(old, new, 1)
    with pytest.raises(ScenarioError) as info:
        sim.parse_scenario(text, source="s.yaml")
    found = {p.path: p for p in info.value.problems}
    assert path in found, found
    assert (found[path].message, found[path].file, found[path].line) == (message, "s.yaml", line)


def test_variants_become_designs() -> None:
    from optimize.space import SearchSpace

    space = SearchSpace.of(sim.ScenarioSource.from_text(SEARCH_BASE))
    design = space.design({"variant": "no_trip", "funnel.course.price": 99.0})
    assert [s.id for s in design.funnel] == ["magnet", "course"]
    assert design.step("course").after == "magnet"
    assert design.step("course").price == 99.0
    assert not design.search  # a design is one point of the search
    assert space.changes({"funnel.course.price": 99.0}) == [("funnel.course.price", 49, 99.0)]


# --- studies on storage: resume after a kill, several workers -----------------------------


def write_scenario(tmp_path: Path, visitors: int = 5000, **extra: Any) -> Path:
    spec = price_spec(**extra)
    spec["channels"]["web"]["visitors_per_day"] = visitors
    path = tmp_path / "price.yaml"
    path.write_text(json.dumps(spec))
    return path


def optimize_cmd(scenario: Path, out: Path, *args: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "cli",
        "optimize",
        str(scenario),
        "--out",
        str(out),
        "--top-k",
        "2",
        *args,
    ]


def load_study(out: Path, name: str = "price") -> optuna.Study:
    return optuna.load_study(study_name=name, storage=f"sqlite:///{out / 'study.db'}")


def done_trials(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    states = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
    return study.get_trials(deepcopy=False, states=states)


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT], ids=["SIGKILL", "SIGINT"])
def test_a_killed_study_resumes_without_losing_or_repeating_trials(
    tmp_path: Path, sig: signal.Signals
) -> None:
    scenario, out = write_scenario(tmp_path, replications=24), tmp_path / "out"  # slow trials
    # enough trials that the kill lands before the end: a trial takes ~30 ms, a look here more
    target = 40
    cmd = optimize_cmd(scenario, out, "--trials", str(target))
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 90
    before: dict[int, tuple[Any, ...]] = {}
    while time.monotonic() < deadline and proc.poll() is None:
        if (out / "study.db").exists():
            try:
                trials = done_trials(load_study(out))
            except (
                KeyError,
                optuna.exceptions.StorageInternalError,
                sqlalchemy.exc.SQLAlchemyError,
            ):
                # the command may still be creating the tables this read would create too
                trials = []
            if len(trials) >= 4:
                proc.send_signal(sig)
                before = {t.number: (t.params, t.values, t.state) for t in trials}
                break
        time.sleep(0.2)
    proc.wait(timeout=60)
    assert before, f"the kill never landed (exit code {proc.returncode}): the run ended first"
    assert 4 <= len(before) < target, "the kill must land before the end"
    rerun = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    after = done_trials(load_study(out))
    assert len(after) == target
    numbers = [t.number for t in after]
    assert len(set(numbers)) == len(numbers)
    by_number = {t.number: (t.params, t.values, t.state) for t in after}
    for number, record in before.items():
        assert by_number.get(number) == record, f"trial {number} changed or vanished"


def trial_records(study: optuna.Study) -> list[tuple[Any, ...]]:
    """What a trial is, leaving out when and where it ran."""
    return [
        (t.number, t.state, t.params, t.values, t.intermediate_values, t.user_attrs.get("kpis"))
        for t in study.get_trials(deepcopy=False)
    ]


@pytest.mark.slow
def test_jobs_1_and_2_give_the_same_study(tmp_path: Path) -> None:
    # 24 trials: the pruner starts after 8, so some trials are pruned at their first look
    spec = price_spec(replications=8, search={"funnel.o.price": {"low": 20, "high": 300}})
    studies = {}
    for jobs in (1, 2):
        config = StudyConfig(
            json.dumps(spec),
            "price",
            storage=f"sqlite:///{tmp_path / f'jobs{jobs}.db'}",
            trials=24,
            jobs=jobs,
        )
        result = optimize_scenario(config, top_k=2)
        studies[jobs] = (trial_records(result.study), result.best.params, result.counts)
    counts = studies[1][2]
    assert counts["finished"] == 24
    assert counts["pruned"] > 0
    assert studies[2] == studies[1]


@pytest.mark.slow
def test_two_processes_share_one_sqlite_study(tmp_path: Path) -> None:
    # two `sim optimize` on one storage, as on two machines: each joins the other's study
    # both must be searching at once: trials long enough that the search outlasts the few
    # seconds either process may take to start (24 replications were too few once the
    # engine got faster: one process finished the 16 trials before the other joined)
    scenario = write_scenario(tmp_path, visitors=20000, replications=96)
    storage = f"sqlite:///{tmp_path / 'shared.db'}"
    cmds = [
        optimize_cmd(
            scenario, tmp_path / f"out{i}", "--trials", "16", "--storage", storage, "--study", "s"
        )
        for i in range(2)
    ]
    cmds[0] += ["--jobs", "2"]  # and one of them with a simulation process of its own
    cmds = [[*c, "--reeval-replications", "2"] for c in cmds]  # the search is what counts
    procs = [
        subprocess.Popen(c, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        for c in cmds
    ]
    errors = [p.communicate(timeout=300)[1].decode() for p in procs]  # both started together
    assert [p.returncode for p in procs] == [0, 0], errors
    trials = done_trials(optuna.load_study(study_name="s", storage=storage))
    assert 16 <= len(trials) < 24, "each process must count the other's trials"
    assert len({t.number for t in trials}) == len(trials)
    assert len({t.user_attrs["worker"] for t in trials}) == 2


POSTGRES = os.environ.get("FUNNELSIM_TEST_POSTGRES")


@pytest.mark.slow
@pytest.mark.skipif(
    not POSTGRES, reason="set FUNNELSIM_TEST_POSTGRES to a PostgreSQL URL (.ci/run does)"
)
def test_two_machines_share_one_postgresql_study(tmp_path: Path) -> None:
    assert POSTGRES is not None
    scenario = write_scenario(tmp_path, visitors=20000, replications=96)  # as above
    name = f"shared-{os.getpid()}-{time.time_ns()}"
    cmds = [
        optimize_cmd(
            scenario, tmp_path / f"out{i}", "--trials", "30", "--storage", POSTGRES, "--study", name
        )
        for i in range(2)
    ]
    procs = [
        subprocess.Popen(c, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        for c in cmds
    ]
    errors = [p.communicate(timeout=300)[1].decode() for p in procs]  # both started together
    assert [p.returncode for p in procs] == [0, 0], errors
    storage = optuna.storages.RDBStorage(POSTGRES)
    try:
        trials = done_trials(optuna.load_study(study_name=name, storage=storage))
    finally:
        storage.engine.dispose()
    assert len(trials) >= 30
    assert len({t.user_attrs["worker"] for t in trials}) == 2


def test_best_yaml_reproduces_the_search_figures(tmp_path: Path) -> None:
    scenario, out = write_scenario(tmp_path), tmp_path / "out"
    proc = subprocess.run(
        [*optimize_cmd(scenario, out, "--trials", "12"), "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert {"best", "baseline", "improvement", "trials", "candidates"} <= set(result)
    assert sorted(p.name for p in out.iterdir()) == [
        "best.yaml",
        "manifest.json",
        "optimization.html",
        "result.json",
        "study.db",
        "study.json",
    ]
    best = sim.load_scenario(out / "best.yaml")
    assert best.step("o").price == result["best"]["params"]["funnel.o.price"]
    rerun = sim.run_scenario(best).summary.kpis
    for kpi in ("revenue", "buyers", "profit"):
        assert rerun[kpi]["mean"] == result["best"]["search_kpis"][kpi]
    html = (out / "optimization.html").read_text()
    decision = html.index("id='decision'")
    assert decision < html.index("id='history'"), "the page leads with the decision"
    assert "funnel.o.price" in html[decision:]
    assert "chance that its mean" in html
    assert 'src="http' not in html, "nothing may load from the network"
    assert len(html) > 1_000_000, "plotly.js must be embedded (offline)"
    study = json.loads((out / "study.json").read_text())
    assert len(study["trials"]) >= 12
    assert {"number", "state", "params", "values", "kpis"} <= set(study["trials"][0])


def test_several_objectives_give_a_pareto_front_and_constraints_filter_it() -> None:
    spec = price_spec(
        objective={"maximize": ["revenue", "buyers"], "constraints": {"aov": {"max": 150}}}
    )
    config = StudyConfig(json.dumps(spec), "pareto", storage="memory", trials=16, replications=2)
    result = optimize_scenario(config, top_k=4)
    assert [d.name for d in result.study.directions] == ["MAXIMIZE", "MAXIMIZE"]
    assert 1 <= len(result.candidates) <= 4
    for c in result.candidates:  # every design on the front meets the constraint
        assert c.params["funnel.o.price"] <= 150
    # on a front of (revenue, buyers), a lower price never has fewer buyers
    by_price = sorted(result.candidates, key=lambda c: c.params["funnel.o.price"])
    buyers = [c.search_kpis["buyers"] for c in by_price]
    assert buyers == sorted(buyers, reverse=True)


def test_values_and_tables_read_as_a_person_writes_them(tmp_path: Path) -> None:
    """best.yaml and the table: values to 3 significant figures, no 1.9e+04, no cut paths."""
    from rich.console import Console

    from optimize.report import best_table, best_yaml, chance_better, write_study_outputs

    spec = price_spec(
        search={"funnel.o.price": {"low": 20, "high": 300, "log": True}},
        channels={
            "web": {"type": "organic", "visitors_per_day": 500, "mix": {"s": 1}},
            "a_long_channel_name_here": {
                "type": "paid",
                "daily_budget": 100,
                "cpc": 1.0,
                "mix": {"s": 1},
            },
        },
    )
    spec["search"]["channels.a_long_channel_name_here.daily_budget"] = {
        "low": 10000,
        "high": 90000,
    }
    config = StudyConfig(json.dumps(spec), "price", storage="memory", trials=6, replications=2)
    result = optimize_scenario(config, top_k=2)
    for value in result.best.params.values():
        digits = f"{value:.15g}".replace(".", "").replace("-", "").strip("0")
        assert len(digits) <= 3, f"{value} is not rounded to 3 significant figures"
    text = best_yaml(result)
    assert re.search(r"price: \d+(\.\d)?\b", text), text
    console = Console(width=100, record=True)
    console.print(best_table(result))
    shown = console.export_text()
    assert "e+0" not in shown, shown
    assert "channels.a_long_channel_name_here.daily_budget" in shown, shown
    assert not re.search(r"(?<![\w.])-0(?![.\d,])", shown), shown
    wins, m, chance = chance_better(result)
    assert m == 4
    assert 0 <= wins <= m
    assert chance is not None
    assert 0 <= chance <= 1
    write_study_outputs(result, tmp_path)
    page = (tmp_path / "optimization.html").read_text()
    from sim.kpis import KPIS

    currency = result.baseline.summary.currency
    assert f"{KPIS['revenue'].label} ({currency}), trial by trial" in page, "money axes"


def test_a_risk_constraint_holds_on_fresh_replications() -> None:
    """Two visitors on average: profit > 0 iff someone buys, chance ``1 − e^(−2 S(p))``.

    The revenue-maximizing price (≈ 77) makes a profit with chance ``1 − e^(−2 · 0.70)`` ≈
    0.75; a chance of 0.8 needs ``S(p) ≥ ln 5 / 2``, a price ≤ ≈ 65. The constrained search
    must return a cheaper design that keeps the chance ≥ 0.8 on replications it never saw,
    and report for every re-evaluated design its chance of beating the baseline.
    """
    web = {"type": "organic", "visitors_per_day": 2, "mix": {"s": 1}}
    free = price_spec(channels={"web": web}, replications=64, objective={"maximize": "profit"})
    risky = optimize_scenario(
        StudyConfig(json.dumps(free), "free", storage="memory", trials=24, prune=False), top_k=3
    )
    bound = {"maximize": "profit", "constraints": {"profitable": {"min": 0.8}}}
    spec = {**free, "objective": bound}
    config = StudyConfig(json.dumps(spec), "risk", storage="memory", trials=24, prune=False)
    result = optimize_scenario(config, top_k=3)
    fresh = result.best.result.replications["profitable"]
    cap = VALUE * math.exp(SIGMA * norm.ppf(1 - math.log(5) / 2))
    msg = (
        f"unconstrained {risky.best.params}, constrained {result.best.params}, price cap {cap:.1f}"
    )
    msg += f", fresh chance of profit {fresh.mean():.3f} over {fresh.size} replications"
    assert fresh.mean() >= 0.8, msg
    assert risky.best.result.replications["profitable"].mean() < 0.8, msg
    assert result.best.params["funnel.o.price"] < risky.best.params["funnel.o.price"], msg
    chances = [c["chance_better"] for c in report.result_dict(result)["candidates"]]
    assert len(chances) == len(result.candidates)
    assert all(c is None or 0 <= c <= 1 for c in chances), chances


def test_on_a_new_file_the_first_trials_are_asked_before_the_database_is_made(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import optimize.search
    from optimize.study import run_workers

    db = tmp_path / "study.db"
    seen: list[bool] = []
    start = optimize.search.Search._start

    def recording(self: optimize.search.Search) -> Any:
        seen.append(db.exists())
        return start(self)

    monkeypatch.setattr(optimize.search.Search, "_start", recording)
    url = f"sqlite:///{db}"
    for trials in (6, 9):  # a new study, then its resume
        text = json.dumps(price_spec())
        config = StudyConfig(text, "price", storage=url, trials=trials, replications=2)
        stored = run_workers(config)
        assert len(stored.get_trials(deepcopy=False)) == trials
    first = optimize.search.IN_FLIGHT
    assert seen == [False] * first + [True] * (9 - first), seen
