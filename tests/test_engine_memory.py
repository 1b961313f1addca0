"""A finished replication gives its visitors' memory back at once.

Mesa keeps every model whose agents it numbered (a class-level table keyed by the model),
so a model, and the population it holds, is never freed: a process that runs thousands of
small replications (the optimizer) would hold every one's columns. The runner empties the
population's columns when it has read the results.
"""

from __future__ import annotations

import weakref
from typing import Any

import pytest

import sim
from sim.compile import compile_scenario
from sim.population import Population
from sim.runner import run_batch, run_replication


def test_no_replication_keeps_its_visitors(monkeypatch: pytest.MonkeyPatch) -> None:
    made: list[weakref.ref[Population]] = []
    init = Population.__init__

    def recording(self: Population, *args: Any, **kwargs: Any) -> None:
        init(self, *args, **kwargs)
        made.append(weakref.ref(self))

    monkeypatch.setattr(Population, "__init__", recording)
    compiled = compile_scenario(sim.load_scenario("scenarios/quickstart.yaml"))
    alone = [run_replication(compiled, 3, r).kpis for r in range(2)]
    together = [result.kpis for result in run_batch(compiled, 3, range(2))]
    assert together == alone  # the results were read before the columns went
    assert len(made) == 3
    held = [p.capacity for ref in made if (p := ref()) is not None and p.capacity]
    assert held == [], f"populations still holding visitors: capacities {held}"
