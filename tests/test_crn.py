"""Common random numbers: a visitor's luck is their own (docs/model.md §6).

Two designs run on the same seed meet the same visitors (matched by uid) with the same
dice wherever they do not differ, so a change can only act through what it changes.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import yaml
from scipy.stats import f as f_dist

import sim
from conftest import ROOT, scenario_from

LOYALTY = ROOT / "scenarios" / "eshop_loyalty.yaml"
PASTRY = ROOT / "scenarios" / "pastry_school.yaml"
REPS = 6


def _loyalty_with_a_club() -> dict:
    """The e-shop (refunds, repeat orders, referrals) with a subscription after a purchase."""
    spec = yaml.safe_load(LOYALTY.read_text(encoding="utf-8"))
    spec["funnel"].append(
        {
            "id": "club",
            "type": "subscription",
            "after": "first_order",
            "delay_days": 7,
            "via": "email",
            "price": 9,
            "value": 15,
            "take": 0.4,
            "churn": {"rate": 0.2, "shape": 0.8},
        }
    )
    for k in ("variants", "search", "objective"):
        spec.pop(k, None)
    return spec


def _events(spec: dict | sim.Scenario) -> pd.DataFrame:
    scenario = spec if isinstance(spec, sim.Scenario) else scenario_from(spec)
    result = sim.run_scenario(scenario, replications=REPS, seed=9, events=True)
    assert result.events is not None
    return result.events


def _who(events: pd.DataFrame, step: str, event: str) -> set[tuple[int, int]]:
    rows = events[(events.step == step) & (events.event == event)]
    return set(zip(rows.replication, rows.uid, strict=True))


def test_a_higher_price_only_removes_buyers() -> None:
    """No one buys at the higher price who did not at the lower (refunds, renewals, referrals).

    Raising the first order's price changes nothing before that decision, and a visitor
    buys only if their own uniform is below take · trust and their willingness to pay
    reaches the price: at a higher price the buyers are a subset. What follows a purchase
    (refund, repeat orders, the club and its churn, the friends brought) is the buyer's own
    draw, so it is a subset too; friends who come in both designs are the same visitors.
    """
    low = _loyalty_with_a_club()
    high = _loyalty_with_a_club()
    high["funnel"][2]["price"] = 29.5
    a, b = _events(low), _events(high)
    bought_low, bought_high = _who(a, "first_order", "buy"), _who(b, "first_order", "buy")
    assert bought_high < bought_low, (len(bought_high), len(bought_low))
    for step, event in [
        ("first_order", "refund"),
        ("first_order", "repeat"),
        ("club", "subscribe"),
        ("club", "churn"),
        ("grinder", "buy"),
    ]:
        then, now = _who(a, step, event), _who(b, step, event)
        assert now <= then, f"{step} {event}: {len(now - then)} only at the higher price"
        assert then, f"{step} {event}: none at all"
    friends = a[(a.event == "arrive") & (a.step == "friends")]
    assert len(friends) > 0
    # a friend who came in both designs is the same visitor: they opt in in both or neither
    both = set(zip(friends.replication, friends.uid, strict=True)) & _who(b, "friends", "arrive")
    assert both
    joined_a, joined_b = _who(a, "discount_signup", "optin"), _who(b, "discount_signup", "optin")
    assert both & joined_a == both & joined_b


def test_an_upstream_open_rate_leaves_later_decisions_alone() -> None:
    """Opening more emails changes who is shown the course, not what they decide there.

    With no trust gained per open, a visitor shown the (emailed) core course in both
    designs has the same trust and willingness to pay in both, so the same decision.
    """
    flat = [f"segments.{s}.email.trust_per_open=0" for s in ("hobbyist", "aspiring_pro")]
    spec = sim.load_scenario(PASTRY, overrides=flat)
    more = sim.load_scenario(PASTRY, overrides=[*flat, "segments.hobbyist.email.open_rate=0.45"])
    a, b = _events(spec), _events(more)
    for step in ("core_course", "core_lite"):
        shown = _who(a, step, "shown") & _who(b, step, "shown")
        assert shown <= _who(a, step, "shown")
        assert len(shown) < len(_who(b, step, "shown")), "more opens: more are shown"
        bought_a, bought_b = _who(a, step, "buy") & shown, _who(b, step, "buy") & shown
        assert bought_a, step
        assert bought_a == bought_b, f"{step}: {len(bought_a ^ bought_b)} decide otherwise"


def _profit_difference_variance(n: int, paired: bool) -> float:
    base = sim.prepare(sim.load_scenario(PASTRY))
    dearer = sim.prepare(sim.load_scenario(PASTRY, overrides=["funnel.core_course.price=300"]))
    a = base.run(replications=n, seed=1).replications["profit"].to_numpy()
    b = dearer.run(replications=n, seed=1 if paired else 2).replications["profit"].to_numpy()
    return float(np.var(b - a, ddof=1))


def test_common_random_numbers_cut_the_variance_of_a_price_difference() -> None:
    """Pastry school, core course $290 → $300: paired differences vary far less.

    The claim (benchmarks/crn.py, 40 replications) is a variance at least 25× smaller.
    With ``n`` replications each, the ratio of the two sample variances is the true ratio
    times an F(n−1, n−1) variable; its 4-sigma lower quantile (one in 30,000) bounds what
    a true ratio of 25 can show, so a smaller estimate refutes the claim.
    """
    n = 20
    independent = _profit_difference_variance(n, paired=False)
    paired = _profit_difference_variance(n, paired=True)
    ratio = independent / paired
    floor = 25 * f_dist.ppf(1 - 3.2e-5, n - 1, n - 1) ** -1
    assert ratio >= floor, (
        f"variance ratio {ratio:.1f} (independent {math.sqrt(independent):.0f}² vs paired "
        f"{math.sqrt(paired):.0f}²), below {floor:.1f}, the 4-sigma floor for a true 25"
    )
