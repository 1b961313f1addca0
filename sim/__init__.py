"""funnelsim: simulate a sales funnel visitor by visitor, before buying the traffic.

The public surface is small on purpose; everything else is internal and may change.

Examples:
    >>> import sim
    >>> scenario = sim.load_scenario("scenarios/quickstart.yaml")
    >>> result = sim.run_scenario(scenario, replications=2, seed=1)
    >>> sorted(result.summary.to_dict())[:3]
    ['currency', 'economics', 'kpis']
"""

from sim.compare import paired_difference
from sim.errors import Problem, ScenarioError
from sim.runner import PreparedScenario, RunResult, Summary, prepare, run_scenario
from sim.scenario import Scenario
from sim.source import ScenarioSource, load_scenario, parse_scenario

__all__ = [
    "PreparedScenario",
    "Problem",
    "RunResult",
    "Scenario",
    "ScenarioError",
    "ScenarioSource",
    "Summary",
    "load_scenario",
    "paired_difference",
    "parse_scenario",
    "prepare",
    "run_scenario",
]
