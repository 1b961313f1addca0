"""Uncertain assumptions: distributions, validation, paired draws and the spread's split."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

import sim
from sim import assumptions
from sim.runner import ASSUMED
from sim.spec import as_distribution

QUICKSTART = Path("scenarios/quickstart.yaml").read_text()

DISTRIBUTIONS = [
    {"between": [0.2, 0.5]},
    {"pert": [10.0, 12.0, 20.0]},
    {"beta": {"mean": 0.3, "sd": 0.08}},
    {"lognormal": {"median": 2.0, "sd_log": 0.4}},
    {"normal": {"mean": 5.0, "sd": 1.5}},
]


@pytest.mark.parametrize("written", DISTRIBUTIONS, ids=lambda d: next(iter(d)))
def test_draws_match_closed_form_moments(written: dict) -> None:
    dist = as_distribution(written)
    n = 20_000
    u = np.array([assumptions.uniforms(7, i, ["x.y"])[0] for i in range(n)])
    x = np.asarray(dist.ppf(u), dtype=float)
    mean, var = dist.moments()
    se_mean = math.sqrt(var / n)
    # the sample variance's standard error: sqrt((m4 - s^4) / n), m4 the fourth central moment
    m4 = float(((x - x.mean()) ** 4).mean())
    se_var = math.sqrt(max(m4 - x.var() ** 2, 0.0) / n)
    msg = f"{written}: mean {x.mean():.5g} vs {mean:.5g} (SE {se_mean:.3g}), "
    msg += f"var {x.var(ddof=1):.5g} vs {var:.5g} (SE {se_var:.3g})"
    assert abs(x.mean() - mean) < 4 * se_mean, msg
    assert abs(x.var(ddof=1) - var) < 4 * se_var, msg


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("funnel.course.take={between: [0.2, 1.5]}", "every draw must be >= 0 and <= 1"),
        ("funnel.course.take={normal: {mean: 0.3, sd: 0.1}}", "every draw must be >= 0"),
        ("funnel.course.take={pert: [0.3, 0.2, 0.5]}", "lo <= likely <= hi"),
        ("funnel.course.take={beta: {mean: 0.3, sd: 0.5}}", "sd² < mean (1 − mean)"),
        ("channels.ads.cpc={between: [-1, 2]}", "every draw must be > 0"),
    ],
)
def test_bad_uncertain_quantity_is_refused(override: str, message: str) -> None:
    with pytest.raises(sim.ScenarioError) as info:
        sim.parse_scenario(QUICKSTART, source="q.yaml", overrides=[override])
    (problem,) = info.value.problems
    assert message in problem.message
    assert problem.path == override.split("=")[0]


def test_rate_range_in_file_is_located() -> None:
    text = QUICKSTART.replace("take: 0.35", "take: {between: [0.3, 1.2]}")
    with pytest.raises(sim.ScenarioError) as info:
        sim.parse_scenario(text, source="q.yaml")
    (problem,) = info.value.problems
    line = 1 + text.splitlines().index("    take: {between: [0.3, 1.2]}")
    assert (problem.file, problem.line, problem.path) == ("q.yaml", line, "funnel.course.take")
    assert "<= 1" in problem.message


def test_counts_and_days_stay_exact() -> None:
    for override in ("horizon_days={between: [30, 60]}", "channels.ads.mix.cold={between: [0, 1]}"):
        with pytest.raises(sim.ScenarioError):
            sim.parse_scenario(QUICKSTART, overrides=[override])


def test_correlation_must_name_uncertain_quantities() -> None:
    text = (
        QUICKSTART
        + "\nassumptions:\n  correlations:\n    - {paths: [funnel.course.take, x.y], rho: 0.5}\n"
    )
    text = text.replace("take: 0.35", "take: {between: [0.2, 0.5]}")
    with pytest.raises(sim.ScenarioError) as info:
        sim.parse_scenario(text)
    assert "'x.y' is not an uncertain quantity" in str(info.value)


def test_correlated_draws_move_together() -> None:
    text = QUICKSTART.replace("take: 0.35", "take: {between: [0.2, 0.5]}")
    text = text.replace("cpc: 1.0 ", "cpc: {between: [0.8, 1.2]} ")
    text += "\nassumptions:\n  correlations:\n    - {paths: [funnel.course.take, channels.ads.cpc], rho: 0.8}\n"
    s = sim.parse_scenario(text)
    draws = [assumptions.draw_values(s, 3, k) for k in range(400)]
    a = [d["funnel.course.take"] for d in draws]
    b = [d["channels.ads.cpc"] for d in draws]
    r = float(np.corrcoef(a, b)[0, 1])
    # rank correlation of a Gaussian copula with rho .8 is about .79; Pearson's on uniforms too
    se = (1 - 0.79**2) / math.sqrt(400)
    assert abs(r - 0.786) < 4 * se, f"r={r:.3f}, SE {se:.3f}"


def test_paired_designs_share_assumption_draws() -> None:
    base = QUICKSTART.replace("take: 0.35", "take: {beta: {mean: 0.35, sd: 0.08}}")
    cheap = sim.parse_scenario(base)
    dear = sim.parse_scenario(base, overrides=["funnel.course.price=55"])
    a = sim.run_scenario(cheap, replications=6, seed=5).replications
    b = sim.run_scenario(dear, replications=6, seed=5).replications
    column = f"{ASSUMED}funnel.course.take"
    assert a[column].tolist() == b[column].tolist()
    # replications 2k and 2k + 1 share a draw (two replications per draw by default)
    assert a[column][0] == a[column][1] != a[column][2]


def test_uncertain_run_is_the_same_for_any_jobs() -> None:
    text = QUICKSTART.replace("take: 0.35", "take: {between: [0.2, 0.5]}")
    s = sim.parse_scenario(text)
    one = sim.run_scenario(s, replications=4, seed=2).replications
    two = sim.run_scenario(s, replications=4, seed=2, jobs=2).replications
    assert one.equals(two)


def test_decomposition_recovers_known_parts_on_a_toy_model() -> None:
    rng = np.random.default_rng(4)
    k, m, sd_a, sd_l = 400, 4, 2.0, 3.0
    theta = rng.normal(0, sd_a, k)
    y = (theta[:, None] + rng.normal(0, sd_l, (k, m))).ravel()
    split = assumptions.decompose(y, m)
    assert split is not None
    # standard errors of the ANOVA estimators (normal data): Var(MSW) = 2σ⁴/(K(M−1)),
    # Var((MSB − MSW)/M) ≈ 2/M² (E[MSB]²/(K−1) + σ⁴/(K(M−1)))
    se_luck = math.sqrt(2 * sd_l**4 / (k * (m - 1)))
    msb = sd_l**2 + m * sd_a**2
    se_part = math.sqrt(2 / m**2 * (msb**2 / (k - 1) + sd_l**4 / (k * (m - 1))))
    msg = f"luck {split.luck:.3f} (SE {se_luck:.3f}), assumptions {split.assumptions:.3f} "
    msg += f"(SE {se_part:.3f})"
    assert abs(split.luck - sd_l**2) < 4 * se_luck, msg
    assert abs(split.assumptions - sd_a**2) < 4 * se_part, msg


def test_decomposition_on_a_funnel_whose_assumption_part_is_known() -> None:
    """Uncertain overheads: profit's assumption part is horizon² Var(fixed); buyers' is 0."""
    lo, hi = 0.0, 40.0
    text = QUICKSTART.replace(
        "  payment_fee: 0.03", f"  payment_fee: 0.03\n  fixed_per_day: {{between: [{lo}, {hi}]}}"
    )
    s = sim.parse_scenario(text)
    n, m = 120, 2
    result = sim.run_scenario(s, replications=n, seed=9)
    profit = result.replications["profit"].to_numpy()
    buyers = result.replications["buyers"].to_numpy()
    split = assumptions.decompose(profit, m)
    none = assumptions.decompose(buyers, m)
    assert split is not None
    assert none is not None
    slope = s.horizon_days  # one day of overheads per simulated day
    part = slope**2 * (hi - lo) ** 2 / 12
    k = n // m
    msb = split.luck + m * part
    se_part = math.sqrt(2 / m**2 * (msb**2 / (k - 1) + split.luck**2 / (k * (m - 1))))
    assert abs(split.assumptions - part) < 4 * se_part, (split, part, se_part)
    se_zero = math.sqrt(2 / m**2 * (none.luck**2 / (k - 1) + none.luck**2 / (k * (m - 1))))
    assert none.assumptions < 4 * se_zero, (none, se_zero)


ONE_OFFER = """
name: one offer, an uncertain take rate
currency: USD
horizon_days: 10
acquisition_days: 10
seed: 3
replications: 10
segments:
  all: {price_dispersion: 0.1, trust: 1.0, junk_share: 0.0}
channels:
  web: {type: organic, visitors_per_day: 8, mix: {all: 1.0}}
funnel:
  - {id: lead, type: optin, rate: 1.0}
  - {id: book, type: offer, after: lead, via: page, price: 10, value: 1000, take: TAKE}
assumptions: {replications_per_draw: 1}
"""


def test_buyers_under_a_beta_take_rate_follow_the_law_of_total_variance() -> None:
    """Buyers given the take ``t`` are Poisson(c t): E = c μ, Var = c μ + c² σ² (docs/model.md).

    Visitors are Poisson(c = 8 a day × 10 days); everyone opts in, trusts fully and can
    afford the offer (value 100× the price: S(p) = 1), so each buys with chance ``t``:
    thinning keeps buyers Poisson(c t) given ``t``. By the law of total variance,
    ``Var = E[Var(B | t)] + Var(E[B | t]) = c μ + c² σ²`` for ``t ~ Beta(μ, σ)``.
    """
    mu, sd, c, n = 0.3, 0.1, 8 * 10, 600
    s = sim.parse_scenario(ONE_OFFER.replace("TAKE", f"{{beta: {{mean: {mu}, sd: {sd}}}}}"))
    buyers = sim.run_scenario(s, replications=n, seed=11).replications["buyers"].to_numpy()
    mean, var = c * mu, c * mu + c**2 * sd**2
    se_mean = math.sqrt(var / n)
    m4 = float(((buyers - buyers.mean()) ** 4).mean())
    se_var = math.sqrt(max(m4 - buyers.var() ** 2, 0.0) / n)
    msg = f"c={c}, take Beta(mean {mu}, sd {sd}), {n} replications: "
    msg += f"mean {buyers.mean():.3f} vs {mean:.3f} (SE {se_mean:.3f}), "
    msg += f"var {buyers.var(ddof=1):.2f} vs {var:.2f} (SE {se_var:.2f})"
    assert abs(buyers.mean() - mean) < 4 * se_mean, msg
    assert abs(buyers.var(ddof=1) - var) < 4 * se_var, msg
    # the luck alone (a fixed take) would give c μ = 24: the assumptions must widen the band
    assert buyers.var(ddof=1) - c * mu > 4 * se_var, msg
