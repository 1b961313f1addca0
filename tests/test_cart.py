"""Abandoned carts and their reminders, against closed forms.

The buy decisions are each visitor's own draws, so the same scenario with and without a
cart has the same would-be buyers B; given B, the recovered carts of a replication are
binomial with n = B and p = abandon · (1 − Π(1 − r_k)).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import sim
from conftest import assert_within_4se, base_spec, scenario_from
from sim.errors import ScenarioError

PRICE = 40.0
OFFER = {"id": "deal", "type": "offer", "after": "magnet", "price": PRICE, "value": 50, "take": 0.5}


def _run(cart: dict[str, object] | None) -> sim.RunResult:
    spec = base_spec()
    spec["segments"]["s"]["email"]["unsubscribe_rate"] = 0.0
    spec["funnel"].append(dict(OFFER))
    if cart is not None:
        spec["funnel"].append({"id": "cart", "type": "cart", "offer": "deal", **cart})
    return sim.run_scenario(scenario_from(spec))


def test_reminders_recover_the_closed_form_share_of_abandoned_carts() -> None:
    abandon, rates = 0.7, (0.1, 0.08, 0.05)
    reminders = [
        {"after_hours": h, "recover_rate": r} for h, r in zip((1, 24, 72), rates, strict=True)
    ]
    plain = _run(None).replications
    carted = _run(
        {"abandon_rate": abandon, "reminders": reminders, "cost_per_reminder": 0.01}
    ).replications
    would = plain["deal.converted"].to_numpy(dtype=float)
    n = would.size
    p = abandon * (1 - math.prod(1 - r for r in rates))
    recovered = carted["cart.converted"].to_numpy(dtype=float)
    se = math.sqrt(float(would.sum()) * p * (1 - p)) / n
    assert_within_4se(
        float(recovered.mean()), float(would.mean()) * p, se, f"recovered (p {p:.4f})"
    )
    left = carted["cart.reached"].to_numpy(dtype=float)
    se_left = math.sqrt(float(would.sum()) * abandon * (1 - abandon)) / n
    assert_within_4se(float(left.mean()), float(would.mean()) * abandon, se_left, "abandoned")
    # a started checkout is no buyer; a recovered cart is a purchase of the offer at its price
    bought = carted["deal.converted"].to_numpy(dtype=float)
    np.testing.assert_array_equal(bought, would - left + recovered)
    np.testing.assert_allclose(carted["deal.revenue"].to_numpy(dtype=float), PRICE * bought)


def test_reminders_on_one_day_act_one_after_the_other() -> None:
    """Hours 1 and 23 both act on the checkout's day: a lead is recovered at most once."""
    rates = (0.5, 0.5)
    reminders = [{"after_hours": h, "recover_rate": r} for h, r in zip((1, 23), rates, strict=True)]
    carted = _run({"abandon_rate": 1.0, "reminders": reminders}).replications
    left = carted["cart.reached"].to_numpy(dtype=float)
    recovered = carted["cart.converted"].to_numpy(dtype=float)
    p = 1 - 0.5 * 0.5
    se = math.sqrt(float(left.sum()) * p * (1 - p)) / left.size
    assert_within_4se(float(recovered.mean()), float(left.mean()) * p, se, "recovered same day")
    # the second reminder goes to those the first did not win back (half of them)
    second = carted["cart.reminders"].to_numpy(dtype=float) - left
    se2 = math.sqrt(float(left.sum()) * 0.25) / left.size
    assert_within_4se(float(second.mean()), float(left.mean()) * 0.5, se2, "second reminders")


def test_an_offer_has_at_most_one_checkout() -> None:
    spec = base_spec()
    spec["funnel"].append(dict(OFFER))
    cart = {"type": "cart", "offer": "deal", "abandon_rate": 0.5}
    spec["funnel"] += [{"id": "cart", **cart}, {"id": "cart2", **cart}]
    with pytest.raises(ScenarioError) as info:
        scenario_from(spec)
    (problem,) = info.value.problems
    assert problem.path == "funnel.cart2.offer", problem
    assert "already has a checkout" in problem.message, problem
