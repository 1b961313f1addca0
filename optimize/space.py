"""The scenario's ``search`` section as Optuna distributions, and trials as scenarios.

Each search key is a dotted path (the same as ``--set``); ``variant`` chooses among the
scenario's variants. A trial's parameters become a design: the base scenario with the
chosen variant applied, then each value set at its path (``sim.variants``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import optuna
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)

from sim.errors import ScenarioError
from sim.loader import validate_tree
from sim.scenario import NumberRange, Scenario
from sim.variants import BASE, VARIANT, design_tree, path_exists


@dataclass(frozen=True)
class SearchSpace:
    """What a study may change in a scenario, and how to turn a trial into a scenario."""

    base: Mapping[str, Any]  # the scenario file as plain data, overrides applied
    scenario: Scenario  # the base, validated
    distributions: Mapping[str, BaseDistribution]

    @classmethod
    def from_tree(cls, base: Mapping[str, Any], scenario: Scenario) -> SearchSpace:
        """The search space of a validated scenario.

        Raises:
            ScenarioError: the scenario has no ``search`` section.
        """
        if not scenario.search:
            raise ScenarioError.at(
                "search",
                "nothing to search: the scenario has no `search` section",
                "add e.g. `search: {funnel.<offer id>.price: {low: 10, high: 100}}`",
            )
        dists = {key: _distribution(base, key, dim) for key, dim in scenario.search.items()}
        return cls(base=base, scenario=scenario, distributions=dists)

    def suggest(self, trial: optuna.Trial) -> dict[str, Any]:
        """Ask the trial for a value of every searched key."""
        return {key: _suggest(trial, key, dist) for key, dist in self.distributions.items()}

    def design(self, params: Mapping[str, Any]) -> Scenario:
        """The scenario a trial's parameters describe.

        Raises:
            ScenarioError: this combination of values breaks a rule of the format.
        """
        tree = design_tree(self.base, str(params.get(VARIANT, BASE)), params)
        return validate_tree(tree, source="<trial>")

    def changes(self, params: Mapping[str, Any]) -> list[tuple[str, Any, Any]]:
        """(path, value in the base, value in the design) for each parameter."""
        out = []
        for key, value in params.items():
            if key == VARIANT:
                out.append((VARIANT, BASE, value))
            else:
                out.append((key, _value_at(self.base, key), value))
        return out


def _suggest(trial: optuna.Trial, key: str, dist: BaseDistribution) -> Any:
    if isinstance(dist, CategoricalDistribution):
        return trial.suggest_categorical(key, dist.choices)
    if isinstance(dist, IntDistribution):
        return trial.suggest_int(key, dist.low, dist.high, step=dist.step, log=dist.log)
    assert isinstance(dist, FloatDistribution)
    return trial.suggest_float(key, dist.low, dist.high, step=dist.step, log=dist.log)


def _value_at(tree: Any, path: str) -> Any:
    if not path_exists(tree, path):
        return None
    node = tree
    for part in path.split("."):
        if isinstance(node, list):
            ids = [str(item.get("id")) for item in node]
            node = node[ids.index(part)] if part in ids else node[int(part)]
        else:
            node = node[part]
    return node


def _distribution(base: Mapping[str, Any], key: str, dim: Any) -> BaseDistribution:
    if not isinstance(dim, NumberRange):
        return CategoricalDistribution(tuple(dim))
    if _is_whole(base, key, dim):
        step = 1 if dim.step is None else int(dim.step)
        return IntDistribution(int(dim.low), int(dim.high), log=dim.log, step=step)
    return FloatDistribution(dim.low, dim.high, log=dim.log, step=dim.step)


def _is_whole(base: Mapping[str, Any], key: str, dim: NumberRange) -> bool:
    """Integers for keys that hold whole numbers (days), judged from the validated value."""
    homes = [BASE, *base.get("variants", {})]
    for variant in homes:
        tree = design_tree(base, variant)
        if path_exists(tree, key):
            validated = validate_tree(tree, source="<search>").model_dump(by_alias=True)
            value = _value_at(validated, key)
            whole = isinstance(value, int) and not isinstance(value, bool)
            return whole and all(float(x).is_integer() for x in (dim.low, dim.high, dim.step or 1))
    return False
