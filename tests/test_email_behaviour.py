"""Clicks, machine opens, splits on behaviour, ``requires_not`` and fatigue, against closed forms.

Leads arrive as a Poisson number (500 a day × 10 days × opt-in 0.4 = 2000 a replication) and
each is thinned by independent per-lead chances, so a count of leads is Poisson with a known
mean; where a figure adds up several emails per lead, the SE is the replications' own.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import lognorm

import sim
from conftest import (
    assert_within_4se,
    base_spec,
    poisson_se_of_mean,
    refusals,
    run_model,
    scenario_from,
)

LEADS = 2000.0  # expected leads a replication
OPEN, U = 0.3, 0.05  # the base spec's open and unsubscribe rates


def mean(result: sim.RunResult, step: str, figure: str) -> float:
    return float(result.replications[f"{step}.{figure}"].mean())


def se(result: sim.RunResult, step: str, figure: str) -> float:
    col = result.replications[f"{step}.{figure}"]
    return float(col.std(ddof=1) / math.sqrt(len(col)))


def with_email(**email: float) -> dict[str, object]:
    spec = base_spec()
    spec["segments"]["s"]["email"].update(email)
    return spec


def test_clicks_come_from_real_opens_and_machine_opens_only_count() -> None:
    c, m = 0.2, 0.4
    spec = with_email(click_rate=c, machine_open_share=m)
    spec["funnel"].append({"id": "hello", "type": "email_sequence", "after": "magnet", "days": [0]})
    result = sim.run_scenario(scenario_from(spec))
    n = len(result.replications)
    opened = LEADS * (OPEN + (1 - OPEN) * m)  # a machine open counts when the lead did not open
    assert_within_4se(
        mean(result, "hello", "opened"),
        opened,
        poisson_se_of_mean(opened, n),
        f"opened (machine {m})",
    )
    clicked = LEADS * OPEN * c  # only real readers click
    assert_within_4se(
        mean(result, "hello", "clicked"),
        clicked,
        poisson_se_of_mean(clicked, n),
        f"clicked (rate {c})",
    )
    assert mean(result, "hello", "sent") == mean(result, "hello", "reached")


def test_a_split_on_clicked_waits_and_looks_back_only_to_its_moment() -> None:
    c = 0.2
    spec = with_email(click_rate=c)
    spec["funnel"] += [
        {"id": "welcome", "type": "email_sequence", "after": "magnet", "days": [0, 2, 4]},
        {
            "id": "hot",
            "type": "offer",
            "after": {"step": "welcome", "when": "clicked", "within_days": 3},
            "delay_days": 1,
            "price": 40,
            "value": 50,
            "take": 0.5,
        },
        {
            "id": "cold",
            "type": "offer",
            "after": {"step": "welcome", "when": "not_clicked", "within_days": 3},
            "price": 40,
            "value": 50,
            "take": 0.5,
        },
    ]
    model_result = sim.run_scenario(scenario_from(spec))
    n = len(model_result.replications)
    p = OPEN * c  # a click on one email
    # emails of days 0 and 2 count by day 3 (the day-4 email does not); the second goes only
    # to leads who did not unsubscribe at the first
    clicked = p + (1 - p) * (1 - U) * p
    for step, share in (("hot", clicked), ("cold", 1 - clicked)):
        expected = LEADS * share
        assert_within_4se(
            mean(model_result, step, "reached"),
            expected,
            poisson_se_of_mean(expected, n),
            f"{step} (share {share:.4f})",
        )


def accept(price: float, value: float) -> float:
    return float(lognorm(s=0.5).sf(price / value))


def test_not_bought_and_requires_not_reach_the_non_buyers() -> None:
    spec = base_spec()
    page = {"price": 40, "value": 50, "take": 0.5}
    spec["funnel"] += [
        {"id": "a", "type": "offer", "after": "magnet", **page},
        {
            "id": "b",
            "type": "offer",
            "after": {"step": "a", "when": "not_bought", "within_days": 1},
            **page,
        },
        {
            "id": "c",
            "type": "offer",
            "after": "magnet",
            "delay_days": 2,
            "requires_not": ["a"],
            **page,
        },
        {"id": "d", "type": "offer", "after": {"step": "a", "when": "bought"}, **page},
    ]
    result = sim.run_scenario(scenario_from(spec))
    n = len(result.replications)
    buy = 0.5 * 0.6 * accept(40, 50)  # take × trust × P(wtp ≥ price)
    for step, share in (("b", 1 - buy), ("c", 1 - buy), ("d", buy)):
        expected = LEADS * share
        assert_within_4se(
            mean(result, step, "reached"),
            expected,
            poisson_se_of_mean(expected, n),
            f"{step} (share {share:.4f})",
        )


def _survival(u: float, g: float, k: int, recent: list[int]) -> list[float]:
    """Chance a lead is still subscribed before each of k emails, n_j emails in the window."""
    alive, out = 1.0, []
    for j in range(k):
        out.append(alive)
        alive *= 1 - min(1.0, u * (1 + g * (recent[j] - 1)))
    return [*out, alive]


@pytest.mark.parametrize("every", [1, 7])
def test_fatigue_lowers_opens_and_raises_unsubscribes_with_frequency(every: int) -> None:
    k_decay, growth, emails = 0.15, 1.0, 7
    spec = with_email(open_decay=k_decay, unsubscribe_growth=growth)
    spec["funnel"].append(
        {
            "id": "nurture",
            "type": "email_sequence",
            "after": "magnet",
            "count": emails,
            "every_days": every,
        }
    )
    result = sim.run_scenario(scenario_from(spec))
    # emails in the last 7 days, this one in: j + 1 when daily, always 1 when weekly
    recent = [j + 1 if every == 1 else 1 for j in range(emails)]
    alive = _survival(U, growth, emails, recent)
    opens = LEADS * sum(
        alive[j] * OPEN * math.exp(-k_decay * (recent[j] - 1)) for j in range(emails)
    )
    left = LEADS * (1 - alive[emails])
    assert_within_4se(
        mean(result, "nurture", "opened"),
        opens,
        se(result, "nurture", "opened"),
        f"opens, every {every} d",
    )
    assert_within_4se(
        mean(result, "nurture", "unsubscribed"),
        left,
        se(result, "nurture", "unsubscribed"),
        f"unsubscribes, every {every} d",
    )


def test_without_the_new_keys_nothing_changes() -> None:
    spec = base_spec()
    spec["funnel"].append(
        {"id": "nurture", "type": "email_sequence", "after": "magnet", "days": [0, 1, 2]}
    )
    spec2 = base_spec()
    spec2["funnel"].append(
        {"id": "nurture", "type": "email_sequence", "after": "magnet", "count": 3}
    )
    a = sim.run_scenario(scenario_from(spec)).replications
    b = sim.run_scenario(scenario_from(spec2)).replications
    np.testing.assert_array_equal(a.to_numpy(), b.to_numpy())


def test_checks_refuse_splits_that_never_fire_and_steps_never_reached() -> None:
    spec = base_spec()
    page = {"price": 40, "value": 50, "take": 0.5}
    spec["funnel"] += [
        {"id": "a", "type": "offer", "after": {"step": "magnet", "when": "clicked"}, **page},
        {"id": "b", "type": "offer", "after": "a", **page},
        {"id": "c", "type": "offer", "after": "magnet", **page},
        {"id": "d", "type": "offer", "after": {"step": "c", "when": "clicked"}, **page},
        {
            "id": "e",
            "type": "offer",
            "after": "magnet",
            "requires": ["c"],
            "requires_not": ["c"],
            **page,
        },
    ]
    found = refusals(spec)
    joined = "\n".join(found)
    assert "funnel.a.after.when" in joined, joined
    assert "can never fire" in joined, joined
    assert "funnel.b.after" in joined, joined
    assert "can never be reached" in joined, joined
    assert "funnel.d.after.when" in joined, joined  # a page offer has no clicks
    assert "funnel.e.requires_not" in joined, joined


def test_trust_falls_on_emails_ignored_in_a_row_as_the_closed_form_says() -> None:
    """N emails, each read with p; trust falls by δ on email j if j and the k − 1 before it
    went unread, so E[trust] = t0 − δ (N − k + 1)(1 − p)^k (no gain per open, no floor hit).
    """
    n_emails, k, delta, p, t0 = 6, 2, 0.02, OPEN, 0.6
    spec = with_email(
        unsubscribe_rate=0.0, trust_per_open=0.0, trust_per_ignored=delta, ignored_streak=k
    )
    spec["funnel"].append(
        {"id": "nurture", "type": "email_sequence", "after": "magnet", "count": n_emails}
    )
    model = run_model(spec)
    pop = model.population
    trust = pop.column("trust")[pop.column("lead")]
    expected = t0 - delta * (n_emails - k + 1) * (1 - p) ** k
    se_trust = float(trust.std(ddof=1) / math.sqrt(trust.size))
    assert_within_4se(float(trust.mean()), expected, se_trust, "trust after ignored emails")
    # default off: the same scenario without the key keeps every lead's trust
    spec["segments"]["s"]["email"].pop("trust_per_ignored")
    plain = run_model(spec).population
    assert np.all(plain.column("trust")[plain.column("lead")] == t0)
