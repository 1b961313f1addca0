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

from sim.compare import Comparison, compare_scenarios, paired_difference
from sim.errors import Problem, ScenarioError
from sim.runner import PreparedScenario, RunResult, Summary, prepare, run_scenario
from sim.scenario import Scenario
from sim.source import ScenarioSource, load_scenario, parse_scenario
from sim.trace import Trace, trace_scenario

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
