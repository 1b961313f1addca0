"""The scenario format: pydantic models, frozen, with unknown keys refused.

This is the contract users write against (docs/model.md explains each key's meaning).
Rules that span several keys (a mix summing to 1, a step naming another) live in
``sim/_checks.py``; loading a file with located errors lives in ``sim/loader.py``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

FORMAT_VERSION = 1

Rate = Annotated[float, Field(ge=0, le=1)]
Amount = Annotated[float, Field(ge=0)]
Positive = Annotated[float, Field(gt=0)]
Day = Annotated[int, Field(ge=0)]
Name = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_-]*$")]

# A number for every segment, or a map segment -> number (every segment listed).
SegmentRate = Rate | dict[str, Rate]
SegmentAmount = Amount | dict[str, Amount]
SegmentValue = Positive | dict[str, Positive]


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --- segments ---------------------------------------------------------------------------


class EmailBehavior(_Spec):
    """How a segment's leads treat each email they are sent."""

    open_rate: Rate = 0.25
    unsubscribe_rate: Rate = 0.0025
    trust_per_open: Rate = 0.02


class Segment(_Spec):
    """An audience group; its visitors draw their traits from it on arrival."""

    price_dispersion: Positive = 0.5
    trust: Rate = 0.5
    email: EmailBehavior = EmailBehavior()
    junk_share: Rate = 0.0


# --- channels ---------------------------------------------------------------------------


class _Channel(_Spec):
    mix: dict[Name, Rate]
    warmth: Annotated[float, Field(ge=-1, le=1)] = 0.0


class PaidChannel(_Channel):
    """A daily budget buys clicks along a saturating (Hill) curve."""

    type: Literal["paid"]
    daily_budget: Amount
    cpc: Positive
    half_saturation_budget: Positive | None = None


class OrganicChannel(_Channel):
    """A steady Poisson flow of visitors for a fixed cost per day."""

    type: Literal["organic"]
    visitors_per_day: Amount
    cost_per_day: Amount = 0.0


class PartnerChannel(_Channel):
    """Visitors sent by a partner, who is paid a share of their revenue."""

    type: Literal["partner"]
    visitors_per_day: Amount
    commission: Rate


class ReferralChannel(_Channel):
    """Visitors brought by buyers (see :class:`Referral`), of the buyer's segment by default."""

    type: Literal["referral"]
    mix: dict[Name, Rate] | None = None  # None: each referred visitor is of the referrer's segment
    reward: Amount = 0.0  # paid to the referrer when a referred visitor first buys


Channel = Annotated[
    PaidChannel | OrganicChannel | PartnerChannel | ReferralChannel, Field(discriminator="type")
]


# --- funnel steps ----------------------------------------------------------------------


class Refund(_Spec):
    """Share of sales refunded, on a day drawn uniformly within ``within_days``."""

    rate: Rate = 0.0
    within_days: Annotated[int, Field(ge=1)] = 14


class Churn(_Spec):
    """Churn before each renewal: discrete Weibull with first-renewal hazard ``rate``."""

    rate: Rate
    shape: Positive = 1.0


class Referral(_Spec):
    """Each buyer brings Poisson(``rate``) new visitors ``delay_days`` after buying."""

    rate: Amount
    delay_days: Annotated[int, Field(ge=1)] = 14
    channel: Name


class Spend(_Spec):
    """Gamma-Gamma order values: ``z ~ Gamma(p, ν)``, ``ν ~ Gamma(q, γ)``; mean ``pγ/(q−1)``."""

    p: Positive
    q: Annotated[float, Field(gt=1)]
    gamma: Positive


class Repeat(_Spec):
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


class _Step(_Spec):
    id: Name


class Optin(_Step):
    """The entry step: every arriving visitor meets it and opts in with ``rate``."""

    type: Literal["optin"]
    rate: SegmentRate
    cost_per_lead: Amount = 0.0


class EmailSequence(_Step):
    """Emails sent on given days after opt-in."""

    type: Literal["email_sequence"]
    after: Name
    days: Annotated[list[Day], Field(min_length=1)]
    cost_per_email: Amount = 0.0


class _Sellable(_Step):
    price: Amount
    value: SegmentValue
    take: SegmentRate
    cogs: Amount = 0.0


class _Triggered(_Sellable):
    after: Name | None = None
    delay_days: Day = 0
    via: Literal["page", "email"] = "page"
    trust_gain: Rate = 0.0
    requires: list[Name] = []


class Offer(_Triggered):
    """Something sold, shown ``delay_days`` after its trigger."""

    type: Literal["offer"]
    on_decline: Name | None = None
    refund: Refund = Refund()
    referral: Referral | None = None
    repeat: Repeat | None = None

    @model_validator(mode="after")
    def _one_trigger(self) -> Offer:
        if (self.after is None) == (self.on_decline is None):
            raise ValueError(
                "an offer needs exactly one trigger: `after` (a step reached or bought) "
                "or `on_decline` (an offer declined)"
            )
        return self


class OrderBump(_Sellable):
    """Added to an order at the moment its parent offer is bought."""

    type: Literal["order_bump"]
    on: Name
    refund: Refund = Refund()


class Subscription(_Triggered):
    """Joined like an offer; bills every period until churn."""

    type: Literal["subscription"]
    after: Name
    period_days: Annotated[int, Field(ge=1)] = 30
    first_price: Amount | None = None
    churn: Churn

    @property
    def first_payment(self) -> float:
        """The price of the first period (an intro price when one is set)."""
        return self.price if self.first_price is None else self.first_price


class Rep(_Spec):
    """One sales rep: calls a day, the share of calls that close, and the rep's cost a day."""

    name: Name
    calls_per_day: Annotated[int, Field(ge=0)]
    close_rate: Rate
    cost_per_day: Amount = 0.0


class Team(_Spec):
    """A team given as a count: close rates spread evenly over ``close_rate × (1 ± spread)``."""

    size: Annotated[int, Field(ge=1, le=500)]
    calls_per_day: Annotated[int, Field(ge=0)]
    close_rate: Rate
    close_rate_spread: Rate = 0.0
    cost_per_day: Amount = 0.0

    def reps(self) -> list[Rep]:
        """The reps, named rep1, rep2, …, from the weakest closer to the strongest."""
        n = self.size
        offsets = [0.0] * n if n == 1 else [2 * i / (n - 1) - 1 for i in range(n)]
        return [
            Rep(
                name=f"rep{i + 1}",
                calls_per_day=self.calls_per_day,
                close_rate=min(max(self.close_rate * (1 + self.close_rate_spread * o), 0.0), 1.0),
                cost_per_day=self.cost_per_day,
            )
            for i, o in enumerate(offsets)
        ]


class Qualify(_Spec):
    """Screen leads before the sales queue: junk leads are dropped, at a cost per lead."""

    cost_per_lead: Amount = 0.0


class SalesCall(_Step):
    """Leads queue for a team of reps; a lead cools while waiting and leaves after a while."""

    type: Literal["sales_call"]
    after: Name
    delay_days: Day = 0
    price: Amount  # the mean deal value
    deal_spread: Amount = 0.0  # sigma of the deal value's lognormal spread around the price
    value: SegmentValue | None = None  # the deal's worth to the client; None: all can afford
    cogs: Amount = 0.0
    team: Annotated[list[Rep], Field(min_length=1)] | Team
    order: Literal["arrival", "score"] = "arrival"
    cooling_per_day: Rate = 0.0
    max_wait_days: Day = 14
    qualify: Qualify | None = None
    refund: Refund = Refund()

    @property
    def reps(self) -> list[Rep]:
        """The team rep by rep, whichever way it was given."""
        return self.team.reps() if isinstance(self.team, Team) else list(self.team)


class Winback(_Sellable):
    """Leads who declined (or went cold) are contacted again by retargeting, at a cost."""

    type: Literal["winback"]
    on_decline: Name | None = None
    after: Name | None = None  # an optin: leads who have bought nothing by then
    delay_days: Day = 30
    cost_per_contact: Amount = 0.0
    trust_gain: Rate = 0.0
    requires: list[Name] = []
    refund: Refund = Refund()

    @model_validator(mode="after")
    def _one_trigger(self) -> Winback:
        if (self.after is None) == (self.on_decline is None):
            raise ValueError(
                "a winback needs exactly one trigger: `on_decline` (a step declined) or "
                "`after` (an optin: leads who went cold, having bought nothing)"
            )
        return self


Step = Annotated[
    Optin | EmailSequence | Offer | OrderBump | Subscription | SalesCall | Winback,
    Field(discriminator="type"),
]


# --- the search: what `sim optimize` may change, and what it aims for ---------------------


class NumberRange(_Spec):
    """A numeric search range; whole-number keys (days) are searched as integers."""

    low: float
    high: float
    step: Positive | None = None
    log: bool = False

    @model_validator(mode="after")
    def _consistent(self) -> NumberRange:
        if self.low > self.high:
            raise ValueError(f"`low <= high` must hold, got low={self.low:g}, high={self.high:g}")
        if self.log and self.low <= 0:
            raise ValueError(f"a log range needs low > 0, got low={self.low:g}")
        if self.log and self.step is not None:
            raise ValueError("give either `step` or `log: true`, not both")
        return self


Choices = Annotated[list[str | float | int | bool | None], Field(min_length=1)]


class Variant(_Spec):
    """An alternative funnel: steps removed, then steps added, then keys set."""

    description: str = ""
    remove: list[Name] = []
    add: list[Step] = []
    set: dict[str, Any] = {}


class Bound(_Spec):
    """A limit on a KPI's mean: ``min``, ``max`` or both."""

    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _some_bound(self) -> Bound:
        if self.min is None and self.max is None:
            raise ValueError("give `min`, `max` or both")
        return self


class Objective(_Spec):
    """KPIs to maximize or minimize (their means over replications), and constraints."""

    maximize: str | list[str] = "poas"
    minimize: str | list[str] = []
    constraints: dict[str, Bound] = {}

    @property
    def goals(self) -> list[tuple[str, str]]:
        """(kpi, "maximize" | "minimize") pairs, maximized ones first."""
        up = [self.maximize] if isinstance(self.maximize, str) else list(self.maximize)
        down = [self.minimize] if isinstance(self.minimize, str) else list(self.minimize)
        return [(k, "maximize") for k in up] + [(k, "minimize") for k in down]


# --- the scenario -------------------------------------------------------------------------


class Costs(_Spec):
    """Costs that are not traffic: payment processing and fixed overheads."""

    payment_fee: Rate = 0.0
    fixed_per_day: Amount = 0.0
    per_offer_email: Amount = 0.0  # cost of each email that carries an offer (via: email)


class Scenario(_Spec):
    """A whole funnel: audience, traffic, steps and costs, over a horizon of days."""

    format_version: Literal[1] = FORMAT_VERSION
    name: str
    description: str = ""
    currency: str = "USD"
    horizon_days: Annotated[int, Field(ge=1, le=3650)]
    acquisition_days: Annotated[int, Field(ge=1, le=3650)]
    seed: Annotated[int, Field(ge=0)] = 0
    replications: Annotated[int, Field(ge=1)] = 20
    segments: Annotated[dict[Name, Segment], Field(min_length=1)]
    channels: Annotated[dict[Name, Channel], Field(min_length=1)]
    funnel: Annotated[list[Step], Field(min_length=1)]
    costs: Costs = Costs()
    referral: Referral | None = None  # every first-time buyer refers, whatever they bought
    search: dict[str, NumberRange | Choices] = {}
    variants: dict[Name, Variant] = {}
    objective: Objective = Objective()

    def step(self, step_id: str) -> Step:
        """The funnel step with this id.

        Raises:
            KeyError: no step has that id.
        """
        for step in self.funnel:
            if step.id == step_id:
                return step
        raise KeyError(step_id)
