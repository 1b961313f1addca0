"""The model's math as small pure functions over arrays (docs/model.md gives each formula).

Every function that draws takes the generator as its first argument; nothing here touches
numpy's global random state.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import ndtr

FloatArray = NDArray[np.float64]

# The Hill (n = 1) curve's K in units of the half-saturation budget: the marginal click
# rate K²/(K+B)² falls to half of its value at B = 0 when B = K(√2 − 1).
_K_PER_HALF_SATURATION = 1.0 / (math.sqrt(2.0) - 1.0)


def paid_clicks(budget: float, cpc: float, half_saturation_budget: float | None) -> float:
    """Expected clicks a daily budget buys (docs/model.md §1.1).

    Without saturation clicks are ``budget / cpc``. With it, a Hill curve of order 1,
    ``C(B) = (K / cpc) · B / (K + B)``, whose first click costs ``cpc`` and whose marginal
    clicks per unit of budget fall to half at ``half_saturation_budget`` (so
    ``K = half_saturation_budget / (√2 − 1)``).

    Examples:
        >>> paid_clicks(100.0, 1.0, None)
        100.0
        >>> round(paid_clicks(100.0, 1.0, 400.0), 2)
        91.06
    """
    if budget <= 0:
        return 0.0
    if half_saturation_budget is None:
        return budget / cpc
    k = half_saturation_budget * _K_PER_HALF_SATURATION
    return (k / cpc) * budget / (k + budget)


def price_acceptance(price: ArrayLike, value: ArrayLike, dispersion: ArrayLike) -> FloatArray:
    """Share of a segment whose willingness to pay reaches ``price`` (docs/model.md §2).

    ``S(p) = P(wtp_scale · value ≥ p) = 1 − Φ(ln(p / value) / σ)`` for
    ``wtp_scale ~ LogNormal(0, σ)``; a price of 0 is accepted by everyone.

    Examples:
        >>> float(price_acceptance(50.0, 50.0, 0.5))
        0.5
    """
    p = np.asarray(price, dtype=float)
    v = np.asarray(value, dtype=float)
    with np.errstate(divide="ignore"):
        z = np.log(p / v) / np.asarray(dispersion, dtype=float)
    return np.asarray(1.0 - ndtr(z), dtype=float)


def buys(
    rng: np.random.Generator,
    take: FloatArray,
    trust: FloatArray,
    wtp_scale: FloatArray,
    value: FloatArray,
    price: float,
) -> NDArray[np.bool_]:
    """Which shown visitors buy: ``U < take · trust`` and ``wtp_scale · value ≥ price``.

    Args:
        rng: the model's generator.
        take: the offer's take rate for each visitor's segment.
        trust: each visitor's trust in [0, 1].
        wtp_scale: each visitor's willingness-to-pay multiplier.
        value: the offer's reference value for each visitor's segment.
        price: the price asked.

    Examples:
        >>> rng = np.random.default_rng(0)
        >>> ones = np.ones(3)
        >>> buys(rng, ones, ones, ones, ones * 10, 20.0).tolist()
        [False, False, False]
    """
    affordable = wtp_scale * value >= price
    return (rng.random(take.shape[0]) < take * trust) & affordable


def add_trust(trust: FloatArray, gain: float | FloatArray) -> FloatArray:
    """Trust after a gain, kept within [0, 1]."""
    return np.minimum(trust + gain, 1.0)


def renewals_survived(
    rng: np.random.Generator, n: int, first_churn: float, shape: float
) -> NDArray[np.int64]:
    """How many renewals each of ``n`` new subscribers pays before churning (§3.4).

    Discrete Weibull (Nakagawa & Osaki, 1975): the chance of surviving ``k`` renewals is
    ``q^(k^β)`` with ``q = 1 − first_churn`` and ``β = shape``, so the hazard at renewal k is
    ``1 − q^(k^β − (k−1)^β)``: flat for β = 1, falling with tenure for β < 1. Drawn by
    inversion: ``K = ⌊(ln U / ln q)^(1/β)⌋``. Never churning (rate 0) returns a very
    large count; the caller caps it at the horizon.

    Examples:
        >>> renewals_survived(np.random.default_rng(0), 3, 1.0, 1.0).tolist()
        [0, 0, 0]
    """
    if first_churn <= 0.0:
        return np.full(n, np.iinfo(np.int32).max, dtype=np.int64)
    if first_churn >= 1.0:
        return np.zeros(n, dtype=np.int64)
    u = 1.0 - rng.random(n)  # in (0, 1]
    t = np.log(u) / math.log1p(-first_churn)  # >= 0
    k = np.floor(t if shape == 1.0 else t ** (1.0 / shape))
    return np.minimum(k, np.iinfo(np.int32).max).astype(np.int64)


def survival(k: ArrayLike, first_churn: float, shape: float) -> FloatArray:
    """Chance a subscriber has paid at least ``k`` renewals: ``(1 − rate)^(k^shape)``."""
    return np.asarray((1.0 - first_churn) ** (np.asarray(k, dtype=float) ** shape), dtype=float)
