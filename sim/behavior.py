"""The model's math as small pure functions over arrays (docs/model.md gives each formula).

Every function that draws takes its randomness as its first argument: uniforms in (0, 1),
one per visitor (:meth:`sim.model.FunnelModel.uniforms`), or a function giving them, and
turns them into the law it needs by inversion (docs/model.md §6). Nothing here touches
numpy's global random state.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from numpy.typing import ArrayLike, NDArray

from sim._special import betaincinv, gammaincinv, ndtr, ndtri, pdtr

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
# draw(k, customers): the uniforms of draw k for the given customers (indices)
Draw = Callable[[int, IntArray], FloatArray]

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
        90.62
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
    u: FloatArray,
    take: FloatArray,
    trust: FloatArray,
    wtp_scale: FloatArray,
    value: FloatArray,
    price: float,
) -> NDArray[np.bool_]:
    """Which shown visitors buy: ``U < take · trust`` and ``wtp_scale · value ≥ price``.

    Args:
        u: each visitor's uniform for this decision.
        take: the offer's take rate for each visitor's segment.
        trust: each visitor's trust in [0, 1].
        wtp_scale: each visitor's willingness-to-pay multiplier.
        value: the offer's reference value for each visitor's segment.
        price: the price asked.

    Examples:
        >>> ones = np.ones(3)
        >>> buys(ones / 2, ones, ones, ones, ones * 10, 20.0).tolist()
        [False, False, False]
    """
    affordable = wtp_scale * value >= price
    return (u < take * trust) & affordable


def add_trust(trust: FloatArray, gain: float | FloatArray) -> FloatArray:
    """Trust after a gain, kept within [0, 1]."""
    return np.minimum(trust + gain, 1.0)


def renewals_survived(u: FloatArray, first_churn: float, shape: float) -> NDArray[np.int64]:
    """How many renewals each new subscriber pays before churning (§3.4), one per uniform.

    Discrete Weibull (Nakagawa & Osaki, 1975): the chance of surviving ``k`` renewals is
    ``q^(k^β)`` with ``q = 1 − first_churn`` and ``β = shape``, so the hazard at renewal k is
    ``1 − q^(k^β − (k−1)^β)``: flat for β = 1, falling with tenure for β < 1. Drawn by
    inversion: ``K = ⌊(ln U / ln q)^(1/β)⌋``. Never churning (rate 0) returns a very
    large count; the caller caps it at the horizon.

    Examples:
        >>> renewals_survived(np.full(3, 0.5), 1.0, 1.0).tolist()
        [0, 0, 0]
    """
    n = u.size
    if first_churn <= 0.0:
        return np.full(n, np.iinfo(np.int32).max, dtype=np.int64)
    if first_churn >= 1.0:
        return np.zeros(n, dtype=np.int64)
    t = np.log(u) / math.log1p(-first_churn)  # >= 0
    k = np.floor(t if shape == 1.0 else t ** (1.0 / shape))
    return np.minimum(k, np.iinfo(np.int32).max).astype(np.int64)


def poisson_counts(u: FloatArray, rate: float) -> NDArray[np.int64]:
    """Poisson(``rate``) counts by inversion: the least ``k`` with ``P(N ≤ k) ≥ U``.

    Examples:
        >>> poisson_counts(np.array([0.1, 0.5, 0.99]), 1.0).tolist()
        [0, 1, 4]
    """
    if rate <= 0:
        return np.zeros(u.size, dtype=np.int64)
    top = int(rate + 12 * math.sqrt(rate) + 20)  # P(N > top) is below 1e-16
    cdf = pdtr(np.arange(top + 1), rate)
    cdf[-1] = 1.0
    return np.searchsorted(cdf, u, side="left").astype(np.int64)


def survival(k: ArrayLike, first_churn: float, shape: float) -> FloatArray:
    """Chance a subscriber has paid at least ``k`` renewals: ``(1 − rate)^(k^shape)``."""
    return np.asarray((1.0 - first_churn) ** (np.asarray(k, dtype=float) ** shape), dtype=float)


def deal_values(u: FloatArray, price: float, spread: float) -> FloatArray:
    """Deal values with mean ``price``, spread lognormally (docs/model.md §3.6).

    ``price · exp(σZ − σ²/2)`` with ``σ = spread`` and ``Z = Φ⁻¹(U)``; every deal is
    ``price`` when σ = 0.

    Examples:
        >>> deal_values(np.full(2, 0.3), 100.0, 0.0).tolist()
        [100.0, 100.0]
    """
    if spread <= 0:
        return np.full(u.size, float(price))
    return np.asarray(price * np.exp(spread * ndtri(u) - spread**2 / 2))


def close_chance(close_rate: FloatArray, waited: NDArray[np.number], cooling: float) -> FloatArray:
    """A call's chance to close: the rep's close rate, cooled by each day the lead waited.

    ``close_rate · (1 − cooling)^waited`` (docs/model.md §3.6).

    Examples:
        >>> close_chance(np.array([0.4]), np.array([2.0]), 0.5).tolist()
        [0.1]
    """
    return np.asarray(close_rate * (1.0 - cooling) ** waited, dtype=float)


def repeat_purchases(
    draw: Draw,
    window: FloatArray,
    r: float,
    alpha: float,
    a: float,
    b: float,
) -> tuple[NDArray[np.int64], FloatArray, NDArray[np.int64]]:
    """Repeat purchases of customers who just bought, BG/NBD style (docs/model.md §3.7).

    Customer ``i`` buys again at the times of a Poisson process of rate
    ``λ_i ~ Gamma(r, alpha)`` (shape, rate) and, after each repeat purchase, drops out with
    chance ``p_i ~ Beta(a, b)`` (Fader, Hardie and Lee 2005). Only purchases within the
    customer's ``window`` (days left in the horizon) are drawn. Each draw is an inversion
    of the customer's own uniforms: ``draw(0, ·)`` for λ, ``draw(1, ·)`` for p, ``draw(2, ·)``
    for the repeat after which the customer leaves, ``draw(2 + k, ·)`` for the wait before
    the k-th repeat.

    Returns:
        ``(customer, time, k)``: for every repeat purchase, the index of its customer in
        ``window``, its time in days after the first purchase, and its rank k (1, 2, …)
        among the customer's repeats, in order of customer then time.

    Examples:
        >>> rng = np.random.default_rng(1)
        >>> draw = lambda k, who: rng.random(who.size)
        >>> who, when, k = repeat_purchases(draw, np.zeros(3), 1, 1, 2, 2)
        >>> who.size
        0
    """
    n = window.size
    everyone = np.arange(n)
    rate = np.maximum(gammaincinv(r, draw(0, everyone)) * (1.0 / alpha), 1e-300)
    p = np.clip(betaincinv(a, b, draw(1, everyone)), 1e-12, 1.0)
    # the repeat after which i leaves: geometric on 1, 2, … by inversion
    last = np.maximum(np.ceil(np.log(draw(2, everyone)) / np.log1p(-p)), 1.0)
    clock = np.zeros(n)
    active = np.flatnonzero(window > 0)
    who: list[NDArray[np.int64]] = []
    when: list[FloatArray] = []
    rank: list[NDArray[np.int64]] = []
    k = 0
    while active.size:
        k += 1
        clock[active] += -np.log(draw(2 + k, active)) / rate[active]
        active = active[clock[active] < window[active]]
        who.append(active)
        when.append(clock[active])
        rank.append(np.full(active.size, k))
        active = active[last[active] > k]
    if not who:
        return np.empty(0, dtype=np.int64), np.empty(0), np.empty(0, dtype=np.int64)
    customers, times, ranks = np.concatenate(who), np.concatenate(when), np.concatenate(rank)
    order = np.argsort(customers, kind="stable")  # rounds are in time order per customer
    return customers[order], times[order], ranks[order]


def order_values(
    draw: Draw,
    customer: NDArray[np.int64],
    rank: NDArray[np.int64],
    n: int,
    p: float,
    q: float,
    gamma: float,
) -> FloatArray:
    """Each order's value, Gamma-Gamma style (docs/model.md §3.7; Fader, Hardie, Lee 2005).

    Customer ``i`` has its own ``ν_i ~ Gamma(q, γ)`` (shape, rate), so its mean order value is
    ``p / ν_i``; each of its orders is ``Gamma(p, ν_i)``. Over customers the mean order value is
    ``p·γ / (q − 1)``. Both by inversion of the customer's uniforms: ``draw(0, ·)`` for ν, and
    ``draw(k, ·)`` for its k-th order.

    Args:
        draw: ``draw(k, customers)``, the uniforms of draw k for the given customers.
        customer: for each order, the index (below ``n``) of the customer placing it.
        rank: for each order, its rank k (1, 2, …) among the customer's orders.
        n: how many customers.
        p: the shape of each order's value.
        q: the shape of the customers' ``ν``.
        gamma: the rate of the customers' ``ν``.
    """
    nu = gammaincinv(q, draw(0, np.arange(n))) / gamma
    u = np.empty(customer.size)
    for k in np.unique(rank):
        at = rank == k
        u[at] = draw(int(k), customer[at])
    return np.asarray(gammaincinv(p, u) / nu[customer], dtype=float)
