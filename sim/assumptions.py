"""Uncertain assumptions: find them in a scenario, draw them per replication, split the spread.

A validated :class:`~sim.scenario.Scenario` may hold a distribution (``{between: [lo, hi]}``,
``{pert: …}``, …; see :mod:`sim.spec`) wherever a number may vary. The engine only ever
runs *concrete* scenarios: :func:`draw` turns replication ``r`` of seed ``s`` into one, every
uncertain quantity at a value drawn from uniforms keyed by ``(s, r // M, path)`` (``M`` the
scenario's ``assumptions.replications_per_draw``). The key holds no design, so two designs
run on one seed meet the same assumption draws (docs/model.md §3.9).

Examples:
    >>> from sim import load_scenario
    >>> s = load_scenario(
    ...     "scenarios/quickstart.yaml", overrides=["funnel.course.take={between: [0.2, 0.5]}"]
    ... )
    >>> [q.path for q in quantities(s)]
    ['funnel.course.take']
    >>> central(s).step("course").take
    0.35
    >>> draw(s, seed=1, replication=0).step("course").take == draw(s, 1, 1).step("course").take
    True
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from pydantic import BaseModel

from sim._checks import check_scenario
from sim.errors import ScenarioError
from sim.luck import fold_int, name_key, to_uniform
from sim.scenario import Scenario
from sim.spec import EDGE, TOP, Distribution, is_uncertain

Keys = tuple[str | int, ...]
Found = tuple[Keys, str, str]
_SKIP = ("search", "variants", "objective", "assumptions", "calibrate")  # not read by the engine
_PURPOSE = "assumption:"  # the uniforms' own key prefix, apart from every visitor's draws


@dataclass(frozen=True)
class Quantity:
    """An uncertain quantity of a scenario: its dotted path, raw keys and distribution."""

    path: str  # as --set names it: funnel.course.take
    keys: Keys  # raw keys and list indices of the scenario's dumped tree
    distribution: Distribution


def quantities(scenario: Scenario) -> tuple[Quantity, ...]:
    """The scenario's uncertain quantities, in the order of the format."""
    return tuple(_walk(scenario, (), ()))


def has_uncertain(scenario: Scenario) -> bool:
    """Whether any number of the scenario is an uncertain quantity."""
    return bool(quantities(scenario))


def _walk(node: Any, keys: Keys, names: tuple[str, ...]) -> Iterator[Quantity]:
    if is_uncertain(node):
        yield Quantity(".".join(names), keys, node)
    elif isinstance(node, BaseModel):
        for field, info in type(node).model_fields.items():
            if keys or field not in _SKIP:
                key = info.alias or field
                yield from _walk(getattr(node, field), (*keys, key), (*names, key))
    elif isinstance(node, dict):
        for key, value in node.items():
            yield from _walk(value, (*keys, key), (*names, str(key)))
    elif isinstance(node, list | tuple):
        for i, item in enumerate(node):
            name = getattr(item, "id", None)
            yield from _walk(item, (*keys, i), (*names, name if isinstance(name, str) else str(i)))


def with_values(scenario: Scenario, values: Mapping[str, float]) -> Scenario:
    """A concrete scenario: each quantity at ``values[path]``, the others at their medians.

    Raises:
        KeyError: a path of ``values`` names no uncertain quantity.
    """
    found = quantities(scenario)
    unknown = set(values) - {q.path for q in found}
    if unknown:
        raise KeyError(f"not an uncertain quantity: {', '.join(sorted(unknown))}")
    tree = scenario.model_dump(by_alias=True)
    for q in found:
        value = values[q.path] if q.path in values else q.distribution.median()
        _set(tree, q.keys, float(value))
    return Scenario.model_validate(tree)


def central(scenario: Scenario) -> Scenario:
    """The scenario with every uncertain quantity at its median (itself if none)."""
    return with_values(scenario, {}) if has_uncertain(scenario) else scenario


def _set(tree: Any, keys: Keys, value: float) -> None:
    node = tree
    for key in keys[:-1]:
        node = node[key]
    node[keys[-1]] = value


def draw_index(scenario: Scenario, replication: int) -> int:
    """Which assumption draw replication ``replication`` runs on: ``replication // M``."""
    return replication // scenario.assumptions.replications_per_draw


def uniforms(seed: int, index: int, paths: Sequence[str]) -> np.ndarray:
    """One uniform per path for assumption draw ``index`` of seed ``seed`` (correlations aside).

    A pure function of ``(seed, index, path)``: no design, no visitor, no order of paths.
    """
    keys = [fold_int(seed, index, name_key(_PURPOSE + path)) for path in paths]
    return to_uniform(np.array(keys, dtype=np.uint64))


def draw_values(scenario: Scenario, seed: int, index: int) -> dict[str, float]:
    """Assumption draw ``index`` of seed ``seed``: path → value, correlations applied.

    Correlated quantities share a Gaussian copula: ``z = Φ⁻¹(u)``, ``z' = L z`` with ``L``
    the Cholesky factor of the correlation matrix, ``u' = Φ(z')``, value ``F⁻¹(u')``.
    """
    found = quantities(scenario)
    paths = [q.path for q in found]
    u = np.clip(uniforms(seed, index, paths), EDGE, TOP)
    corr = correlation_matrix(scenario, paths)
    if corr is not None:
        from scipy import stats  # here: only correlated ranges need it

        z = np.linalg.cholesky(corr) @ stats.norm.ppf(u)
        u = np.clip(stats.norm.cdf(z), EDGE, TOP)
    return {q.path: float(q.distribution.ppf(u[i])) for i, q in enumerate(found)}


def correlation_matrix(scenario: Scenario, paths: Sequence[str]) -> np.ndarray | None:
    """The correlation matrix of ``paths`` from ``assumptions.correlations`` (None: none)."""
    pairs = scenario.assumptions.correlations
    if not pairs:
        return None
    where = {p: i for i, p in enumerate(paths)}
    corr = np.eye(len(paths))
    for pair in pairs:
        a, b = (where[p] for p in pair.paths)
        corr[a, b] = corr[b, a] = pair.rho
    return corr


def draw(scenario: Scenario, seed: int, replication: int) -> Scenario:
    """The concrete scenario replication ``replication`` of seed ``seed`` runs.

    Raises:
        ScenarioError: the values drawn break a rule spanning several keys (say, repeat
            orders more often than daily), naming the replication and the values.
    """
    if not has_uncertain(scenario):
        return scenario
    values = draw_values(scenario, seed, draw_index(scenario, replication))
    concrete = with_values(scenario, values)
    found = check_scenario(concrete)
    if found:
        keys, message, hint = found[0]
        drawn = ", ".join(f"{path}={value:.4g}" for path, value in values.items())
        where = ".".join(str(k) for k in keys)
        raise ScenarioError.at(
            where, f"{message} (replication {replication} of seed {seed} drew {drawn})", hint
        )
    return concrete


def check_assumptions(scenario: Scenario) -> Iterator[Found]:
    """The ``assumptions`` section against the quantities: paths that exist, a valid matrix."""
    paths = [q.path for q in quantities(scenario)]
    pairs = scenario.assumptions.correlations
    for i, pair in enumerate(pairs):
        for j, path in enumerate(pair.paths):
            if path not in paths:
                known = ", ".join(paths) or "none: write a distribution at a number first"
                yield (
                    ("assumptions", "correlations", i, "paths", j),
                    f"'{path}' is not an uncertain quantity",
                    f"uncertain quantities: {known}",
                )
        if pair.paths[0] == pair.paths[1]:
            yield (
                ("assumptions", "correlations", i, "paths"),
                "a quantity cannot be correlated with itself",
                "",
            )
    if all(p in paths for pair in pairs for p in pair.paths):
        corr = correlation_matrix(scenario, paths)
        if corr is not None and np.linalg.eigvalsh(corr).min() <= 1e-9:
            yield (
                ("assumptions", "correlations"),
                "these correlations cannot hold together (the matrix is not positive definite)",
                "weaken some of them",
            )


@dataclass(frozen=True)
class Spread:
    """A KPI's variance over replications, split into assumptions and luck.

    One-way random-effects analysis of variance on ``K`` draws × ``M`` replications each:
    ``luck = MSW`` (the mean variance within a draw, ``E[Var(Y | θ)]``) and ``assumptions
    = max(0, (MSB − MSW) / M)`` (``Var(E[Y | θ])``), both unbiased before the clip;
    ``total = luck + assumptions`` (law of total variance).
    """

    total: float
    assumptions: float
    luck: float
    draws: int
    per_draw: int

    @property
    def assumptions_share(self) -> float:
        """The share of the variance that comes from the assumptions (0 when none varies)."""
        return self.assumptions / self.total if self.total > 0 else 0.0

    def to_dict(self) -> dict[str, float]:
        """Plain JSON-ready data."""
        return {
            "variance": self.total,
            "assumptions": self.assumptions,
            "luck": self.luck,
            "assumptions_share": self.assumptions_share,
            "luck_share": 1 - self.assumptions_share if self.total > 0 else 0.0,
        }


def decompose(values: Sequence[float] | np.ndarray, per_draw: int, first: int = 0) -> Spread | None:
    """Split the variance of one KPI over replications ``first, first + 1, …``.

    Only whole groups (every replication of a draw present) count. None when fewer than
    two draws or fewer than two replications per draw, or a value is undefined or infinite.

    Examples:
        >>> s = decompose([1.0, 1.0, 3.0, 3.0], per_draw=2)
        >>> (s.assumptions, s.luck)
        (2.0, 0.0)
    """
    y = np.asarray(values, dtype=float)
    index = (first + np.arange(y.size)) // per_draw
    groups = [y[index == k] for k in np.unique(index)]
    groups = [g for g in groups if g.size == per_draw]
    k = len(groups)
    if per_draw < 2 or k < 2 or not np.isfinite(y).all():
        return None
    table = np.vstack(groups)
    means = table.mean(axis=1)
    within = float(((table - means[:, None]) ** 2).sum() / (k * (per_draw - 1)))
    between = float(per_draw * ((means - means.mean()) ** 2).sum() / (k - 1))
    part = max(0.0, (between - within) / per_draw)
    return Spread(part + within, part, within, k, per_draw)
