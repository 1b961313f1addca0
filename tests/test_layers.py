"""Engagement layers: counts against closed forms, identities of the books, checks, trace.

A lead's layer is the last whose rule holds. With a welcome series of two emails, each
clicked with probability ``q = open_rate · click_rate`` (the visitor's own draws, one per
email, no unsubscribes), the number of clicks is Binomial(2, q), so of L leads
``L (1 − (1 − q)²)`` ever enter "interested" (one click) and ``L q²`` enter "keen" (two).
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pytest

import sim
from conftest import assert_within_4se, base_spec, refusals, scenario_from
from sim.errors import ScenarioError
from sim.html_report import report_html
from sim.report import funnel_table, write_outputs
from sim.run_folder import read_run_folder
from sim.trace import trace_scenario

OPEN, CLICK = 0.3, 0.5
Q = OPEN * CLICK


def _spec(**more: Any) -> dict[str, Any]:
    spec = base_spec(replications=12)
    spec["segments"]["s"]["email"] |= {"unsubscribe_rate": 0.0, "click_rate": CLICK}
    spec["funnel"].append(
        {"id": "welcome", "type": "email_sequence", "after": "magnet", "days": [0, 1]}
    )
    spec["layers"] = {
        "new": {},
        "interested": {"on": {"clicked": "welcome"}},
        "keen": {"on": {"clicked": "welcome", "times": 2}},
    }
    spec.update(more)
    return spec


def _binomial(rows: Any, column: str, leads: np.ndarray, p: float, what: str) -> None:
    got = rows[column].to_numpy(dtype=float)
    se = math.sqrt(float(leads.sum()) * p * (1 - p)) / leads.size
    assert_within_4se(float(got.mean()), float(leads.mean()) * p, se, f"{what} (p {p:.4f})")


def test_layer_counts_match_the_binomial_of_clicks() -> None:
    run = sim.run_scenario(scenario_from(_spec()))
    rows = run.replications
    leads = rows["magnet.converted"].to_numpy(dtype=float)
    one = 1 - (1 - Q) ** 2
    _binomial(rows, "layers.interested.entered", leads, one, "entered interested")
    _binomial(rows, "layers.keen.entered", leads, Q**2, "entered keen")
    _binomial(rows, "layers.new.at_end", leads, (1 - Q) ** 2, "still new")
    _binomial(rows, "layers.interested.at_end", leads, one - Q**2, "interested at the end")
    # every lead sits in exactly one layer; the daily series ends where the figures do
    at_end = sum(rows[f"layers.{n}.at_end"].to_numpy() for n in ("new", "interested", "keen"))
    np.testing.assert_array_equal(at_end, leads)
    np.testing.assert_array_equal(rows["layers.new.entered"].to_numpy(), leads)
    last = run.daily.groupby("replication").tail(1)
    for name in ("new", "interested", "keen"):
        np.testing.assert_array_equal(
            last[f"layer.{name}"].to_numpy(), rows[f"layers.{name}.at_end"].to_numpy()
        )
    assert set(run.summary.to_dict()["layers"]) == {"new", "interested", "keen"}


def test_a_step_addressed_to_a_layer_reaches_only_the_leads_in_it() -> None:
    spec = _spec()
    spec["funnel"].append(
        {"id": "news", "type": "email_sequence", "after": "magnet", "days": [5], "to_layer": "new"}
    )
    rows = sim.run_scenario(scenario_from(spec)).replications
    # no one moves after day 1, so the newsletter goes to exactly those still new at the end
    np.testing.assert_array_equal(rows["news.reached"], rows["layers.new.at_end"])
    assert rows["news.reached"].sum() > 0


def test_buyers_and_recovered_carts_move_to_the_customers_layer() -> None:
    spec = base_spec(replications=6)
    spec["funnel"] += [
        {"id": "deal", "type": "offer", "after": "magnet", "price": 40, "value": 60, "take": 0.5},
        {
            "id": "cart",
            "type": "cart",
            "offer": "deal",
            "abandon_rate": 0.5,
            "reminders": [{"after_hours": 2, "recover_rate": 0.5}],
        },
    ]
    spec["layers"] = {"leads": {}, "customers": {"on": {"bought": "any"}}}
    rows = sim.run_scenario(scenario_from(spec)).replications
    np.testing.assert_array_equal(rows["layers.customers.entered"], rows["buyers"])
    assert rows["cart.converted"].sum() > 0


def test_checks_refuse_a_layer_no_rule_leads_into() -> None:
    spec = _spec()
    spec["funnel"].append(
        {"id": "deal", "type": "offer", "after": "magnet", "price": 40, "value": 60, "take": 0.5}
    )
    spec["funnel"].append(
        {"id": "news", "type": "email_sequence", "after": "magnet", "days": [5], "to_layer": "vip"}
    )
    spec["layers"] = {
        "new": {"on": {"opened": "welcome"}},
        "lost": {},
        "browsed": {"on": {"clicked": "deal"}},  # an offer on a page is never clicked
        "fan": {"on": {"opened": "nowhere"}},
        "buyer": {"on": {"bought": "deal"}},  # fine
        "collector": {"on": {"bought": "deal", "times": 2}},  # one offer is bought once
    }
    found = "\n".join(refusals(spec))
    assert "layers.new.on: 'new' is the first layer" in found, found
    assert "layers.lost: no rule leads into layer 'lost'" in found, found
    assert "layers.browsed.on.clicked: no rule leads into layer 'browsed'" in found, found
    assert "layers.fan.on.opened: no step has id 'nowhere'" in found, found
    assert "funnel.news.to_layer: no layer named 'vip'" in found, found
    assert "layers.collector.on.times: no rule leads into layer 'collector'" in found, found
    assert "'buyer'" not in found, found


def test_a_refused_layer_is_located_by_file_and_line() -> None:
    text = "\n".join(
        [
            "name: t",
            "horizon_days: 30",
            "acquisition_days: 5",
            "segments: {s: {}}",
            "channels: {web: {type: organic, visitors_per_day: 10, mix: {s: 1}}}",
            "funnel:",
            "  - {id: magnet, type: optin, rate: 0.5}",
            "layers:",
            "  new: {}",
            "  lost: {}",
        ]
    )
    with pytest.raises(ScenarioError) as info:
        sim.parse_scenario(text, source="layers.yaml")
    (problem,) = info.value.problems
    assert (problem.file, problem.line, problem.path) == ("layers.yaml", 10, "layers.lost")


def test_the_trace_shows_each_move_and_click() -> None:
    trace = trace_scenario(scenario_from(_spec(replications=1)))
    keen = trace.events[(trace.events.event == "layer")]
    assert keen.size > 0
    visitor = int(keen[keen.amount == 2].visitor.iloc[0])  # moved to the third layer, keen
    lines = trace.journey(visitor).lines
    moves = [line.who for line in lines if line.what == "layer"]
    assert moves == ["new", "interested", "keen"], moves
    clicks = [line.day for line in lines if line.what == "email_clicked"]
    assert len(clicks) == 2, lines


def test_the_funnel_table_and_the_report_show_the_layers(tmp_path: Any) -> None:
    spec = _spec(replications=2)
    run = sim.run_scenario(scenario_from(spec), breakdown=True)
    rows = [str(cell) for cell in funnel_table(run.summary, {}).columns[0].cells]
    assert rows[-3:] == ["new", "interested", "keen"], rows
    write_outputs(run, tmp_path, scenario_text=json.dumps(spec))
    page = report_html(read_run_folder(tmp_path))
    assert "<section id='layers'>" in page
    assert "chart-layers" in page


def test_a_move_is_traced_after_the_purchase_that_caused_it() -> None:
    """The log writes a buyer's move as the purchase is marked, before the payment."""
    trace = trace_scenario(sim.load_scenario("scenarios/email_layers.yaml"))
    to_customers = trace.events[(trace.events.event == "layer") & (trace.events.step == "offer")]
    assert to_customers.size > 0
    for visitor in to_customers.visitor.unique()[:5]:
        lines = trace.journey(int(visitor)).lines
        at = [(line.day, line.step, line.what) for line in lines]
        moved = next(i for i, line in enumerate(lines) if line.who == "customers")
        day = lines[moved].day
        assert at[moved - 1] == (day, "offer", "buy"), at
        assert lines[moved].trust == lines[moved - 1].trust
