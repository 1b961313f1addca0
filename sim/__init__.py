"""funnelsim: simulate a sales funnel visitor by visitor, before buying the traffic.

The public surface is small on purpose; everything else is internal and may change.

Examples:
    >>> import sim
    >>> scenario = sim.load_scenario("scenarios/quickstart.yaml")
    >>> result = sim.run_scenario(scenario, replications=2, seed=1)
    >>> sorted(result.summary.to_dict())[:3]
    ['currency', 'kpis', 'meta']
"""

from sim.errors import Problem, ScenarioError
from sim.loader import load_scenario, parse_scenario
from sim.runner import RunResult, Summary, run_scenario
from sim.scenario import Scenario

__all__ = [
    "Problem",
    "RunResult",
    "Scenario",
    "ScenarioError",
    "Summary",
    "load_scenario",
    "parse_scenario",
    "run_scenario",
]
