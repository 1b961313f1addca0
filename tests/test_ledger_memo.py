"""A batch's books remember the last visitors they counted: no booked visitor array changes."""

from __future__ import annotations

from pathlib import Path

import pytest

import sim
from conftest import SCENARIOS
from sim.ledger import Ledger


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_no_booked_visitor_array_changes_and_the_figures_stay(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every visitor array booked in a batch is made read-only: changing one would raise.

    The books remember the last array they counted by identity (a step books the same
    visitors several times), which is right only if no array changes once booked.
    """
    prepared = sim.prepare(sim.load_scenario(path))
    plain = prepared.run_replications(5, range(3))
    monkeypatch.setattr(Ledger, "check_unchanged", True)
    checked = prepared.run_replications(5, range(3))
    assert repr(checked) == repr(plain)  # NaN where undefined: compared as printed
