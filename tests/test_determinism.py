"""Same seed, same output, bit for bit, whatever the number of worker processes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from test_cli import sim_cli

import sim
from conftest import ROOT
from sim.executor import Executor

SMALL = ROOT / "tests" / "data" / "small.yaml"


def test_jobs_1_and_2_write_identical_files(tmp_path: Path) -> None:
    outputs = {}
    for jobs in (1, 2, 3):
        out = tmp_path / f"jobs{jobs}"
        proc = sim_cli("run", str(SMALL), "-n", "5", "--jobs", str(jobs), "--out", str(out))
        assert proc.returncode == 0, proc.stderr
        outputs[jobs] = {
            name: (out / name).read_bytes()
            for name in ("summary.json", "replications.csv", "daily.csv")
        }
    assert outputs[1] == outputs[2] == outputs[3]


@pytest.fixture(scope="module")
def two_processes() -> Iterator[Executor]:
    """Two worker processes, started once for every scenario below."""
    with Executor(jobs=2) as executor:
        yield executor


@pytest.mark.parametrize(
    "name",
    [
        "b2b_consulting",
        "eshop_loyalty",
        "pastry_school",
        "quickstart_ranges",
        "email_layers",
        "nurture_fatigue",
        "crm_pipeline",
    ],
)
def test_batches_of_any_size_give_identical_results(name: str, two_processes: Executor) -> None:
    """A replication run alone or in a batch (of any size, in any process): same bytes.

    The sales queue (b2b) acts replication by replication inside a batch; referred
    visitors (e-shop) arrive into the shared population; refunds and renewals (pastry);
    splits on behaviour and fatigue read each lead's record of emails (email_layers, nurture).
    """
    prepared = sim.prepare(sim.load_scenario(ROOT / "scenarios" / f"{name}.yaml"))
    runs = {
        (batch, 1): prepared.run(replications=5, seed=4, batch=batch) for batch in (1, 2, 5, None)
    }
    runs[2, 2] = prepared.run(replications=5, seed=4, batch=2, executor=two_processes)
    first = runs[1, 1]
    text = json.dumps(first.summary.to_dict() | {"meta": None}, sort_keys=True)
    for key, run in runs.items():
        assert json.dumps(run.summary.to_dict() | {"meta": None}, sort_keys=True) == text, key
        pd.testing.assert_frame_equal(run.replications, first.replications, check_exact=True)
        pd.testing.assert_frame_equal(run.daily, first.daily, check_exact=True)


def test_replication_r_is_the_same_in_any_run() -> None:
    scenario = sim.load_scenario(SMALL)
    three = sim.run_scenario(scenario, replications=3, seed=11).replications
    five = sim.run_scenario(scenario, replications=5, seed=11).replications
    pd.testing.assert_frame_equal(three, five.iloc[:3])


def test_another_seed_gives_other_numbers() -> None:
    scenario = sim.load_scenario(SMALL)
    a = sim.run_scenario(scenario, replications=2, seed=1).replications
    b = sim.run_scenario(scenario, replications=2, seed=2).replications
    assert not a["visitors"].equals(b["visitors"])


def test_events_do_not_change_the_numbers() -> None:
    scenario = sim.load_scenario(SMALL)
    plain = sim.run_scenario(scenario, replications=2, seed=3)
    logged = sim.run_scenario(scenario, replications=2, seed=3, events=True)
    pd.testing.assert_frame_equal(plain.replications, logged.replications)
    assert logged.events is not None
    counts = logged.events[logged.events.replication == 0].event.value_counts()
    reps = logged.replications.iloc[0]
    assert counts["arrive"] == reps["visitors"]
    assert counts["optin"] == reps["leads"]
    assert counts["buy"] == reps["course.converted"]


def test_a_change_to_one_step_leaves_the_other_steps_dice_alone() -> None:
    """Common random numbers: every step draws from a stream of its own (docs/model.md §6).

    In the quickstart the course is emailed to every subscribed lead whatever its price, so
    a dearer course changes who buys it and nothing upstream of that decision.
    """
    path = ROOT / "scenarios" / "quickstart.yaml"
    scenario, dearer = (
        sim.load_scenario(path),
        sim.load_scenario(path, overrides=["funnel.course.price=69"]),
    )
    a, b = (sim.run_scenario(s, replications=4).replications for s in (scenario, dearer))
    for column in ("visitors", "leads", "nurture.reached", "nurture.converted", "course.reached"):
        pd.testing.assert_series_equal(a[column], b[column])
    assert (a["course.converted"] > b["course.converted"]).all()  # the same people, fewer afford it


@pytest.mark.parametrize("name", ["b2b_consulting", "email_layers", "pastry_school"])
def test_a_batch_of_kpis_is_each_replication_run_alone(name: str) -> None:
    """The KPIs of a batch, as the optimizer asks for them, are each replication's alone.

    Compared as printed: every digit of every float, and NaN where a ratio is undefined.
    """
    prepared = sim.prepare(sim.load_scenario(ROOT / "scenarios" / f"{name}.yaml"))
    indices = [0, 1, 3]
    alone = [prepared.run_replication(seed=4, index=r) for r in indices]
    assert repr(prepared.run_replications(4, indices)) == repr(alone)
