"""Bad scenarios are refused with file, line, key path, what was expected, and a hint."""

from __future__ import annotations

from pathlib import Path

import pytest

import sim
from sim.errors import ScenarioError

GOOD = """\
name: t
horizon_days: 30
acquisition_days: 10
segments:
  warm: {trust: 0.5}
channels:
  web:
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


def problems(text: str, *overrides: str) -> list[sim.Problem]:
    with pytest.raises(ScenarioError) as info:
        sim.parse_scenario(text, source="f.yaml", overrides=overrides)
    return list(info.value.problems)


def only(text: str, *overrides: str) -> sim.Problem:
    found = problems(text, *overrides)
    assert len(found) == 1, found
    return found[0]


def test_the_good_scenario_is_accepted() -> None:
    s = sim.parse_scenario(GOOD)
    assert s.step("course").price == 49
    assert s.model_config["frozen"]


@pytest.mark.parametrize(
    ("old", "new", "line", "path", "message", "hint"),
    [
        pytest.param(
            "    take: 0.3",
            "    tkae: 0.3",
            20,
            "funnel.course.tkae",
            "unknown key 'tkae'",
            "did you mean 'take'?",
            id="unknown-key",
        ),
        pytest.param(
            "price: 49",
            "price: cheap",
            18,
            "funnel.course.price",
            "expected a number, got 'cheap'",
            "",
            id="wrong-type",
        ),
        pytest.param(
            "rate: 0.3",
            "rate: 1.5",
            14,
            "funnel.magnet.rate",
            "must be <= 1, got 1.5",
            "write a share as a fraction: 0.015 for 1.5%",
            id="rate-above-one",
        ),
        pytest.param(
            "{warm: 1.0}",
            "{warm: 0.9}",
            10,
            "channels.web.mix",
            "shares must sum to 1, got 0.9",
            "adjust the shares so they add up to 1",
            id="mix-not-one",
        ),
        pytest.param(
            "after: magnet",
            "after: magnit",
            17,
            "funnel.course.after",
            "no step has id 'magnit'",
            "did you mean 'magnet'?",
            id="after-unknown-step",
        ),
        pytest.param(
            "type: offer",
            "type: offr",
            16,
            "funnel.course.type",
            "unknown type 'offr'",
            "did you mean 'offer'?",
            id="unknown-step-type",
        ),
        pytest.param(
            "price: 49",
            "price: -5",
            18,
            "funnel.course.price",
            "must be >= 0, got -5",
            "",
            id="negative-price",
        ),
        pytest.param(
            "acquisition_days: 10",
            "acquisition_days: 40",
            3,
            "acquisition_days",
            "must be <= horizon_days (30), got 40",
            "traffic can only arrive within the simulated days",
            id="acquisition-past-horizon",
        ),
        pytest.param(
            "{warm: 1.0}",
            "{wram: 1.0}",
            10,
            "channels.web.mix.wram",
            "unknown segment 'wram'",
            "did you mean 'warm'?",
            id="mix-unknown-segment",
        ),
        pytest.param(
            "take: 0.3",
            "take: {warm: 0.3, cold: 0.1}",
            20,
            "funnel.course.take.cold",
            "unknown segment 'cold'",
            "known: warm",
            id="segment-map-unknown",
        ),
    ],
)
def test_each_kind_of_bad_input_is_located(
    old: str, new: str, line: int, path: str, message: str, hint: str
) -> None:
    assert old in GOOD
    found = {p.path: p for p in problems(GOOD.replace(old, new, 1))}
    assert path in found, found
    p = found[path]
    assert (p.file, p.line, p.path, p.message, p.hint) == ("f.yaml", line, path, message, hint)
    assert str(p).startswith(f"f.yaml:{line}:")


def test_broken_yaml_is_located() -> None:
    p = only(GOOD.replace("rate: 0.3", "rate: [0.3"))
    assert p.file == "f.yaml"
    assert p.line is not None
    assert p.line >= 14
    assert p.message.startswith("not valid YAML")


def test_duplicate_keys_are_refused_not_silently_merged() -> None:
    p = only(GOOD.replace("    price: 49\n", "    price: 49\n    price: 59\n"))
    assert p.line == 19
    assert "duplicate" in p.message


def test_missing_required_key_names_it() -> None:
    p = only(GOOD.replace("    price: 49\n", ""))
    assert (p.path, p.message) == ("funnel.course", "required key 'price' is missing")
    assert p.line == 15  # the list item of the step that lacks it


def test_several_problems_are_reported_together() -> None:
    text = GOOD.replace("rate: 0.3", "rate: 1.5").replace("price: 49", "price: -1")
    assert [p.path for p in problems(text)] == ["funnel.magnet.rate", "funnel.course.price"]


def test_cycle_of_triggers_is_refused() -> None:
    text = (
        GOOD
        + "  - id: a\n    type: offer\n    after: b\n    price: 1\n    value: 1\n    take: 0.1\n"
    )
    text += "  - id: b\n    type: offer\n    after: a\n    price: 1\n    value: 1\n    take: 0.1\n"
    p = problems(text)[0]
    assert p.message == "steps wait for each other in a cycle: a after b after a"
    assert p.path == "funnel.a.after"


def test_reference_to_a_step_of_the_wrong_kind() -> None:
    mails = "  - id: {}\n    type: email_sequence\n    after: {}\n    days: [1]\n"
    text = GOOD + mails.format("mails", "course") + mails.format("more", "mails")
    p = only(text)  # an email sequence follows an opt-in or a purchase, not another sequence
    assert p.path == "funnel.more.after"
    assert p.message == (
        "'mails' is a step of type email_sequence, expected optin or offer or subscription "
        "or sales_call or stage or payment"
    )


def test_override_errors_name_the_override() -> None:
    p = only(GOOD, "funnel.course.take=2")
    assert (p.file, p.path, p.message) == (
        "--set funnel.course.take=2",
        "funnel.course.take",
        "must be <= 1, got 2",
    )


def test_override_of_a_missing_list_item_suggests_ids() -> None:
    p = only(GOOD, "funnel.cours.price=10")
    assert p.message == "no item 'cours' in funnel"
    assert p.hint == "did you mean 'course'?"


def test_overrides_reach_nested_keys_and_list_items_by_id_or_index() -> None:
    s = sim.parse_scenario(
        GOOD,
        overrides=[
            "funnel.course.price=297",
            "segments.warm.email.open_rate=0.5",
            "funnel.0.rate=0.2",
        ],
    )
    assert s.step("course").price == 297
    assert s.segments["warm"].email.open_rate == 0.5
    assert s.step("magnet").rate == 0.2


def test_override_without_equals_sign_is_refused() -> None:
    p = only(GOOD, "funnel.course.price")
    assert p.message.startswith("expected PATH=VALUE")


def test_unreadable_and_empty_files(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="cannot read the file"):
        sim.load_scenario(tmp_path / "missing.yaml")
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    with pytest.raises(ScenarioError, match="got an empty file"):
        sim.load_scenario(empty)


def test_error_lists_every_problem_in_its_message() -> None:
    text = GOOD.replace("rate: 0.3", "rate: 1.5")
    with pytest.raises(
        ScenarioError, match=r"f\.yaml:14:5: funnel\.magnet\.rate: must be <= 1, got 1\.5"
    ):
        sim.parse_scenario(text, source="f.yaml")


PEOPLE = (
    GOOD.replace("    mix: {warm: 1.0}\n", "    mix: {warm: 1.0}\n  friends: {type: referral}\n")
    + """\
  - id: calls
    type: sales_call
    after: magnet
    price: 5000
    team:
      - {name: ann, calls_per_day: 5, close_rate: 0.3}
      - {name: bob, calls_per_day: 4, close_rate: 0.2}
  - id: back
    type: winback
    on_decline: calls
    price: 900
    value: 1200
    take: 0.1
"""
)


def test_the_people_steps_scenario_is_accepted() -> None:
    s = sim.parse_scenario(PEOPLE)
    assert [rep.name for rep in s.step("calls").reps] == ["ann", "bob"]


@pytest.mark.parametrize(
    ("old", "new", "path", "message", "hint"),
    [
        pytest.param(
            "close_rate: 0.3}",
            "close_rate: 1.3}",
            "funnel.calls.team.0.close_rate",
            "must be <= 1, got 1.3",
            "write a share as a fraction: 0.013 for 1.3%",
            id="close-rate",
        ),
        pytest.param(
            "calls_per_day: 4,",
            "calls_a_day: 4,",
            "funnel.calls.team.1.calls_a_day",
            "unknown key 'calls_a_day'",
            "did you mean 'calls_per_day'?",
            id="rep-key",
        ),
        pytest.param(
            "{name: bob,",
            "{name: ann,",
            "funnel.calls.team.1.name",
            "duplicate rep name 'ann'",
            "give each rep their own name",
            id="rep-name",
        ),
        pytest.param(
            "on_decline: calls",
            "on_decline: cals",
            "funnel.back.on_decline",
            "no step has id 'cals'",
            "did you mean 'calls'?",
            id="winback-target",
        ),
        pytest.param(
            "on_decline: calls",
            "after: course",
            "funnel.back.after",
            "'course' is a step of type offer, expected optin",
            "",
            id="winback-cold-needs-optin",
        ),
        pytest.param(
            "    take: 0.3\n",
            "    take: 0.3\n    referral: {rate: 0.2, channel: web}\n",
            "funnel.course.referral.channel",
            "'web' is a channel of type organic, expected referral",
            "referred visitors arrive through a channel of type referral",
            id="referral-channel-type",
        ),
        pytest.param(
            "    take: 0.3\n",
            "    take: 0.3\n    referral: {rate: 0.2, channel: frends}\n",
            "funnel.course.referral.channel",
            "no channel named 'frends'",
            "did you mean 'friends'?",
            id="referral-channel-name",
        ),
        pytest.param(
            "    take: 0.3\n",
            "    take: 0.3\n    repeat: {r: 2, alpha: 0.5, a: 2, b: 3}\n",
            "funnel.course.repeat.alpha",
            "a mean of 4 repeat orders a day per customer (r / alpha = 2 / 0.5); at most 1 is allowed",
            "the rates are per day: one order a month on average is r / alpha = 1/30",
            id="repeat-rate-per-day",
        ),
        pytest.param(
            "    take: 0.3\n",
            "    take: 0.3\n    repeat: {r: 1, alpha: 10, a: 2, b: -1}\n",
            "funnel.course.repeat.b",
            "must be > 0, got -1",
            "",
            id="repeat-parameter",
        ),
    ],
)
def test_people_steps_bad_values_are_located(
    old: str, new: str, path: str, message: str, hint: str
) -> None:
    assert old in PEOPLE
    text = PEOPLE.replace(old, new, 1)
    found = {p.path: p for p in problems(text)}
    assert path in found, found
    problem = found[path]
    assert message in problem.message
    assert problem.hint == hint
    assert problem.file == "f.yaml"
    key = path.rsplit(".", 1)[-1]
    line = text.splitlines()[problem.line - 1]
    assert key in line or path.split(".")[2] in line, (problem, line)


def test_a_winback_needs_exactly_one_trigger() -> None:
    text = PEOPLE.replace("    on_decline: calls\n", "    on_decline: calls\n    after: magnet\n")
    problem = only(text)
    assert problem.path == "funnel.back"
    assert "exactly one trigger" in problem.message
