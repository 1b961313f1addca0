"""The pieces of the scenario format that step kinds share.

Value types (rates, amounts, names), the base every spec model derives from, the bases of
steps, and the blocks several kinds take (refunds, churn, referral, repeat purchases). A
step kind's own spec lives in its module under ``sim/steps/``; the scenario-level models
live in ``sim/scenario.py``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, Strict

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

Rate = Annotated[Number, Field(ge=0, le=1)]
Amount = Annotated[Number, Field(ge=0, le=MAX_AMOUNT)]
Positive = Annotated[Number, Field(gt=0, le=MAX_AMOUNT)]
Spread = Annotated[Number, Field(gt=0, le=MAX_SPREAD)]
Day = Annotated[Whole, Field(ge=0, le=MAX_DAYS)]
Days = Annotated[Whole, Field(ge=1, le=MAX_DAYS)]  # a span of at least one day
Visitors = Annotated[Number, Field(ge=0, le=MAX_VISITORS_PER_DAY)]
Name = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_-]*$")]

# A number for every segment, or a map segment -> number (every segment listed).
SegmentRate = Rate | dict[str, Rate]
SegmentAmount = Amount | dict[str, Amount]
SegmentValue = Positive | dict[str, Positive]


class Spec(BaseModel):
    """A part of the scenario format: frozen, with unknown keys refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Refund(Spec):
    """Share of sales refunded, on a day drawn uniformly within ``within_days``."""

    rate: Rate = 0.0
    within_days: Days = 14


class Churn(Spec):
    """Churn before each renewal: discrete Weibull with first-renewal hazard ``rate``."""

    rate: Rate
    shape: Annotated[Number, Field(gt=0, le=100)] = 1.0


class Referral(Spec):
    """Each buyer brings Poisson(``rate``) new visitors ``delay_days`` after buying."""

    rate: Annotated[Number, Field(ge=0, le=MAX_REFERRAL_RATE)]
    delay_days: Days = 14
    channel: Name


class Spend(Spec):
    """Gamma-Gamma order values: ``z ~ Gamma(p, ν)``, ``ν ~ Gamma(q, γ)``; mean ``pγ/(q−1)``."""

    p: Positive
    q: Annotated[Number, Field(gt=1, le=MAX_AMOUNT)]
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
