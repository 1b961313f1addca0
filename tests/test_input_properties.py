"""Property: any scenario tree or override is either run or refused with a location.

Hypothesis mutates bundled scenarios (a value replaced by one of another type, a key
deleted, a key added) and writes ``--set`` overrides of random paths and values; every
outcome must be a small successful run or a :class:`ScenarioError` whose every problem
names its file with a line, or the override. Any other exception is a bug.
"""

from __future__ import annotations

import copy
import io
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from conftest import ROOT
from sim import ScenarioError, ScenarioSource, budget, paths, prepare

BASES = {
    name: ScenarioSource.from_file(ROOT / "scenarios" / f"{name}.yaml")
    for name in ("quickstart", "b2b_consulting", "eshop_loyalty", "saas_trial")
}
SMALL_RUN = 50_000  # expected visitors; a valid tree larger than this is only validated

# fast and the same on every machine (derandomized: CI is reproducible); the slow tests
# below run the same properties on many more examples
FAST = settings(
    max_examples=100,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
LONG = settings(FAST, max_examples=200)

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(["49", "true", ".inf", "[/oops]", "cold", "guide", "paid", ""]),
)
values = st.one_of(
    scalars,
    st.lists(scalars, max_size=3),
    st.dictionaries(st.text(max_size=6), scalars, max_size=3),
)


def dump(tree: Any) -> str:
    buffer = io.StringIO()
    YAML(typ="safe").dump(tree, buffer)
    return buffer.getvalue()


def attempt(make: Callable[[], Any]) -> tuple[Any, ScenarioError | None]:
    """What ``make`` returns, or the ScenarioError it raises (any other exception escapes)."""
    try:
        return make(), None
    except ScenarioError as exc:
        return None, exc


def located(exc: ScenarioError) -> bool:
    """Every problem names a file with its line, or the override."""
    return all(p.file.startswith("--set ") or p.line is not None for p in exc.problems)


def outcome(source: ScenarioSource) -> str:
    """'ran', 'valid' (too large to run here) or 'refused'; anything else raises."""
    scenario, refused = attempt(lambda: source.scenario)
    if refused is not None:
        assert located(refused), str(refused)
        return "refused"
    if budget.expected_visitors(scenario) > SMALL_RUN:
        return "valid"
    prepare(scenario).run(replications=1)  # the memory budget passed: it must run
    return "ran"


@st.composite
def mutated(draw: st.DrawFn) -> tuple[str, str]:
    """A bundled scenario's text with a few values replaced, keys deleted or added."""
    name = draw(st.sampled_from(sorted(BASES)))
    tree = copy.deepcopy(BASES[name].plain)  # never the cached one
    leaves = list(paths.leaf_paths(tree))
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        action = draw(st.sampled_from(["replace", "delete", "add"]))
        dotted = draw(st.sampled_from(leaves))
        keys = paths.resolve(tree, dotted).keys if paths.exists(tree, dotted) else None
        if keys is None:
            continue
        parent = paths.node_at(tree, keys[:-1])
        if action == "replace":
            parent[keys[-1]] = draw(values)
        elif action == "delete" and isinstance(parent, dict):
            del parent[keys[-1]]
        elif isinstance(parent, dict):
            parent[draw(st.text(min_size=1, max_size=8))] = draw(values)
    return name, dump(tree)


def check_mutation(case: tuple[str, str]) -> None:
    name, text = case
    source, refused = attempt(lambda: ScenarioSource.from_text(text, source=f"{name}.yaml"))
    if refused is not None:
        assert located(refused), str(refused)
        return
    assert outcome(source) in ("ran", "valid", "refused")


override_paths = st.one_of(
    st.sampled_from(list(paths.leaf_paths(BASES["quickstart"].plain))),
    st.sampled_from(["channel.ads.daily_budget", "search.x", "funnel.nope.price", "a..b"]),
    st.text(max_size=20),
)
override_values = st.one_of(
    st.sampled_from(["{low: 5, high: 1}", ".inf", "1e308", "-1", "'49'", "[1, 2]", "{a: 1}"]),
    st.text(max_size=20),
    st.floats().map(repr),
)
override_lists = st.lists(st.tuples(override_paths, override_values), min_size=1, max_size=3)


def check_overrides(sets: list[tuple[str, str]]) -> None:
    texts = [f"{path}={value}" for path, value in sets]
    source, refused = attempt(lambda: BASES["quickstart"].with_overrides(texts))
    if refused is not None:
        assert all(p.file.startswith("--set ") for p in refused.problems), str(refused)
        return
    assert outcome(source) in ("ran", "valid", "refused")


@FAST
@given(mutated())
def test_a_mutated_scenario_runs_or_is_refused_with_a_location(case: tuple[str, str]) -> None:
    check_mutation(case)


@FAST
@given(override_lists)
def test_overrides_run_or_are_refused_with_a_location(sets: list[tuple[str, str]]) -> None:
    check_overrides(sets)


@pytest.mark.slow
@LONG
@given(mutated())
def test_many_mutated_scenarios(case: tuple[str, str]) -> None:
    check_mutation(case)


@pytest.mark.slow
@LONG
@given(override_lists)
def test_many_overrides(sets: list[tuple[str, str]]) -> None:
    check_overrides(sets)
