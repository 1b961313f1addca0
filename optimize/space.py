"""The scenario's ``search`` section as Optuna distributions, and trials as scenarios.

Each search key is a dotted path (the same as ``--set``); ``variant`` chooses among the
scenario's variants. A trial's parameters become a design: the base scenario with the
chosen variant applied, then each value set at its path (``ScenarioSource.with_design``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import optuna
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)

from sim import Scenario, ScenarioError, ScenarioSource

BASE, VARIANT = ScenarioSource.BASE, ScenarioSource.VARIANT


@dataclass(frozen=True)
class SearchSpace:
    """What a study may change in a scenario, and how to turn a trial into a scenario."""

    source: ScenarioSource  # the scenario file, overrides applied
    distributions: Mapping[str, BaseDistribution]

    @property
    def scenario(self) -> Scenario:
        """The base scenario, validated."""
        return self.source.scenario

    @classmethod
    def of(cls, source: ScenarioSource) -> SearchSpace:
        """The search space of a scenario.

        Raises:
            ScenarioError: the scenario is invalid, or has no ``search`` section.
        """
        scenario = source.scenario
        if not scenario.search:
            raise ScenarioError.at(
                "search",
                "nothing to search: the scenario has no `search` section",
                "add e.g. `search: {funnel.<offer id>.price: {low: 10, high: 100}}`",
            )
        dists = {key: _distribution(source, key, dim) for key, dim in scenario.search.items()}
        return cls(source=source, distributions=dists)

    def suggest(self, trial: optuna.Trial) -> dict[str, Any]:
        """Ask the trial for a value of every searched key."""
        return {key: _suggest(trial, key, dist) for key, dist in self.distributions.items()}

    def design(self, params: Mapping[str, Any]) -> Scenario:
        """The scenario a trial's parameters describe (rounded as :meth:`rounded` says).

        Raises:
            ScenarioError: this combination of values breaks a rule of the format.
        """
        return self.source.with_design(self.rounded(params)).scenario

    def rounded(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """The values a design uses: on the search's ``step``, else to 3 significant figures.

        A sampler proposes values like 326.23403443206547. Three significant figures
        move a price or a budget by at most 0.5%, which moves revenue by about as much:
        less than the replications of a search tell apart (their intervals are wider
        than a few percent), so the rounded design is as good and reads as a person
        would write it. Trials are run rounded, so a best.yaml reproduces its trial.
        """
        return {key: _rounded(value, self.distributions.get(key)) for key, value in params.items()}

    def changes(self, params: Mapping[str, Any]) -> list[tuple[str, Any, Any]]:
        """(path, value in the base, value in the design) for each parameter."""
        out = []
        for key, value in self.rounded(params).items():
            if key == VARIANT:
                out.append((VARIANT, BASE, value))
            else:
                out.append((key, self.source.get(key), value))
        return out


SIGNIFICANT = 3


def _rounded(value: Any, dist: BaseDistribution | None) -> Any:
    """A float on its distribution's step, else to :data:`SIGNIFICANT` figures; no ``-0``.

    Examples:
        >>> _rounded(326.23403443206547, FloatDistribution(100, 1000))
        326
        >>> _rounded(13.642530954696664, FloatDistribution(5, 50))
        13.6
        >>> _rounded(0.30000000000000004, FloatDistribution(0.1, 0.9, step=0.1))
        0.3
    """
    if not isinstance(dist, FloatDistribution) or not isinstance(value, float):
        return value
    if not math.isfinite(value) or value == 0:
        return 0 if value == 0 else value
    if dist.step is not None:
        places = max(0, -Decimal(repr(dist.step)).normalize().as_tuple().exponent)  # type: ignore[operator]
    else:
        places = SIGNIFICANT - 1 - math.floor(math.log10(abs(value)))
    out = round(value, places) + 0.0  # + 0.0 turns -0.0 into 0.0
    return int(out) if out.is_integer() and places <= 0 else out


def _suggest(trial: optuna.Trial, key: str, dist: BaseDistribution) -> Any:
    if isinstance(dist, CategoricalDistribution):
        return trial.suggest_categorical(key, dist.choices)
    if isinstance(dist, IntDistribution):
        return trial.suggest_int(key, dist.low, dist.high, step=dist.step, log=dist.log)
    assert isinstance(dist, FloatDistribution)
    return trial.suggest_float(key, dist.low, dist.high, step=dist.step, log=dist.log)


def _distribution(source: ScenarioSource, key: str, dim: Any) -> BaseDistribution:
    if isinstance(dim, list | tuple):
        return CategoricalDistribution(tuple(dim))
    if _is_whole(source, key, dim):
        step = 1 if dim.step is None else int(dim.step)
        return IntDistribution(int(dim.low), int(dim.high), log=dim.log, step=step)
    return FloatDistribution(dim.low, dim.high, log=dim.log, step=dim.step)


def _is_whole(source: ScenarioSource, key: str, dim: Any) -> bool:
    """Integers for keys that hold whole numbers (days), judged from the validated value."""
    for variant in [BASE, *source.scenario.variants]:
        design = source.with_design({VARIANT: variant})
        if design.has(key):
            value = design.get(key, validated=True)
            whole = isinstance(value, int) and not isinstance(value, bool)
            return whole and all(float(x).is_integer() for x in (dim.low, dim.high, dim.step or 1))
    return False
