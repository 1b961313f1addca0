"""The scenario format: pydantic models, frozen, with unknown keys refused.

This is the contract users write against (docs/model.md explains each key's meaning).
Rules that span several keys (a mix summing to 1, a step naming another) live in
``sim/_checks.py``; loading a file with located errors lives in ``sim/loader.py``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Annotated, Any, Final, Literal, Union

from pydantic import Field, model_validator

from sim.spec import (
    AS_WRITTEN,
    MAX_AMOUNT,
    MAX_REPLICATIONS,
    Amount,
    Days,
    ExactPositive,
    ExactRate,
    Name,
    Number,
    Positive,
    Rate,
    Referral,
    Spec,
    Spread,
    StepSpec,
    Uncertain,
    Visitors,
    Whole,
    may_vary,
)
from sim.steps import STEP_KINDS
from sim.steps._layers import Layer

FORMAT_VERSION: Final = 1

# --- segments ---------------------------------------------------------------------------


class EmailBehavior(Spec):
    """How a segment's leads treat each email they are sent."""

    open_rate: Rate = 0.25
    unsubscribe_rate: Rate = 0.0025
    trust_per_open: Rate = 0.02
    # clicks among real opens; opens by mail apps that count as opens but never click or read
    click_rate: Rate = 0.0
    machine_open_share: Rate = 0.0
    # fatigue with n emails in the last 7 days (docs/model.md §3.2): open rate times
    # exp(-open_decay (n - 1)), unsubscribe rate times 1 + unsubscribe_growth (n - 1)
    open_decay: Annotated[Number, Field(ge=0, le=10)] = 0.0
    unsubscribe_growth: Annotated[Number, Field(ge=0, le=100)] = 0.0
    # trust falls by trust_per_ignored on each email not read once ignored_streak emails in
    # a row went unread (docs/model.md §3.2); 0: it never falls
    trust_per_ignored: Rate = 0.0
    ignored_streak: Annotated[Whole, Field(ge=1, le=1000)] = 3


class Segment(Spec):
    """An audience group; its visitors draw their traits from it on arrival."""

    price_dispersion: Spread = 0.5
    trust: Rate = 0.5
    email: EmailBehavior = EmailBehavior()
    junk_share: Rate = 0.0


# --- channels ---------------------------------------------------------------------------


class _Channel(Spec):
    mix: dict[Name, ExactRate]
    warmth: Annotated[Number, Field(ge=-1, le=1), may_vary(-1, 1), AS_WRITTEN] = 0.0


class PaidChannel(_Channel):
    """A daily budget buys clicks along a saturating (Hill) curve."""

    type: Literal["paid"]
    daily_budget: Amount
    cpc: Positive
    half_saturation_budget: Positive | None = None


class OrganicChannel(_Channel):
    """A steady Poisson flow of visitors for a fixed cost per day."""

    type: Literal["organic"]
    visitors_per_day: Visitors
    cost_per_day: Amount = 0.0


class PartnerChannel(_Channel):
    """Visitors sent by a partner, who is paid a share of their revenue."""

    type: Literal["partner"]
    visitors_per_day: Visitors
    commission: Rate


class ReferralChannel(_Channel):
    """Visitors brought by buyers (see :class:`Referral`), of the buyer's segment by default."""

    type: Literal["referral"]
    # None: each referred visitor is of the referrer's segment (other channels need a mix)
    mix: dict[Name, ExactRate] | None = None  # type: ignore[assignment]
    reward: Amount = 0.0  # paid to the referrer when a referred visitor first buys


Channel = Annotated[
    PaidChannel | OrganicChannel | PartnerChannel | ReferralChannel, Field(discriminator="type")
]


# --- funnel steps: one kind per module of sim/steps, listed in its registry ----------------


def _step_union() -> Any:
    """The funnel step, one spec per registered kind, told apart by ``type``."""
    specs = tuple(kind.spec for kind in STEP_KINDS.values())
    return Annotated[Union[specs], Field(discriminator="type")]  # noqa: UP007


if TYPE_CHECKING:
    Step = StepSpec  # statically a step is a StepSpec; at run time the union of the kinds
else:
    Step = _step_union()


# --- the search: what `sim optimize` may change, and what it aims for ---------------------


Bounded = Annotated[Number, Field(ge=-MAX_AMOUNT, le=MAX_AMOUNT)]  # an end of a search range


class NumberRange(Spec):
    """A numeric search range; whole-number keys (days) are searched as integers."""

    low: Bounded
    high: Bounded
    step: ExactPositive | None = None
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


Choices = Annotated[list[str | Bounded | int | bool | None], Field(min_length=1)]


class Variant(Spec):
    """An alternative funnel: steps removed, then steps added, then keys set."""

    description: str = ""
    remove: list[Name] = []
    add: list[Step] = []
    set: dict[str, Any] = {}


class Bound(Spec):
    """A limit on a measure (a KPI's mean, or a percentile): ``min``, ``max`` or both."""

    min: Number | None = None
    max: Number | None = None

    @model_validator(mode="after")
    def _some_bound(self) -> Bound:
        if self.min is None and self.max is None:
            raise ValueError("give `min`, `max` or both")
        return self


class Objective(Spec):
    """Measures to maximize or minimize, and constraints (see :mod:`sim.measures`).

    A measure is a KPI's mean over replications (``profit``), a percentile of it
    (``profit@p10``), or of the cash needed (``cash_needed@p90``).
    """

    maximize: str | list[str] = "profit"
    minimize: str | list[str] = []
    constraints: dict[str, Bound] = {}

    @property
    def goals(self) -> list[tuple[str, str]]:
        """(measure, "maximize" | "minimize") pairs, maximized ones first."""
        up = [self.maximize] if isinstance(self.maximize, str) else list(self.maximize)
        down = [self.minimize] if isinstance(self.minimize, str) else list(self.minimize)
        return [(k, "maximize") for k in up] + [(k, "minimize") for k in down]


# --- the scenario -------------------------------------------------------------------------


class Costs(Spec):
    """Costs that are not traffic: payment processing and fixed overheads."""

    payment_fee: Rate = 0.0
    fixed_per_day: Amount = 0.0
    per_offer_email: Amount = 0.0  # cost of each email that carries an offer (via: email)
    discount_rate: Rate = 0.0  # a year, for the net present value and value still to come
    tail_years: Annotated[float, Field(ge=0, le=50)] = 3.0  # value still to come: how far


class Correlation(Spec):
    """Two uncertain quantities that move together: a Gaussian copula's correlation."""

    paths: tuple[str, str]
    rho: Annotated[Number, Field(gt=-1, lt=1)]


class Assumptions(Spec):
    """How uncertain quantities are drawn: replications per draw, and correlations."""

    # luck replications on each assumption draw (a nested design): 2 or more lets a run
    # split each KPI's spread into assumptions and luck
    replications_per_draw: Annotated[Whole, Field(ge=1, le=MAX_REPLICATIONS)] = 2
    correlations: list[Correlation] = []


class Scenario(Spec):
    """A whole funnel: audience, traffic, steps and costs, over a horizon of days."""

    format_version: Literal[1] = FORMAT_VERSION
    name: str
    description: str = ""
    currency: str = "USD"
    horizon_days: Days
    acquisition_days: Days
    seed: Annotated[Whole, Field(ge=0, le=2**63 - 1)] = 0
    replications: Annotated[Whole, Field(ge=1, le=MAX_REPLICATIONS)] = 20
    segments: Annotated[dict[Name, Segment], Field(min_length=1)]
    channels: Annotated[dict[Name, Channel], Field(min_length=1)]
    funnel: Annotated[list[Step], Field(min_length=1)]
    costs: Costs = Costs()
    referral: Referral | None = None  # every first-time buyer refers, whatever they bought
    search: dict[str, NumberRange | Choices] = {}
    variants: dict[Name, Variant] = {}
    objective: Objective = Objective()
    assumptions: Assumptions = Assumptions()
    calibrate: dict[str, Uncertain] = {}  # free parameters and their priors, for `sim calibrate`
    layers: dict[Name, Layer] = {}  # engagement layers, in order (sim/steps/_layers.py)

    def step(self, step_id: str) -> Step:
        """The funnel step with this id.

        Raises:
            KeyError: no step has that id.
        """
        for step in self.funnel:
            if step.id == step_id:
                return step
        raise KeyError(step_id)

    def with_changes(self, values: Mapping[str, Any]) -> Scenario:
        """A copy with values set at dotted paths (as ``--set`` names them), validated.

        Every rule of the format is checked again, as for a file, so a change that breaks
        one (60 acquisition days in a 10-day horizon) raises instead of running.

        Raises:
            ScenarioError: a path names nothing, or the changed scenario breaks a rule.

        Examples:
            >>> import sim
            >>> s = sim.load_scenario("scenarios/quickstart.yaml")
            >>> s.with_changes({"funnel.course.price": 55}).step("course").price
            55.0
        """
        from sim.source import ScenarioSource  # the loader imports this module

        plain = self.model_dump(mode="json", by_alias=True)
        source = ScenarioSource(text="", source="<with_changes>", tree=plain)
        return source.with_values(values).scenario

    def model_copy(
        self, *, update: Mapping[str, Any] | None = None, deep: bool = False
    ) -> Scenario:
        """A copy; changing values here would skip validation, so it is refused.

        Raises:
            TypeError: ``update`` was given: use :meth:`with_changes`.
        """
        if update:
            raise TypeError(
                "Scenario.model_copy(update=...) would skip validation; "
                "use scenario.with_changes({'funnel.<id>.price': 55, ...})"
            )
        return super().model_copy(deep=deep)


def rebuild_step_union() -> None:
    """Rebuild :data:`Step` and the models holding steps from the registry of kinds.

    Called when a kind is registered or removed, so that validation and the JSON schema
    know every registered kind.
    """
    global Step
    Step = _step_union()
    Variant.model_fields["add"].annotation = list[Step]
    Variant.model_rebuild(force=True)
    Scenario.model_fields["funnel"].annotation = list[Step]
    Scenario.model_rebuild(force=True)
