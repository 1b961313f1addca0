"""Value still to come: discounting, and what customers are expected to bring after the horizon.

The horizon cuts a subscriber's renewals and a repeat buyer's orders; these closed forms
say how much gross profit the customers active at the end are still expected to bring,
within ``costs.tail_years`` after the horizon, discounted at ``costs.discount_rate`` to
day 0 like the net present value of the cash (docs/model.md §5.1).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping

import numpy as np
from numpy.typing import ArrayLike, NDArray

from sim._special import hyp2f1

FloatArray = NDArray[np.float64]
DAYS_PER_YEAR = 365
SLICE_DAYS = 30  # repeat orders after the horizon are discounted per slice of this many days


def discount(day: ArrayLike, annual_rate: float) -> FloatArray:
    """What money on ``day`` is worth on day 0: ``(1 + rate)^(−day / 365)``.

    Examples:
        >>> float(discount(365, 0.1)) == 1 / 1.1
        True
    """
    d = np.asarray(day, dtype=float)
    if annual_rate == 0.0:
        return np.ones_like(d)
    return np.asarray((1.0 + annual_rate) ** (-d / DAYS_PER_YEAR), dtype=float)


def present_values(
    daily: Mapping[str, FloatArray], tail: float | FloatArray, annual_rate: float
) -> dict[str, float | FloatArray]:
    """A replication's discounted figures, for the KPIs of §5.1.

    ``npv``: the daily cash discounted to day 0; ``gross_profit_pv``: the daily gross
    profit (revenue − refunds − COGS − fees) likewise; ``tail_value``: ``tail``, the
    gross profit expected after the horizon (already discounted by the steps). With a
    batch's series (one row per replication), one value per replication, each row
    discounted on its own as it would be alone.
    """
    worth = discount(np.arange(daily["cash"].shape[-1]), annual_rate)
    gross = daily["revenue"] - daily["refunds"] - daily["cogs"] - daily["fees"]
    return {
        "npv": _discounted(daily["cash"], worth),
        "gross_profit_pv": _discounted(gross, worth),
        "tail_value": tail,
    }


def _discounted(series: FloatArray, worth: FloatArray) -> float | FloatArray:
    """``series · worth``: of one series a number, of each row of a batch's an array."""
    if series.ndim == 1:
        return float(series @ worth)
    return np.array([row @ worth for row in series])


def renewals_to_come(
    joined: ArrayLike,
    paid: ArrayLike,
    period: int,
    first_churn: float,
    shape: float,
    *,
    horizon: int,
    tail_days: int,
    annual_rate: float,
) -> FloatArray:
    """Each active subscriber's expected renewals after the horizon, discounted to day 0.

    A subscriber who joined on ``joined`` and has paid ``paid`` renewals (all those within
    the horizon) pays renewal ``k > paid``, on day ``joined + k · period``, with the
    chance ``S(k) / S(paid)``, ``S(k) = q^(k^β)`` (§3.4); renewals due before
    ``horizon + tail_days`` count, each discounted to day 0. With flat churn (β = 1) the
    chance is geometric, ``q^(k − paid)``.

    Examples:
        >>> round(float(renewals_to_come([0], [0], 30, 0.5, 1.0, horizon=30,
        ...     tail_days=60, annual_rate=0.0)[0]), 3)
        0.75
    """
    joined = np.asarray(joined, dtype=np.int64)
    paid = np.asarray(paid, dtype=np.int64)
    if joined.size == 1:  # a day's joiners, asked again in every replication: remembered
        rule = (period, first_churn, shape, horizon, tail_days, annual_rate)
        return np.array([one_renewals_to_come(int(joined[0]), int(paid[0]), *rule)])
    return _renewals_to_come(
        joined, paid, period, first_churn, shape, horizon, tail_days, annual_rate
    )


@functools.lru_cache(maxsize=4096)
def one_renewals_to_come(
    joined: int,
    paid: int,
    period: int,
    first_churn: float,
    shape: float,
    horizon: int,
    tail_days: int,
    annual_rate: float,
) -> float:
    """:func:`renewals_to_come` of one subscriber, as a number.

    Remembered: it depends on these numbers alone, and a day's joiners ask it again in every
    replication and every run.
    """
    joined_, paid_ = np.array([joined]), np.array([paid])
    rule = (period, first_churn, shape, horizon, tail_days, annual_rate)
    return float(_renewals_to_come(joined_, paid_, *rule)[0])


def _renewals_to_come(
    joined: NDArray[np.int64],
    paid: NDArray[np.int64],
    period: int,
    first_churn: float,
    shape: float,
    horizon: int,
    tail_days: int,
    annual_rate: float,
) -> FloatArray:
    if joined.size == 0:
        return np.zeros(0)
    last = (horizon + tail_days - 1 - joined) // period  # the last renewal inside the tail
    most = int((last - paid).max(initial=0))
    if most <= 0:
        return np.zeros(joined.size)
    ahead = np.arange(1, most + 1)  # renewals after the last one paid
    k = paid[:, None] + ahead[None, :]
    log_q = np.log1p(-first_churn) if first_churn < 1.0 else -np.inf
    with np.errstate(invalid="ignore"):
        chance = np.exp(log_q * (k.astype(float) ** shape - paid[:, None].astype(float) ** shape))
    chance = np.nan_to_num(chance, nan=0.0)
    due = k <= last[:, None]
    worth = discount(joined[:, None] + k * period, annual_rate)
    return np.asarray(np.sum(np.where(due, chance * worth, 0.0), axis=1), dtype=float)


def expected_repeats(
    t: ArrayLike,
    x: ArrayLike,
    t_x: ArrayLike,
    big_t: ArrayLike,
    r: float,
    alpha: float,
    a: float,
    b: float,
) -> FloatArray:
    """BG/NBD: expected repeat purchases in the next ``t`` days given a customer's history.

    ``x`` repeat purchases, the last at ``t_x``, observed for ``big_t`` days (Fader, Hardie
    and Lee 2005, eq. 10)::

        E[Y(t) | x, t_x, T] = (a + b + x − 1) / (a − 1)
            · [1 − ((α + T) / (α + T + t))^(r + x) · ₂F₁(r + x, b + x; a + b + x − 1; z)]
            / (1 + 1[x > 0] · a / (b + x − 1) · ((α + T) / (α + t_x))^(r + x))

    with ``z = t / (α + T + t)``.

    Requires ``a > 1``.
    """
    t, x = np.asarray(t, dtype=float), np.asarray(x, dtype=float)
    t_x, big_t = np.asarray(t_x, dtype=float), np.asarray(big_t, dtype=float)
    z = t / (alpha + big_t + t)
    bracket = 1.0 - ((alpha + big_t) / (alpha + big_t + t)) ** (r + x) * hyp2f1(
        r + x, b + x, a + b + x - 1.0, z
    )
    lead = (a + b + x - 1.0) / (a - 1.0) * bracket
    with np.errstate(divide="ignore", invalid="ignore"):
        odds = np.where(
            x > 0, a / (b + x - 1.0) * ((alpha + big_t) / (alpha + t_x)) ** (r + x), 0.0
        )
    return np.asarray(lead / (1.0 + odds), dtype=float)


def repeats_to_come(
    x: ArrayLike,
    t_x: ArrayLike,
    big_t: ArrayLike,
    r: float,
    alpha: float,
    a: float,
    b: float,
    *,
    horizon: int,
    tail_days: int,
    annual_rate: float,
) -> FloatArray:
    """Each buyer's expected repeat orders in the tail, discounted to day 0.

    The tail (``tail_days`` after the horizon) is cut in slices of :data:`SLICE_DAYS`; the
    orders expected in each (differences of :func:`expected_repeats`) are discounted at the
    slice's middle. Undiscounted (rate 0), the sum is ``E[Y(tail_days) | x, t_x, T]``
    exactly. ``big_t`` is the days each buyer was observed, so the horizon ends for it at
    ``big_t``: the buyer's first purchase was on day ``horizon − big_t``.
    """
    big_t = np.asarray(big_t, dtype=float)
    if big_t.size == 0 or tail_days <= 0:
        return np.zeros(big_t.size)
    if annual_rate == 0.0:
        return expected_repeats(tail_days, x, t_x, big_t, r, alpha, a, b)
    edges = np.unique(np.append(np.arange(0, tail_days, SLICE_DAYS), tail_days))
    cumulative = [expected_repeats(e, x, t_x, big_t, r, alpha, a, b) for e in edges[1:]]
    per_slice = np.diff(np.vstack([np.zeros(big_t.size), *cumulative]), axis=0)
    middle = horizon + (edges[:-1] + edges[1:]) / 2.0
    return np.asarray(discount(middle, annual_rate) @ per_slice, dtype=float)


def order_value_to_come(
    orders: ArrayLike, spent: ArrayLike, p: float, q: float, gamma: float
) -> FloatArray:
    """Gamma-Gamma: a buyer's expected value per future order given ``orders`` worth ``spent``.

    ``ν | history ~ Gamma(q + p·x, γ + spent)``, so ``E[p / ν] = p · (γ + spent) / (p·x + q − 1)``
    (Fader, Hardie and Lee 2005b); with no order yet, the mean ``p·γ / (q − 1)``.

    Examples:
        >>> order_value_to_come([0], [0.0], 2.0, 3.0, 10.0).tolist()
        [10.0]
    """
    x = np.asarray(orders, dtype=float)
    return np.asarray(p * (gamma + np.asarray(spent, dtype=float)) / (p * x + q - 1.0))
