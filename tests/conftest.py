"""Shared helpers: small scenarios built in code, and the 4-standard-error check."""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import sim
from sim.compile import compile_scenario
from sim.model import FunnelModel

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = sorted((ROOT / "scenarios").glob("*.yaml"))


def base_spec(**top: Any) -> dict[str, Any]:
    """One segment, one organic channel, one optin: the skeleton oracle tests extend."""
    spec: dict[str, Any] = {
        "name": "oracle",
        "horizon_days": 60,
        "acquisition_days": 10,
        "seed": 7,
        "replications": 30,
        "segments": {
            "s": {
                "price_dispersion": 0.5,
                "trust": 0.6,
                "junk_share": 0.0,
                "email": {"open_rate": 0.3, "unsubscribe_rate": 0.05, "trust_per_open": 0.1},
            }
        },
        "channels": {"web": {"type": "organic", "visitors_per_day": 500, "mix": {"s": 1.0}}},
        "funnel": [{"id": "magnet", "type": "optin", "rate": 0.4}],
    }
    spec.update(top)
    return spec


def scenario_from(spec: dict[str, Any]) -> sim.Scenario:
    """Validate a scenario given as a dict (JSON is YAML)."""
    return sim.parse_scenario(json.dumps(copy.deepcopy(spec)), source="<test>")


def refusals(spec: dict[str, Any]) -> list[str]:
    """What validating the scenario refuses, as ``path: message`` lines (it must refuse)."""
    with pytest.raises(sim.ScenarioError) as info:
        scenario_from(spec)
    return [f"{p.path}: {p.message}" for p in info.value.problems]


def assert_within_4se(estimate: float, expected: float, se: float, what: str) -> None:
    """The estimate is within 4 standard errors of the closed-form expectation."""
    assert se > 0, f"{what}: standard error must be positive"
    z = (estimate - expected) / se
    assert abs(z) <= 4, (
        f"{what}: estimate {estimate:.6g}, expected {expected:.6g}, SE {se:.4g}, z {z:.2f}"
    )


@pytest.fixture(scope="session")
def dask_scheduler() -> Iterator[str]:
    """A Dask scheduler and two worker processes on loopback, started once per session."""
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1"
    ) as cluster:
        yield cluster.scheduler_address


@pytest.fixture
def quickstart() -> Path:
    return ROOT / "scenarios" / "quickstart.yaml"


def poisson_se_of_mean(mean_per_rep: float, n: int) -> float:
    """SE of the replication mean of a Poisson count with the given mean."""
    return math.sqrt(mean_per_rep / n)


def run_model(spec: dict[str, Any], seed: int = 3, *, events: bool = True) -> FunnelModel:
    """One replication of a scenario given as a dict, run to the end (the model, to inspect)."""
    model = FunnelModel(
        compile_scenario(scenario_from(spec)),
        rng=np.random.SeedSequence(seed),
        record_events=events,
    )
    model.run()
    return model


def event_table(model: FunnelModel) -> pd.DataFrame:
    """The model's event log as a table (the model must have been run with events)."""
    assert model.log is not None
    c = model.compiled
    return model.log.frame(list(c.step_ids), [ch.name for ch in c.channels])
