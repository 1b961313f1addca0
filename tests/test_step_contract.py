"""The contract every step kind and channel type keeps (sim/steps/_base.py: CompiledStep).

Adding a kind to STEP_KINDS without an example here fails `test_every_kind_has_an_example`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from conftest import base_spec, event_table, run_model
from sim.ledger import DAILY
from sim.model import FunnelModel
from sim.steps import STEP_KINDS

_OFFER = {"type": "offer", "price": 30, "value": 40, "take": 0.6, "trust_gain": 0.1}
_MAIL = {"id": "mails", "type": "email_sequence", "after": "magnet", "days": [0, 1, 2, 3]}

# kind -> steps added after the optin so that the kind is reached, by page and by email
KIND_EXAMPLES: dict[str, list[dict[str, Any]]] = {
    "optin": [],
    "email_sequence": [_MAIL],
    "offer": [
        _MAIL,
        {
            "id": "o_page",
            "after": "magnet",
            "delay_days": 1,
            **_OFFER,
            "refund": {"rate": 0.2, "within_days": 5},
        },
        {"id": "o_mail", "after": "magnet", "delay_days": 2, "via": "email", **_OFFER},
        {"id": "o_down", "on_decline": "o_page", "delay_days": 1, **_OFFER, "requires": []},
        {"id": "o_req", "after": "o_mail", "requires": ["o_page"], **_OFFER},
    ],
    "order_bump": [
        {"id": "o_page", "after": "magnet", **_OFFER},
        {
            "id": "bump",
            "type": "order_bump",
            "on": "o_page",
            "price": 10,
            "value": 20,
            "take": 0.4,
            "cogs": 3,
        },
    ],
    "subscription": [
        _MAIL,
        {
            "id": "club",
            "type": "subscription",
            "after": "magnet",
            "via": "email",
            "delay_days": 2,
            "price": 20,
            "first_price": 2,
            "value": 25,
            "take": 0.5,
            "period_days": 7,
            "churn": {"rate": 0.2, "shape": 0.8},
        },
    ],
    "sales_call": [
        _MAIL,
        {
            "id": "calls",
            "type": "sales_call",
            "after": "magnet",
            "delay_days": 1,
            "price": 100,
            "deal_spread": 0.3,
            "value": 150,
            "cogs": 20,
            "team": [
                {"name": "ann", "calls_per_day": 20, "close_rate": 0.4, "cost_per_day": 50},
                {"name": "bob", "calls_per_day": 10, "close_rate": 0.1},
            ],
            "order": "score",
            "cooling_per_day": 0.1,
            "max_wait_days": 3,
            "qualify": {"cost_per_lead": 1},
            "refund": {"rate": 0.1, "within_days": 5},
        },
        {"id": "after_call", "after": "calls", "delay_days": 2, **_OFFER},
    ],
    "winback": [
        _MAIL,
        {"id": "o_page", "after": "magnet", "delay_days": 1, **_OFFER},
        {
            "id": "wb",
            "type": "winback",
            "on_decline": "o_page",
            "delay_days": 3,
            "cost_per_contact": 0.5,
            "price": 15,
            "value": 40,
            "take": 0.3,
            "trust_gain": 0.1,
        },
        {
            "id": "wb_cold",
            "type": "winback",
            "after": "magnet",
            "delay_days": 6,
            "price": 10,
            "value": 40,
            "take": 0.3,
            "refund": {"rate": 0.2, "within_days": 3},
        },
    ],
    "stage": [
        {
            "id": "qualified",
            "type": "stage",
            "after": "magnet",
            "rate": 0.7,
            "days": {"median": 2, "spread": 0.5},
            "rots_after_days": 3,
        },
        {"id": "won", "type": "offer", "after": "qualified", **_OFFER},
    ],
    "payment": [
        {"id": "signed", "type": "stage", "after": "magnet", "rate": 0.5, "days": {"median": 3}},
        {
            "id": "paid",
            "type": "payment",
            "after": "signed",
            "price": 900,
            "deal_spread": 0.3,
            "cogs": 100,
            "delay": {"median": 5, "spread": 0.5},
            "never_pays": 0.1,
        },
    ],
    "cart": [
        {
            "id": "o_page",
            "after": "magnet",
            "delay_days": 1,
            "refund": {"rate": 0.2, "within_days": 5},
            **_OFFER,
        },
        {"id": "after_o", "type": "email_sequence", "after": "o_page", "days": [1]},
        {
            "id": "basket",
            "type": "cart",
            "offer": "o_page",
            "abandon_rate": 0.6,
            "reminders": [
                {"after_hours": 1, "recover_rate": 0.2},
                {"after_hours": 20, "recover_rate": 0.2},
                {"after_hours": 48, "recover_rate": 0.1},
            ],
            "cost_per_reminder": 0.01,
        },
    ],
}
CHANNELS: dict[str, dict[str, Any]] = {
    "paid": {"type": "paid", "daily_budget": 200, "cpc": 0.5, "half_saturation_budget": 100},
    "organic": {"type": "organic", "visitors_per_day": 300, "cost_per_day": 20},
    "partner": {"type": "partner", "visitors_per_day": 300, "commission": 0.3},
}
_NEEDS_SUBSCRIBED = {"email_opened", "email_ignored"}


def test_every_kind_has_an_example() -> None:
    assert set(KIND_EXAMPLES) == set(STEP_KINDS)


def _run(steps: list[dict[str, Any]], channel: str = "organic", seed: int = 5) -> FunnelModel:
    spec = base_spec(horizon_days=40, acquisition_days=10)
    spec["segments"]["s"]["junk_share"] = 0.2
    spec["segments"]["s"]["email"]["unsubscribe_rate"] = 0.2  # many unsubscribes to catch misuse
    spec["channels"] = {"c": {**CHANNELS[channel], "mix": {"s": 1.0}}}
    spec["funnel"] += steps
    return run_model(spec, seed)


@pytest.fixture(params=sorted(KIND_EXAMPLES), ids=str)
def model(request: pytest.FixtureRequest) -> FunnelModel:
    return _run(KIND_EXAMPLES[request.param])


def test_never_converts_more_than_reached(model: FunnelModel) -> None:
    t = model.ledger.steps
    assert (t["converted"] <= t["reached"]).all()
    assert t["reached"].sum() > 0


def test_money_and_counts_are_never_negative(model: FunnelModel) -> None:
    for name in DAILY:
        assert (model.ledger.daily[name] >= 0).all(), name
    for name, tally in model.ledger.steps.items():
        assert (tally >= 0).all(), name


def test_buyers_were_shown_the_offer_that_day(model: FunnelModel) -> None:
    ev = event_table(model)
    met = ev[ev.event.isin(["shown", "call"])]  # a sales step sells on a call
    shown = set(map(tuple, met[["visitor", "day", "step"]].to_numpy()))
    bought = ev[ev.event.isin(["buy", "subscribe"])][["visitor", "day", "step"]]
    invoiced = ev[ev.event == "invoiced"]  # a payment is made some days after the invoice
    due = set(map(tuple, invoiced[["visitor", "step"]].to_numpy()))
    late = bought.set_index(["visitor", "step"]).index.isin(list(due))
    assert all(tuple(row) in shown for row in bought[~late].to_numpy())
    first = invoiced.groupby(["visitor", "step"]).day.min()
    paid = bought[late].set_index(["visitor", "step"]).day
    assert (paid >= first.loc[paid.index].to_numpy()).all()


def test_no_action_after_leaving_or_unsubscribing(model: FunnelModel) -> None:
    for _, journey in event_table(model).groupby("visitor", sort=False):
        events = journey.event.tolist()
        if "leave" in events:
            assert events[-1] == "leave"
            assert events[:-1] == ["arrive"]
        if "unsubscribe" in events:
            after = events[events.index("unsubscribe") + 1 :]
            assert not _NEEDS_SUBSCRIBED & set(after), events


def test_junk_leads_never_buy(model: FunnelModel) -> None:
    pop = model.population
    assert not (pop.column("junk") & (pop.column("bought") != 0)).any()


def test_same_seed_same_books() -> None:
    steps = KIND_EXAMPLES["offer"] + KIND_EXAMPLES["subscription"][1:]
    a, b = _run(steps, seed=9), _run(steps, seed=9)
    for name in DAILY:
        np.testing.assert_array_equal(a.ledger.daily[name], b.ledger.daily[name])
    pd.testing.assert_frame_equal(event_table(a), event_table(b))


@pytest.mark.parametrize("channel", sorted(CHANNELS))
def test_every_channel_type_brings_visitors_at_a_cost(channel: str) -> None:
    model = _run(KIND_EXAMPLES["order_bump"], channel=channel)
    daily = model.ledger.daily
    assert daily["visitors"][:10].min() > 0
    assert daily["visitors"][10:].sum() == 0
    assert (daily["spend"] >= 0).all()
    if channel != "partner":
        assert daily["spend"][10:].sum() == 0  # spend stops with acquisition
    assert model.ledger.channel_visitors.sum() == daily["visitors"].sum()
