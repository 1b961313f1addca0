"""Renewal prices against willingness to pay, value still to come, and what a refund undoes.

Oracles are closed forms computed here with scipy (lognormal acceptance, geometric and
BG/NBD expectations), not with the engine's own functions; tolerances are 4 standard errors
of the replications' own spread.
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pandas as pd
from scipy.optimize import minimize_scalar
from scipy.special import hyp2f1
from scipy.stats import lognorm

import sim
from conftest import assert_within_4se, base_spec, event_table, run_model, scenario_from
from optimize import StudyConfig, optimize_scenario
from sim.tail import expected_repeats

SIGMA = 0.5  # base_spec's price dispersion


def accept(price: float, value: float) -> float:
    """P(wtp_scale · value ≥ price), wtp_scale ~ LogNormal(0, SIGMA)."""
    return float(lognorm(s=SIGMA).sf(price / value))


def se_of_mean(values: pd.Series) -> float:
    return float(values.std(ddof=1) / math.sqrt(len(values)))


# --- price reaches renewals ------------------------------------------------------------------


def plan_spec(price: float, **top: Any) -> dict[str, Any]:
    """A day of visitors, all opt in; a subscription at $2 the first month, then ``price``."""
    spec = base_spec(**{"horizon_days": 181, "acquisition_days": 1, **top})
    spec["channels"]["web"]["visitors_per_day"] = 4000
    spec["funnel"][0]["rate"] = 1.0
    spec["funnel"].append(
        {
            "id": "plan",
            "type": "subscription",
            "after": "magnet",
            "price": price,
            "first_price": 2,
            "value": 30,
            "take": 0.5,
            "period_days": 30,
            "churn": {"rate": 0.1, "shape": 1.0},
        }
    )
    return spec


def renewals(result: sim.RunResult) -> pd.Series:
    reps = result.replications
    return reps["plan.payments"] - reps["plan.converted"]


def test_tripling_the_renewal_price_changes_renewals_as_the_closed_form_says() -> None:
    low = sim.run_scenario(scenario_from(plan_spec(20)))
    high = sim.run_scenario(scenario_from(plan_spec(60)))
    joiners = low.replications["plan.converted"]
    assert (joiners == high.replications["plan.converted"]).all()  # decided at the first price
    # per joiner: P(wtp covers the renewal price | covered $2) · Σ_k q^k over 6 renewals
    survived = sum(0.9**k for k in range(1, 180 // 30 + 1))
    per_joiner = {p: accept(p, 30) / accept(2, 30) * survived for p in (20, 60)}
    change = renewals(high) - renewals(low)
    expected = joiners * (per_joiner[60] - per_joiner[20])
    assert_within_4se(
        (change - expected).mean(), 0.0, se_of_mean(change - expected), "renewals $20 → $60"
    )
    priced_out = event_table(run_model(plan_spec(60))).query("event == 'churn_price'")
    assert len(priced_out) > 0  # those who cannot pay $60 leave at the first renewal
    assert (priced_out.day == 30).all()


def test_the_optimizer_finds_the_renewal_price_the_closed_form_gives() -> None:
    """One renewal, nobody churns: profit in the renewal price is N·S(p)/S(p₁)·(p − cogs)."""
    value, cogs = 100.0, 10.0
    spec: dict[str, Any] = {
        "name": "renewal price",
        "horizon_days": 31,
        "acquisition_days": 1,
        "seed": 3,
        "replications": 4,
        "segments": {"s": {"price_dispersion": SIGMA, "trust": 1.0}},
        "channels": {"web": {"type": "organic", "visitors_per_day": 20000, "mix": {"s": 1}}},
        "funnel": [
            {"id": "m", "type": "optin", "rate": 1.0},
            {
                "id": "plan",
                "type": "subscription",
                "after": "m",
                "price": 50,
                "first_price": 1,
                "value": value,
                "take": 1.0,
                "cogs": cogs,
                "churn": {"rate": 0.0},
            },
        ],
        "search": {"funnel.plan.price": {"low": 20, "high": 400, "log": True}},
        "objective": {"maximize": "profit"},
    }
    config = StudyConfig(json.dumps(spec), "renewal", storage="memory", trials=40, prune=False)
    found = optimize_scenario(config, top_k=3).best.params["funnel.plan.price"]
    best = minimize_scalar(
        lambda p: -(p - cogs) * lognorm(s=SIGMA).sf(p / value), bounds=(20, 400), method="bounded"
    ).x
    assert abs(found / best - 1) < 0.05, f"found {found:.2f}, closed form {best:.2f}"


# --- value still to come ---------------------------------------------------------------------


def test_tail_of_flat_churn_subscribers_is_the_geometric_sum() -> None:
    """Everyone joins on day 0; active ones have paid 3 renewals by day 99 (days 30, 60, 90)."""
    rate, q, price, fee, cogs, years = 0.08, 0.9, 20.0, 0.03, 4.0, 1.0
    spec = plan_spec(price, horizon_days=100, costs={"payment_fee": fee})
    spec["funnel"][1].update(first_price=None, cogs=cogs)
    spec["costs"] |= {"discount_rate": rate, "tail_years": years}
    result = sim.run_scenario(scenario_from(spec))
    reps = result.replications
    # renewals 4 … 15 fall on days 120 … 450 < 100 + 365; each paid with chance q^(k − 3)
    v = (1 + rate) ** (-30 / 365)
    m = (100 + 365 - 1) // 30 - 3
    geometric = (1 + rate) ** (-90 / 365) * q * v * (1 - (q * v) ** m) / (1 - q * v)
    per_active = geometric * (price * (1 - fee) - cogs)
    np.testing.assert_allclose(reps["tail_value"], reps["plan.active_at_end"] * per_active)
    # and what they do bring: run on for the year, the same subscribers, the same draws
    longer = sim.run_scenario(scenario_from({**spec, "horizon_days": 465}))
    days = longer.daily
    later = days[days.day >= 100]
    worth = (1 + rate) ** (-later.day / 365)
    brought = (
        ((later.revenue - later.cogs - later.fees) * worth)
        .groupby(later.replication)
        .sum()
        .to_numpy()
    )
    gap = pd.Series(brought - reps["tail_value"].to_numpy())
    assert_within_4se(gap.mean(), 0.0, se_of_mean(gap), "renewals after the horizon")
    assert reps["npv"].mean() < reps["profit"].mean()  # discounting lowers a positive cash flow


def bgnbd_expected(t: float, r: float, alpha: float, a: float, b: float) -> float:
    """E[X(t)] of the BG/NBD (Fader, Hardie and Lee 2005, eq. 7), via scipy's ₂F₁."""
    z = t / (alpha + t)
    return (a + b - 1) / (a - 1) * (1 - (alpha / (alpha + t)) ** r * hyp2f1(r, b, a + b - 1, z))


def test_tail_of_repeat_buyers_is_the_bgnbd_expectation() -> None:
    """Averaged over buyers, E[Y(t) | history] is E[X(T + t)] − E[X(T)] (total expectation)."""
    r, alpha, a, b, horizon, years, price = 2.0, 60.0, 3.0, 6.0, 90, 2.0, 25.0
    spec = base_spec(horizon_days=horizon, acquisition_days=1)
    spec["channels"]["web"]["visitors_per_day"] = 3000
    spec["funnel"].append(
        {
            "id": "shop",
            "type": "offer",
            "after": "magnet",
            "price": price,
            "value": 40,
            "take": 0.8,
            "repeat": {"r": r, "alpha": alpha, "a": a, "b": b},
        }
    )
    spec["costs"] = {"tail_years": years}
    reps = sim.run_scenario(scenario_from(spec)).replications
    per_buyer = reps["tail_value"] / (price * reps["shop.converted"])
    tail = years * 365
    expected = bgnbd_expected(horizon + tail, r, alpha, a, b) - bgnbd_expected(
        horizon, r, alpha, a, b
    )
    assert_within_4se(per_buyer.mean(), expected, se_of_mean(per_buyer), "repeat orders to come")
    assert (reps["ltv_with_tail"] > reps["ltv"]).all()


# --- refunds, stated -------------------------------------------------------------------------


def refund_spec(**first: Any) -> dict[str, Any]:
    """An offer everyone is refunded (the day after), and one that requires it, later."""
    spec = base_spec(horizon_days=40, acquisition_days=5)
    spec["funnel"] += [
        {
            "id": "kit",
            "type": "offer",
            "after": "magnet",
            "price": 20,
            "value": 40,
            "take": 0.8,
            "refund": {"rate": 1.0, "within_days": 1},
            **first,
        },
        {
            "id": "course",
            "type": "offer",
            "after": "magnet",
            "delay_days": 3,
            "price": 20,
            "value": 40,
            "take": 0.8,
            "requires": ["kit"],
        },
    ]
    return spec


def test_a_refunded_purchase_no_longer_meets_requires_but_the_buyer_still_counts() -> None:
    reps = sim.run_scenario(scenario_from(refund_spec()), replications=4).replications
    assert (reps["kit.refunded"] == reps["kit.converted"]).all()
    assert (reps["course.reached"] == 0).all()  # shown 3 days later: refunded by then
    assert (reps["buyers"] == reps["kit.converted"]).all()  # the refunded still bought
    kept = refund_spec(refund={"rate": 0.0, "within_days": 1})
    kept_reps = sim.run_scenario(scenario_from(kept), replications=4).replications
    assert (kept_reps["course.reached"] == kept_reps["kit.converted"]).all()


def test_no_repeat_order_on_or_after_the_refund_day() -> None:
    repeat = {"r": 1.0, "alpha": 5.0, "a": 2.0, "b": 3.0}
    spec = refund_spec(repeat=repeat, refund={"rate": 0.5, "within_days": 10})
    ev = event_table(run_model(spec))
    refunds = ev[ev.event == "refund"].set_index("visitor").day
    repeats = ev[ev.event == "repeat"]
    of_refunded = repeats[repeats.visitor.isin(refunds.index)]
    assert len(of_refunded) > 0
    assert len(repeats) > len(of_refunded)
    assert (of_refunded.day.to_numpy() < refunds.loc[of_refunded.visitor].to_numpy()).all()


def test_friends_due_after_the_refund_day_do_not_come() -> None:
    spec = refund_spec(referral={"rate": 2.0, "delay_days": 3, "channel": "friends"})
    spec["channels"]["friends"] = {"type": "referral"}
    refunded = sim.run_scenario(scenario_from(spec), replications=4)
    assert (refunded.replications["kit.referred"] == 0).all()
    assert (refunded.daily["referred"] == 0).all()
    spec["funnel"][1]["refund"]["rate"] = 0.0
    kept = sim.run_scenario(scenario_from(spec), replications=4)
    assert (kept.replications["kit.referred"] > 0).all()
    assert (
        kept.replications["kit.referred"] == kept.daily.groupby("replication").referred.sum()
    ).all()


def test_the_conditional_expectation_matches_customers_with_that_history() -> None:
    """BG/NBD customers simulated here: those with a given history buy, on average, what
    E[Y(t) | x, t_x, T] says (Fader, Hardie and Lee 2005, eq. 10), for each history group."""
    r, alpha, a, b, big_t, t, n = 2.0, 60.0, 3.0, 6.0, 90.0, 365.0, 200_000
    rng = np.random.default_rng(11)
    lam = rng.gamma(r, 1 / alpha, n)
    leaves_after = rng.geometric(rng.beta(a, b, n))  # the purchase after which each drops out
    clock, x, t_x, later = np.zeros(n), np.zeros(n), np.zeros(n), np.zeros(n)
    alive = np.arange(n)
    k = 0
    while alive.size:
        k += 1
        clock[alive] += rng.exponential(1 / lam[alive])
        alive = alive[clock[alive] < big_t + t]
        seen = alive[clock[alive] < big_t]
        x[seen] += 1
        t_x[seen] = clock[seen]
        later[alive[clock[alive] >= big_t]] += 1
        alive = alive[leaves_after[alive] > k]
    formula = expected_repeats(t, x, t_x, np.full(n, big_t), r, alpha, a, b)
    for name, group in (("x = 0", x == 0), ("x = 1", x == 1), ("x ≥ 3", x >= 3)):
        got, se = later[group].mean(), later[group].std(ddof=1) / math.sqrt(group.sum())
        assert_within_4se(got, formula[group].mean(), se, f"future purchases, {name}")
