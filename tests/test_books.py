"""One set of books: the breakdown by step, channel and segment adds up to the run's totals."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import sim
from conftest import SCENARIOS
from sim.assumptions import central
from sim.compile import compile_scenario
from sim.ledger import COST_LINES
from sim.model import FunnelModel

RTOL = 1e-9


def _close(got: object, expected: object, what: str) -> None:
    np.testing.assert_allclose(
        np.asarray(got, dtype=float),
        np.asarray(expected, dtype=float),
        rtol=RTOL,
        atol=1e-9,
        err_msg=what,
    )


@pytest.fixture(scope="module", params=SCENARIOS, ids=lambda p: p.stem)
def run(request: pytest.FixtureRequest) -> tuple[sim.RunResult, sim.RunResult]:
    scenario = sim.load_scenario(request.param)
    plain = sim.run_scenario(scenario, replications=2)
    return plain, sim.run_scenario(scenario, replications=2, breakdown=True)


def test_keeping_the_breakdown_changes_nothing(run: tuple[sim.RunResult, sim.RunResult]) -> None:
    plain, broken_down = run
    assert broken_down.summary == plain.summary
    pd.testing.assert_frame_equal(broken_down.daily, plain.daily)
    assert plain.breakdown is None


def test_every_table_adds_up_to_the_totals(run: tuple[sim.RunResult, sim.RunResult]) -> None:
    _, result = run
    assert result.breakdown is not None
    reps = result.replications.set_index("replication")
    days = result.daily.groupby("replication").sum()
    totals = {
        "revenue": reps["revenue"],
        "refunds": reps["refunds"],
        "cogs": days["cogs"],
        "fees": days["fees"],
        "gross_profit": reps["gross_profit"],
        "spend": reps["traffic_spend"],
        "visitors": reps["visitors"],
        "leads": reps["leads"],
        "buyers": reps["buyers"],
    }
    for name, table in result.breakdown.items():
        sums = table.groupby("replication").sum(numeric_only=True)
        shared = [figure for figure in totals if figure in sums]
        assert {"revenue", "refunds", "gross_profit"} <= set(shared), name
        for figure in shared:
            _close(sums[figure], totals[figure], f"{name}.{figure}")


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_every_cost_line_adds_up_cell_by_cell(path: Path) -> None:
    # ranges at their medians: the books hold for any one draw
    scenario = central(sim.load_scenario(path))
    model = FunnelModel(compile_scenario(scenario), rng=3, breakdown=True)
    model.run()
    ledger = model.ledger
    cells = ledger.breakdown()
    cells["traffic"] = cells["traffic"] + cells["commission"]
    for line, column in COST_LINES.items():
        _close(cells[line].sum(), ledger.lines[line].sum(), line)
        same = [other for other, c in COST_LINES.items() if c == column]
        _close(sum(ledger.lines[other] for other in same), ledger.daily[column], column)
    _close(cells["revenue"].sum(), ledger.daily["revenue"].sum(), "revenue")
    for name in ("revenue", "refunds", "refunded", "repeat_revenue"):
        _close(cells[name].sum(axis=(1, 2))[:-1], ledger.steps[name], f"steps.{name}")
    _close(cells["churned"].sum(axis=(1, 2))[:-1], ledger.steps["churned"], "steps.churned")


def test_a_ledger_without_the_breakdown_says_so() -> None:
    model = FunnelModel(compile_scenario(sim.load_scenario(SCENARIOS[0])), rng=1)
    with pytest.raises(ValueError, match="breakdown=True"):
        model.ledger.breakdown()
