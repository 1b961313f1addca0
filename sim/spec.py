"""The pieces of the scenario format that step kinds share.

Value types (rates, amounts, names), the base every spec model derives from, the bases of
steps, and the blocks several kinds take (refunds, churn, referral, repeat purchases). A
step kind's own spec lives in its module under ``sim/steps/``; the scenario-level models
live in ``sim/scenario.py``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Annotated, Any, Literal

import numpy as np
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    Strict,
    ValidationError,
    ValidatorFunctionWrapHandler,
    WrapSerializer,
    WrapValidator,
    model_validator,
)

# Upper bounds of the format (docs/limits.md): far above any real funnel, low enough that
# no sum of them overflows and no array they size exhausts memory.
MAX_AMOUNT = 1e9  # any money amount: a price, a budget, a cost, a value
MAX_DAYS = 3650  # any number of days: a horizon, a delay, a period
MAX_VISITORS_PER_DAY = 1e6  # a channel's daily visitors
MAX_CALLS_PER_DAY = 1000  # a sales rep's calls a day
MAX_REPLICATIONS = 10_000
MAX_SPREAD = 5.0  # the sigma of a lognormal (e^5 ≈ 150-fold spread already)
MAX_REFERRAL_RATE = 10.0  # visitors a buyer brings, on average


def _whole(value: Any) -> Any:
    """A float with no fractional part stands for its whole number (``3.0`` → ``3``)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


# A finite number, written as a number: never a string ("49"), a boolean, .inf or .nan.
Number = Annotated[float, Strict(), Field(allow_inf_nan=False)]
# A whole number, written as a number (3 or 3.0), never a string or a boolean.
Whole = Annotated[int, BeforeValidator(_whole), Strict()]


class Spec(BaseModel):
    """A part of the scenario format: frozen, with unknown keys refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)


# --- uncertain quantities: a distribution where a number may be (docs/model.md §3.9) ---

# The farthest a replication's draw can reach: assumption uniforms lie in [2⁻⁵⁴, 1 − 2⁻⁵³]
# (the float below 1), so a distribution is accepted where every value it can give is allowed.
EDGE = 2.0**-54
TOP = 1.0 - 2.0**-53


class Distribution(Spec):
    """An uncertain quantity: a distribution a replication draws one value from."""

    def ppf(self, u: Any) -> Any:
        """The value at cumulative probability ``u`` (inverse distribution function)."""
        raise NotImplementedError

    def median(self) -> float:
        """The value at probability ½: where a quantity stands when it is not varied."""
        return float(self.ppf(0.5))

    def reach(self) -> tuple[float, float]:
        """The lowest and highest value a replication can draw."""
        return float(self.ppf(EDGE)), float(self.ppf(TOP))

    def moments(self) -> tuple[float, float]:
        """Mean and variance, in closed form."""
        raise NotImplementedError


class Between(Distribution):
    """``{between: [lo, hi]}``: uniform between ``lo`` and ``hi``."""

    between: tuple[Number, Number]

    @model_validator(mode="after")
    def _ordered(self) -> Between:
        lo, hi = self.between
        if not lo < hi:
            raise ValueError(f"`between: [lo, hi]` needs lo < hi, got [{lo:g}, {hi:g}]")
        return self

    def ppf(self, u: Any) -> Any:  # noqa: D102
        lo, hi = self.between
        return lo + (hi - lo) * np.asarray(u, dtype=float)

    def moments(self) -> tuple[float, float]:  # noqa: D102
        lo, hi = self.between
        return (lo + hi) / 2, (hi - lo) ** 2 / 12


class Pert(Distribution):
    """``{pert: [lo, likely, hi]}``: the PERT distribution, a Beta(α, β) on [lo, hi].

    ``α = 1 + 4 (likely − lo) / (hi − lo)``, ``β = 1 + 4 (hi − likely) / (hi − lo)``; mean
    ``(lo + 4 likely + hi) / 6``.
    """

    pert: tuple[Number, Number, Number]

    @model_validator(mode="after")
    def _ordered(self) -> Pert:
        lo, likely, hi = self.pert
        if not (lo <= likely <= hi and lo < hi):
            raise ValueError(
                f"`pert: [lo, likely, hi]` needs lo <= likely <= hi and lo < hi, "
                f"got [{lo:g}, {likely:g}, {hi:g}]"
            )
        return self

    def _shape(self) -> tuple[float, float, float, float]:
        lo, likely, hi = self.pert
        return 1 + 4 * (likely - lo) / (hi - lo), 1 + 4 * (hi - likely) / (hi - lo), lo, hi - lo

    def ppf(self, u: Any) -> Any:  # noqa: D102
        a, b, lo, width = self._shape()
        from scipy import stats  # here: scenarios without ranges never load scipy.stats

        return lo + width * stats.beta.ppf(u, a, b)

    def moments(self) -> tuple[float, float]:  # noqa: D102
        a, b, lo, width = self._shape()
        return lo + width * a / (a + b), width**2 * a * b / ((a + b) ** 2 * (a + b + 1))


class MeanSd(Spec):
    """A mean and a standard deviation."""

    mean: Number
    sd: Annotated[Number, Field(gt=0)]


class BetaDist(Distribution):
    """``{beta: {mean, sd}}``: a Beta distribution on [0, 1] with this mean and sd."""

    beta: MeanSd

    @model_validator(mode="after")
    def _possible(self) -> BetaDist:
        m, sd = self.beta.mean, self.beta.sd
        if not (0 < m < 1 and sd**2 < m * (1 - m)):
            raise ValueError(
                f"a beta needs 0 < mean < 1 and sd² < mean (1 − mean), got mean={m:g}, sd={sd:g}"
            )
        return self

    def _shape(self) -> tuple[float, float]:
        m, sd = self.beta.mean, self.beta.sd
        k = m * (1 - m) / sd**2 - 1
        return m * k, (1 - m) * k

    def ppf(self, u: Any) -> Any:  # noqa: D102
        from scipy import stats  # here: scenarios without ranges never load scipy.stats

        return stats.beta.ppf(u, *self._shape())

    def moments(self) -> tuple[float, float]:  # noqa: D102
        return self.beta.mean, self.beta.sd**2


class MedianSdLog(Spec):
    """A median and the standard deviation of the logarithm."""

    median: Annotated[Number, Field(gt=0)]
    sd_log: Annotated[Number, Field(gt=0, le=MAX_SPREAD)]


class LogNormal(Distribution):
    """``{lognormal: {median, sd_log}}``: ``median · exp(sd_log · Z)``."""

    lognormal: MedianSdLog

    def ppf(self, u: Any) -> Any:  # noqa: D102
        from scipy import stats  # here: scenarios without ranges never load scipy.stats

        return self.lognormal.median * np.exp(self.lognormal.sd_log * stats.norm.ppf(u))

    def moments(self) -> tuple[float, float]:  # noqa: D102
        m, s = self.lognormal.median, self.lognormal.sd_log
        return m * math.exp(s**2 / 2), m**2 * math.exp(s**2) * (math.exp(s**2) - 1)


class NormalDist(Distribution):
    """``{normal: {mean, sd}}``: a normal distribution (its tails must fit the key's bounds)."""

    normal: MeanSd

    def ppf(self, u: Any) -> Any:  # noqa: D102
        from scipy import stats  # here: scenarios without ranges never load scipy.stats

        return self.normal.mean + self.normal.sd * stats.norm.ppf(u)

    def moments(self) -> tuple[float, float]:  # noqa: D102
        return self.normal.mean, self.normal.sd**2


DISTRIBUTIONS: dict[str, type[Distribution]] = {
    "between": Between,
    "pert": Pert,
    "beta": BetaDist,
    "lognormal": LogNormal,
    "normal": NormalDist,
}
Uncertain = Between | Pert | BetaDist | LogNormal | NormalDist


def is_uncertain(value: Any) -> bool:
    """Whether a validated value is an uncertain quantity (not a number)."""
    return isinstance(value, Distribution)


def as_distribution(value: Any) -> Distribution:
    """A written uncertain quantity (``{between: [1, 2]}``) validated, bounds unchecked.

    Raises:
        ValueError: not one of the forms, or its parameters are inconsistent.
    """
    if not (isinstance(value, Mapping) and len(value) == 1):
        raise ValueError(f"expected one of {', '.join(DISTRIBUTIONS)}, got {value!r}")
    (name,) = value
    if name not in DISTRIBUTIONS:
        raise ValueError(f"unknown distribution '{name}': use {', '.join(DISTRIBUTIONS)}")
    try:
        return DISTRIBUTIONS[name].model_validate(dict(value))
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        message = str(err["msg"]).removeprefix("Value error, ")
        raise ValueError(f"{where}: {message}" if where else message) from None


def written_as_distribution(value: Any) -> bool:
    """Whether raw input is written as an uncertain quantity (one distribution's key)."""
    return isinstance(value, Mapping) and len(value) == 1 and next(iter(value)) in DISTRIBUTIONS


def _as_written(value: Any, handler: SerializerFunctionWrapHandler) -> Any:
    return value.model_dump() if is_uncertain(value) else handler(value)


# dumps an uncertain quantity as written (``{between: [lo, hi]}``), a number as a number
AS_WRITTEN = WrapSerializer(_as_written)


def may_vary(lo: float, hi: float, *, above: bool = False) -> WrapValidator:
    """Accept an uncertain quantity whose every draw lies in ``[lo, hi]`` (``(lo, hi]``)."""

    def number_or_distribution(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        if not written_as_distribution(value):
            return handler(value)
        dist = as_distribution(value)
        low, high = dist.reach()
        if low < lo or (above and low <= lo) or high > hi:
            side = ">" if above else ">="
            raise ValueError(
                f"every draw must be {side} {lo:g} and <= {hi:g}, but this distribution "
                f"reaches [{low:.4g}, {high:.4g}] (draws go to the 1e-16 quantiles)"
            )
        return dist

    bounds = Field(gt=lo, le=hi) if above else Field(ge=lo, le=hi)
    schema = Annotated[float, bounds] | Uncertain  # what the JSON schema offers
    return WrapValidator(number_or_distribution, json_schema_input_type=schema)


# A number that may instead be an uncertain quantity (see below), where it makes sense: a
# rate, an amount, a response parameter; never an id, a count or a number of days. Every
# draw of the distribution must lie within the key's bounds. Statically a number: the
# engine only runs concrete scenarios (sim/assumptions.py draws them).
Rate = Annotated[Number, Field(ge=0, le=1), may_vary(0, 1), AS_WRITTEN]
Amount = Annotated[Number, Field(ge=0, le=MAX_AMOUNT), may_vary(0, MAX_AMOUNT), AS_WRITTEN]
Positive = Annotated[
    Number, Field(gt=0, le=MAX_AMOUNT), may_vary(0, MAX_AMOUNT, above=True), AS_WRITTEN
]
Spread = Annotated[
    Number, Field(gt=0, le=MAX_SPREAD), may_vary(0, MAX_SPREAD, above=True), AS_WRITTEN
]
Visitors = Annotated[
    Number, Field(ge=0, le=MAX_VISITORS_PER_DAY), may_vary(0, MAX_VISITORS_PER_DAY), AS_WRITTEN
]
# The same, always exact numbers (shares that must sum to 1, search settings).
ExactRate = Annotated[Number, Field(ge=0, le=1)]
ExactPositive = Annotated[Number, Field(gt=0, le=MAX_AMOUNT)]
Day = Annotated[Whole, Field(ge=0, le=MAX_DAYS)]
Days = Annotated[Whole, Field(ge=1, le=MAX_DAYS)]  # a span of at least one day
Name = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_-]*$")]

# A number for every segment, or a map segment -> number (every segment listed).
SegmentRate = Rate | dict[str, Rate]
SegmentAmount = Amount | dict[str, Amount]
SegmentValue = Positive | dict[str, Positive]


class Refund(Spec):
    """Share of sales refunded, on a day drawn uniformly within ``within_days``."""

    rate: Rate = 0.0
    within_days: Days = 14


class Churn(Spec):
    """Churn before each renewal: discrete Weibull with first-renewal hazard ``rate``."""

    rate: Rate
    shape: Annotated[Number, Field(gt=0, le=100), may_vary(0, 100, above=True), AS_WRITTEN] = 1.0


class Referral(Spec):
    """Each buyer brings Poisson(``rate``) new visitors ``delay_days`` after buying."""

    rate: Annotated[
        Number, Field(ge=0, le=MAX_REFERRAL_RATE), may_vary(0, MAX_REFERRAL_RATE), AS_WRITTEN
    ]
    delay_days: Days = 14
    channel: Name


class Spend(Spec):
    """Gamma-Gamma order values: ``z ~ Gamma(p, ν)``, ``ν ~ Gamma(q, γ)``; mean ``pγ/(q−1)``."""

    p: Positive
    q: Annotated[
        Number, Field(gt=1, le=MAX_AMOUNT), may_vary(1, MAX_AMOUNT, above=True), AS_WRITTEN
    ]
    gamma: Positive


class Repeat(Spec):
    """Repeat purchases after a first one, BG/NBD style (Fader, Hardie and Lee 2005).

    Each customer's purchase rate per day ``λ ~ Gamma(r, alpha)`` (shape r, rate alpha); after
    each repeat purchase the customer drops out with a chance ``p ~ Beta(a, b)``.
    """

    r: Positive
    alpha: Positive
    a: Positive
    b: Positive
    spend: Spend | None = None  # None: every repeat order at the offer's price
    cogs_share: Rate | None = None  # COGS as a share of order value; None: the offer's ratio


class StepSpec(Spec):
    """What every funnel step has: an id, and a ``type`` naming its kind."""

    id: Name
    if TYPE_CHECKING:  # each kind's spec declares it: `type: Literal["<kind name>"]`
        type: str


class Sellable(StepSpec):
    """A step that sells: a price, what it is worth to each segment, and who takes it."""

    price: Amount
    value: SegmentValue
    take: SegmentRate
    cogs: Amount = 0.0


class Triggered(Sellable):
    """A sellable step shown some days after another step, on a page or in an email."""

    after: Name | None = None
    delay_days: Day = 0
    via: Literal["page", "email"] = "page"
    trust_gain: Rate = 0.0
    requires: list[Name] = []
    requires_not: list[Name] = []  # shown only to leads who have not bought these
    seen_on: Literal["open", "click"] = "open"  # via email: who sees it, openers or clickers
