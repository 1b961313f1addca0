"""The pieces of the scenario format that step kinds share.

Value types (rates, amounts, names), the base every spec model derives from, the bases of
steps, and the blocks several kinds take (refunds, churn, referral, repeat purchases). A
step kind's own spec lives in its module under ``sim/steps/``; the scenario-level models
live in ``sim/scenario.py``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

Rate = Annotated[float, Field(ge=0, le=1)]
Amount = Annotated[float, Field(ge=0)]
Positive = Annotated[float, Field(gt=0)]
Day = Annotated[int, Field(ge=0)]
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
    within_days: Annotated[int, Field(ge=1)] = 14


class Churn(Spec):
    """Churn before each renewal: discrete Weibull with first-renewal hazard ``rate``."""

    rate: Rate
    shape: Positive = 1.0


class Referral(Spec):
    """Each buyer brings Poisson(``rate``) new visitors ``delay_days`` after buying."""

    rate: Amount
    delay_days: Annotated[int, Field(ge=1)] = 14
    channel: Name


class Spend(Spec):
    """Gamma-Gamma order values: ``z ~ Gamma(p, ν)``, ``ν ~ Gamma(q, γ)``; mean ``pγ/(q−1)``."""

    p: Positive
    q: Annotated[float, Field(gt=1)]
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
