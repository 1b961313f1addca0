"""The engine against expectations computed by hand (docs/model.md), within 4 standard errors.

Every count below is a Poisson number of arrivals thinned by independent per-visitor
chances, so it is Poisson itself and its standard error follows from its mean; where a
figure is compound (subscription renewals), the SE is the replications' own.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import lognorm

import sim
from conftest import assert_within_4se, base_spec, poisson_se_of_mean, scenario_from
from sim.behavior import paid_clicks

SIGMA, TRUST, JUNK = 0.5, 0.6, 0.1


def accept(price: float, value: float) -> float:
    """P(wtp_scale * value >= price) for wtp_scale ~ LogNormal(0, SIGMA), via scipy."""
    return float(lognorm(s=SIGMA).sf(price / value))


def offer(step_id: str, **fields: object) -> dict[str, object]:
    return {"id": step_id, "type": "offer", "value": 50, "take": 0.5, **fields}


@pytest.fixture(scope="module")
def page_funnel() -> sim.RunResult:
    """Optin -> offer (page) -> upsell after purchase, bump on it, downsell on decline."""
    spec = base_spec()
    spec["segments"]["s"]["junk_share"] = JUNK
    spec["costs"] = {"payment_fee": 0.03}
    spec["funnel"] += [
        offer(
            "o1",
            after="magnet",
            delay_days=2,
            price=40,
            trust_gain=0.2,
            refund={"rate": 0.1, "within_days": 14},
        ),
        {"id": "bump", "type": "order_bump", "on": "o1", "price": 15, "value": 30, "take": 0.4},
        offer("o2", after="o1", price=90, value=100, take=0.4),
        offer("o3", on_decline="o1", delay_days=1, price=20),
    ]
    return sim.run_scenario(scenario_from(spec))


def step_mean(result: sim.RunResult, step: str, figure: str = "converted") -> float:
    return float(result.replications[f"{step}.{figure}"].mean())


def test_visitors_and_leads_are_poisson_thinned(page_funnel: sim.RunResult) -> None:
    n = len(page_funnel.replications)
    visitors, leads = 500 * 10, 500 * 10 * 0.4
    got = page_funnel.replications
    assert_within_4se(got["visitors"].mean(), visitors, poisson_se_of_mean(visitors, n), "visitors")
    assert_within_4se(got["leads"].mean(), leads, poisson_se_of_mean(leads, n), "leads")


def test_page_offer_buyers_follow_take_trust_and_price_response(page_funnel: sim.RunResult) -> None:
    n = len(page_funnel.replications)
    expected = 2000 * (1 - JUNK) * 0.5 * TRUST * accept(40, 50)
    assert_within_4se(
        step_mean(page_funnel, "o1"), expected, poisson_se_of_mean(expected, n), "o1 buyers"
    )
    refunded = expected * 0.1
    assert_within_4se(
        step_mean(page_funnel, "o1", "refunded"),
        refunded,
        poisson_se_of_mean(refunded, n),
        "o1 refunds",
    )


def test_upsell_sees_the_same_willingness_to_pay(page_funnel: sim.RunResult) -> None:
    # bought o1 (wtp >= 0.8) and o2 (wtp >= 0.9): the wtp draw is the visitor's own
    n = len(page_funnel.replications)
    expected = 2000 * (1 - JUNK) * 0.5 * TRUST * 0.4 * (TRUST + 0.2) * accept(90, 100)
    assert_within_4se(
        step_mean(page_funnel, "o2"), expected, poisson_se_of_mean(expected, n), "o2 buyers"
    )


def test_downsell_reaches_decliners_only(page_funnel: sim.RunResult) -> None:
    n = len(page_funnel.replications)
    t = 0.5 * TRUST
    both = accept(40, 50)  # max(0.8, 0.4): affording o1 implies affording o3
    expected = 2000 * (1 - JUNK) * t * (accept(20, 50) - t * both)
    assert_within_4se(
        step_mean(page_funnel, "o3"), expected, poisson_se_of_mean(expected, n), "o3 buyers"
    )
    shown_o1, bought_o1 = step_mean(page_funnel, "o1", "reached"), step_mean(page_funnel, "o1")
    assert step_mean(page_funnel, "o3", "reached") == pytest.approx(shown_o1 - bought_o1)


def test_order_bump_joins_the_parent_order(page_funnel: sim.RunResult) -> None:
    n = len(page_funnel.replications)
    expected = 2000 * (1 - JUNK) * 0.5 * TRUST * accept(40, 50) * 0.4 * (TRUST + 0.2)
    assert_within_4se(
        step_mean(page_funnel, "bump"), expected, poisson_se_of_mean(expected, n), "bump"
    )
    reps = page_funnel.replications
    offers = reps["o1.converted"] + reps["o2.converted"] + reps["o3.converted"]
    np.testing.assert_array_equal(reps["orders"], offers)
    revenue = 40 * reps["o1.converted"] + 15 * reps["bump.converted"] + 90 * reps["o2.converted"]
    np.testing.assert_allclose(reps["revenue"], revenue + 20 * reps["o3.converted"])


def test_money_identities_hold_in_every_replication(page_funnel: sim.RunResult) -> None:
    r = page_funnel.replications
    np.testing.assert_allclose(r["fees"], 0.03 * r["revenue"])
    costs = r["cogs"] + r["acquisition"] + r["fixed_costs"]
    np.testing.assert_array_equal(costs, 0.0)  # fees are the only cost besides traffic here
    np.testing.assert_allclose(r["gross_profit"], r["revenue"] - r["refunds"] - 0.03 * r["revenue"])
    np.testing.assert_allclose(r["profit"], r["gross_profit"] - r["traffic_spend"])
    np.testing.assert_allclose(r["aov"], r["revenue"] / r["orders"])
    np.testing.assert_allclose(r["cr1"], r["leads"] / r["visitors"])
    daily = page_funnel.daily.groupby("replication")[["revenue", "refunds", "cash"]].sum()
    np.testing.assert_allclose(daily["revenue"], r["revenue"])
    np.testing.assert_allclose(daily["cash"], r["profit"])


def test_email_offer_reaches_subscribed_openers_warmed_by_earlier_emails() -> None:
    spec = base_spec()
    spec["segments"]["s"]["junk_share"] = JUNK
    spec["funnel"] += [
        {"id": "nurture", "type": "email_sequence", "after": "magnet", "days": [0, 1, 2]},
        offer("mail", after="magnet", delay_days=3, via="email", price=40),
    ]
    result = sim.run_scenario(scenario_from(spec))
    n, u, o, g = len(result.replications), 0.05, 0.3, 0.1
    shown = 2000 * (1 - u) ** 3 * o
    assert_within_4se(
        step_mean(result, "mail", "reached"), shown, poisson_se_of_mean(shown, n), "shown"
    )
    trust = TRUST + g * 3 * o + g  # opens among 3 emails, plus the offer email itself
    bought = 2000 * (1 - JUNK) * (1 - u) ** 3 * o * 0.5 * trust * accept(40, 50)
    assert_within_4se(step_mean(result, "mail"), bought, poisson_se_of_mean(bought, n), "buyers")
    # emails per lead X: 1, 2 or 3 (stops at the first unsubscribe); the total over a
    # Poisson(2000) number of leads is compound Poisson with variance 2000 * E[X^2]
    p_x = {1: u, 2: (1 - u) * u, 3: (1 - u) ** 2}
    sent = 2000 * sum(x * p for x, p in p_x.items())
    var = 2000 * sum(x * x * p for x, p in p_x.items())
    assert_within_4se(step_mean(result, "nurture", "reached"), sent, math.sqrt(var / n), "sent")


def test_subscription_payments_follow_discrete_weibull_survival() -> None:
    spec = base_spec(horizon_days=365, acquisition_days=1)
    spec["channels"]["web"]["visitors_per_day"] = 5000
    spec["funnel"].append(
        {
            "id": "club",
            "type": "subscription",
            "after": "magnet",
            "price": 20,
            "first_price": 2,
            "value": 30,
            "take": 0.5,
            "period_days": 30,
            "churn": {"rate": 0.1, "shape": 0.7},
        }
    )
    result = sim.run_scenario(scenario_from(spec))
    reps, n = result.replications, len(result.replications)
    joiners = 2000 * 0.5 * TRUST * accept(2, 30)
    assert_within_4se(
        reps["club.converted"].mean(), joiners, poisson_se_of_mean(joiners, n), "joiners"
    )
    billable = 364 // 30  # renewals on days 30, 60, ..., 360
    # only joiners who can afford the renewal price renew: S(20) / S(2) of them
    renewable = accept(20, 30) / accept(2, 30)
    per_joiner = renewable * sum(0.9 ** (k**0.7) for k in range(1, billable + 1))
    renewals = reps["club.payments"] - reps["club.converted"]
    ratio = renewals / reps["club.converted"]
    assert_within_4se(
        ratio.mean(), per_joiner, ratio.std(ddof=1) / math.sqrt(n), "renewals per joiner"
    )
    np.testing.assert_allclose(reps["club.revenue"], 2 * reps["club.converted"] + 20 * renewals)
    np.testing.assert_array_equal(
        reps["club.churned"] + reps["club.active_at_end"], reps["club.converted"]
    )


def test_paid_channel_buys_clicks_on_the_hill_curve() -> None:
    spec = base_spec()
    spec["channels"] = {
        "ads": {
            "type": "paid",
            "daily_budget": 300,
            "cpc": 0.5,
            "half_saturation_budget": 200,
            "mix": {"s": 1},
        }
    }
    result = sim.run_scenario(scenario_from(spec))
    k = 200 / (math.sqrt(2) - 1)
    visitors = 10 * (k / 0.5) * 300 / (k + 300)
    assert visitors == pytest.approx(10 * paid_clicks(300, 0.5, 200))
    n = len(result.replications)
    assert_within_4se(
        result.replications["visitors"].mean(), visitors, poisson_se_of_mean(visitors, n), "clicks"
    )
    assert (result.replications["traffic_spend"] == 3000).all()


def test_partner_is_paid_its_share_of_revenue() -> None:
    spec = base_spec()
    spec["channels"] = {
        "blog": {"type": "partner", "visitors_per_day": 500, "commission": 0.2, "mix": {"s": 1}}
    }
    spec["funnel"].append(offer("o1", after="magnet", price=40))
    r = sim.run_scenario(scenario_from(spec), replications=5).replications
    assert (r["revenue"] > 0).all()
    np.testing.assert_allclose(r["traffic_spend"], 0.2 * r["revenue"])
