"""Dotted paths: one rule for list items (id or index), located errors, set/get round trips."""

from __future__ import annotations

import copy
from typing import Any

import pytest

import sim
from sim import paths
from sim.source import ScenarioSource

TREE: dict[str, Any] = {
    "channels": {"ads": {"daily_budget": 100}},
    "segments": {"hobbyist": {"email": {"open_rate": 0.3}}},
    "funnel": [{"id": "magnet", "rate": 0.3}, {"id": "core", "price": 49}],
    "tags": ["a", "b"],
}

GOOD = """\
name: t
horizon_days: 30
acquisition_days: 10
segments:
  warm: {trust: 0.5}
channels:
  ads:
    type: organic
    visitors_per_day: 100
    mix: {warm: 1.0}
funnel:
  - id: magnet
    type: optin
    rate: 0.3
  - id: course
    type: offer
    after: magnet
    price: 49
    value: 60
    take: 0.3
"""


@pytest.fixture
def tree() -> dict[str, Any]:
    return copy.deepcopy(TREE)


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("channels.ads.daily_budget", 100),
        ("segments.hobbyist.email.open_rate", 0.3),
        ("funnel.core.price", 49),
        ("funnel.1.price", 49),
        ("funnel.0", {"id": "magnet", "rate": 0.3}),
        ("tags.1", "b"),
    ],
    ids=["mapping", "deep", "step-by-id", "step-by-index", "item", "list-without-ids"],
)
def test_get_by_key_id_or_index(tree: dict[str, Any], path: str, value: Any) -> None:
    assert paths.get_value(tree, path) == value


@pytest.mark.parametrize(
    ("path", "message", "hint"),
    [
        ("funnel.cor.price", "no item 'cor' in funnel", "did you mean 'core'?"),
        ("funnel.-1.price", "no item '-1' in funnel", "known: magnet, core"),
        ("funnel.2.price", "no item '2' in funnel", "known: magnet, core"),
        (
            "channels.ads.daily_budget.x",
            "'channels.ads.daily_budget' holds a single value, not keys",
            "",
        ),
    ],
    ids=["unknown-id", "negative-index", "index-past-end", "through-a-value"],
)
def test_paths_that_name_nothing_say_where(
    tree: dict[str, Any], path: str, message: str, hint: str
) -> None:
    with pytest.raises(paths.PathError) as info:
        paths.resolve(tree, path)
    assert (info.value.path, info.value.message, info.value.hint) == (path, message, hint)
    assert not paths.exists(tree, path)


def test_a_missing_key_has_a_did_you_mean(tree: dict[str, Any]) -> None:
    with pytest.raises(paths.PathError) as info:
        paths.get_value(tree, "channel.ads.daily_budget")
    assert info.value.message == "no key 'channel' in the top level"
    assert info.value.hint == "did you mean 'channels.ads.daily_budget'?"


def test_set_then_get_round_trips(tree: dict[str, Any]) -> None:
    for path, value in [("funnel.core.price", 99), ("funnel.0.rate", 0.5), ("tags.0", "z")]:
        address = paths.set_value(tree, path, value)
        assert address.new == 0
        assert paths.get_value(tree, path) == value
    assert paths.display(tree, paths.resolve(tree, "funnel.1.price").keys) == "funnel.core.price"


def test_new_keys_and_sections(tree: dict[str, Any]) -> None:
    assert paths.exists(tree, "channels.ads.cpc", new_key=True)
    assert not paths.exists(tree, "channels.ads.cpc")
    assert paths.set_value(tree, "channels.ads.cpc", 2.0).new == 1
    with pytest.raises(paths.PathError, match="no section 'search' in the top level"):
        paths.set_value(tree, "search.funnel.core.price", 1)
    assert paths.set_value(tree, "search", {"x": [1, 2]}).new == 1  # a new top-level key
    address = paths.set_value(tree, "costs.fixed.per_day", 5, new_sections=True)
    assert (address.keys, address.new) == (("costs", "fixed", "per_day"), 3)
    assert tree["costs"] == {"fixed": {"per_day": 5}}


def test_a_list_item_cannot_be_added(tree: dict[str, Any]) -> None:
    with pytest.raises(paths.PathError, match="no item 'upsell' in funnel"):
        paths.set_value(tree, "funnel.upsell.price", 1, new_sections=True)


def test_leaf_paths_walk_steps_by_id(tree: dict[str, Any]) -> None:
    assert list(paths.leaf_paths(tree)) == [
        "channels.ads.daily_budget",
        "segments.hobbyist.email.open_rate",
        "funnel.magnet.id",
        "funnel.magnet.rate",
        "funnel.core.id",
        "funnel.core.price",
        "tags",
    ]


# --- overrides: the same rule, errors naming the override -------------------------------


def test_override_through_a_missing_section_names_the_override() -> None:
    text = "--set channel.ads.daily_budget=500"
    with pytest.raises(sim.ScenarioError) as info:
        sim.parse_scenario(GOOD, source="f.yaml", overrides=[text.removeprefix("--set ")])
    (problem,) = info.value.problems
    assert (problem.file, problem.path, problem.message) == (
        text,
        "channel",
        "unknown key 'channel'",
    )
    assert problem.line is None
    assert problem.hint == "did you mean 'channels'?"


def test_override_of_a_section_left_to_its_defaults_is_checked() -> None:
    s = sim.parse_scenario(GOOD, overrides=["costs.payment_fee=0.05"])
    assert s.costs.payment_fee == 0.05
    with pytest.raises(sim.ScenarioError) as info:
        sim.parse_scenario(GOOD, overrides=["costs.payment_fe=0.05"])
    assert info.value.problems[0].file == "--set costs.payment_fe=0.05"


def test_override_by_index_and_by_id_agree() -> None:
    by_id = sim.parse_scenario(GOOD, overrides=["funnel.course.price=55"])
    by_index = sim.parse_scenario(GOOD, overrides=["funnel.1.price=55"])
    assert by_id == by_index


def test_negative_index_is_refused_with_the_ids() -> None:
    with pytest.raises(sim.ScenarioError) as info:
        sim.parse_scenario(GOOD, overrides=["funnel.-1.price=55"])
    problem = info.value.problems[0]
    assert (problem.file, problem.message) == ("--set funnel.-1.price=55", "no item '-1' in funnel")


def test_source_get_and_dump() -> None:
    source = ScenarioSource.from_text(GOOD, source="f.yaml")
    assert source.dump() == GOOD
    changed = source.with_overrides(["funnel.course.price=55"])
    assert changed.get("funnel.course.price") == 55
    assert source.get("funnel.course.price") == 49  # the original is left as it was
    assert changed.dump().startswith("# f.yaml, run with:\n#   --set funnel.course.price=55\n")
    assert "price: 55\n" in changed.dump()
    assert changed.get("funnel.nothing.price") is None
