"""The model's formulas against independent oracles (scipy, closed forms)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import lognorm

from conftest import assert_within_4se
from sim.behavior import (
    add_trust,
    buys,
    paid_clicks,
    poisson_counts,
    price_acceptance,
    renewals_survived,
    survival,
)
from sim.luck import fold, uniforms


def own_uniforms(n: int, purpose: int, draw: int = 0) -> np.ndarray:
    """``n`` visitors' own uniforms for one purpose, as the engine draws them."""
    luck = fold(12345, np.arange(n))
    return uniforms(luck, purpose, draw)


@pytest.mark.parametrize(
    ("price", "value", "sigma"), [(40, 50, 0.5), (90, 60, 0.3), (1, 100, 1.2), (0, 10, 0.5)]
)
def test_price_acceptance_is_the_lognormal_survival(
    price: float, value: float, sigma: float
) -> None:
    expected = lognorm(s=sigma, scale=value).sf(price) if price > 0 else 1.0
    assert float(price_acceptance(price, value, sigma)) == pytest.approx(expected, rel=1e-12)


def test_paid_clicks_start_at_cpc_and_halve_their_marginal_rate_at_half_saturation() -> None:
    cpc, half = 0.8, 250.0
    h = 1e-4
    marginal = lambda b: (paid_clicks(b + h, cpc, half) - paid_clicks(b, cpc, half)) / h  # noqa: E731
    assert marginal(0.0) == pytest.approx(1 / cpc, rel=1e-3)
    assert marginal(half) == pytest.approx(0.5 / cpc, rel=1e-3)
    assert paid_clicks(1e9, cpc, half) == pytest.approx(half / (math.sqrt(2) - 1) / cpc, rel=1e-6)
    assert paid_clicks(100, 2.0, None) == 50
    assert paid_clicks(0, 2.0, half) == 0


def test_buys_needs_both_the_coin_and_the_wallet() -> None:
    n = 200_000
    rng = np.random.default_rng(0)
    take, trust = np.full(n, 0.5), np.full(n, 0.6)
    wtp = np.exp(0.5 * rng.standard_normal(n))
    got = buys(own_uniforms(n, 1), take, trust, wtp, np.full(n, 50.0), 40.0)
    assert not got[wtp * 50 < 40].any()
    p = 0.3 * float(lognorm(s=0.5).sf(0.8))
    assert_within_4se(got.mean(), p, math.sqrt(p * (1 - p) / n), "share buying")


def test_trust_is_capped_at_one() -> None:
    assert add_trust(np.array([0.5, 0.95]), 0.1).tolist() == [0.6, 1.0]


@pytest.mark.parametrize(("rate", "shape"), [(0.1, 1.0), (0.2, 0.6), (0.05, 1.5)])
def test_renewals_follow_the_discrete_weibull(rate: float, shape: float) -> None:
    n = 400_000
    k = renewals_survived(own_uniforms(n, 3), rate, shape)
    for j in (1, 2, 5, 12):
        p = float(survival(j, rate, shape))
        assert_within_4se((k >= j).mean(), p, math.sqrt(p * (1 - p) / n), f"P(K >= {j})")


def test_flat_churn_is_geometric() -> None:
    k = renewals_survived(own_uniforms(300_000, 4), 0.25, 1.0)
    # K ~ Geometric on {0, 1, ...}, success 0.25: mean 0.75 / 0.25 = 3, variance 0.75 / 0.0625 = 12
    assert_within_4se(k.mean(), 3.0, math.sqrt(12 / k.size), "mean renewals")


def test_no_churn_and_certain_churn() -> None:
    assert (renewals_survived(own_uniforms(5, 0), 0.0, 1.0) > 10**6).all()
    assert (renewals_survived(own_uniforms(5, 0), 1.0, 1.0) == 0).all()


@pytest.mark.parametrize("rate", [0.3, 2.5, 40.0])
def test_poisson_counts_by_inversion_have_the_poisson_mean_and_variance(rate: float) -> None:
    n = 200_000
    k = poisson_counts(own_uniforms(n, 5), rate)
    assert_within_4se(k.mean(), rate, math.sqrt(rate / n), f"mean, rate {rate}")
    sq = (k - rate) ** 2  # E = rate; Var((K − λ)²) = λ(1 + 2λ) for a Poisson
    assert_within_4se(sq.mean(), rate, math.sqrt(rate * (1 + 2 * rate) / n), "variance")


def test_visitor_uniforms_are_uniform_and_independent_across_purposes() -> None:
    """The hash's uniforms: mean ½, variance 1/12, no correlation between two purposes."""
    n = 400_000
    a, b = own_uniforms(n, 1), own_uniforms(n, 2)
    assert_within_4se(a.mean(), 0.5, math.sqrt(1 / 12 / n), "mean")
    assert_within_4se(((a - 0.5) ** 2).mean(), 1 / 12, math.sqrt(1 / 180 / n), "variance")
    # for independent uniforms, (a − ½)(b − ½) has mean 0 and variance 1/144
    assert_within_4se(((a - 0.5) * (b - 0.5)).mean(), 0.0, math.sqrt(1 / 144 / n), "covariance")
    assert ((a > 0) & (a < 1)).all()
