"""funnelsim: simulate a sales funnel visitor by visitor, before buying the traffic.

The public surface is small on purpose; everything else is internal and may change.
docs/api.md walks through it: load, change (``Scenario.with_changes``), run, compare,
trace, and optimize (``optimize.optimize_scenario``).

Examples:
    >>> import sim
    >>> scenario = sim.load_scenario("scenarios/quickstart.yaml")
    >>> result = sim.run_scenario(scenario, replications=2, seed=1)
    >>> sorted(result.summary.to_dict())[:3]
    ['currency', 'economics', 'kpis']
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sim.compare import Comparison, compare_scenarios, paired_difference
    from sim.errors import Problem, ScenarioError
    from sim.runner import PreparedScenario, RunResult, Summary, prepare, run_scenario
    from sim.scenario import Scenario
    from sim.source import ScenarioSource, load_scenario, parse_scenario
    from sim.trace import Trace, trace_scenario

# public name -> the module that defines it; imported on first use (PEP 562), so that
# `import sim` and commands that only read a scenario do not load the engine's libraries
_HOMES = {
    "Comparison": "sim.compare",
    "compare_scenarios": "sim.compare",
    "paired_difference": "sim.compare",
    "Problem": "sim.errors",
    "ScenarioError": "sim.errors",
    "PreparedScenario": "sim.runner",
    "RunResult": "sim.runner",
    "Summary": "sim.runner",
    "prepare": "sim.runner",
    "run_scenario": "sim.runner",
    "Scenario": "sim.scenario",
    "ScenarioSource": "sim.source",
    "load_scenario": "sim.source",
    "parse_scenario": "sim.source",
    "Trace": "sim.trace",
    "trace_scenario": "sim.trace",
}


def __getattr__(name: str) -> Any:
    """Import a public name from its module the first time it is asked for."""
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'sim' has no attribute '{name}'")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    """The module's names, the public ones not yet imported included."""
    return sorted({*globals(), *__all__})


__all__ = [
    "Comparison",
    "PreparedScenario",
    "Problem",
    "RunResult",
    "Scenario",
    "ScenarioError",
    "ScenarioSource",
    "Summary",
    "Trace",
    "compare_scenarios",
    "load_scenario",
    "paired_difference",
    "parse_scenario",
    "prepare",
    "run_scenario",
    "trace_scenario",
]
