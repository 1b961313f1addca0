"""A validated ``Scenario`` → arrays the engine reads (compiled once, shared by replications)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from sim._checks import trigger_of
from sim.behavior import FloatArray, paid_clicks
from sim.scenario import (
    OrderBump,
    PaidChannel,
    PartnerChannel,
    ReferralChannel,
    SalesCall,
    Scenario,
)
from sim.steps import STEP_KINDS, CompileContext, CompiledStep
from sim.steps._referral import CompiledReferral

_SELLABLE = ("offer", "order_bump", "subscription", "sales_call", "winback")
MAX_SELLABLE = 63  # one bit each in Population.bought


@dataclass(frozen=True)
class CompiledChannel:
    """A traffic source: expected visitors and cost per acquisition day, and its audience."""

    name: str
    kind: str
    visitors_per_day: float
    cost_per_day: float
    mix_cdf: FloatArray  # cumulative segment shares; empty: the referrer's segment
    warmth: float
    reward: float = 0.0  # paid when a visitor of this channel first buys (referral channels)


@dataclass(frozen=True)
class CompiledScenario:
    """Everything a replication needs, as plain numbers and arrays."""

    name: str
    horizon: int
    acquisition: int
    segments: tuple[str, ...]
    seg_dispersion: FloatArray
    seg_trust: FloatArray
    seg_junk: FloatArray
    seg_open_rate: FloatArray
    seg_unsubscribe_rate: FloatArray
    seg_trust_per_open: FloatArray
    channels: tuple[CompiledChannel, ...]
    channel_commission: FloatArray
    channel_reward: FloatArray
    referral: CompiledReferral | None  # every first-time buyer refers (scenario `referral:`)
    steps: tuple[CompiledStep, ...]  # in processing order: every step after its trigger
    step_ids: tuple[str, ...]  # in scenario order; a step's index points here
    step_kinds: tuple[str, ...]
    payment_fee: float
    overheads_per_day: float  # fixed costs per day
    team_pay_per_day: float  # what the sales teams cost a day
    offer_email_cost: float

    @cached_property
    def pays_commission(self) -> bool:
        """Whether any channel takes a share of revenue (most scenarios: none)."""
        return bool(self.channel_commission.any())

    @cached_property
    def teams(self) -> dict[str, tuple[str, ...]]:
        """Sales step id → the names of its reps."""
        return {s.id: s.reps for s in self.steps if s.kind == "sales_call"}  # type: ignore[attr-defined]

    @cached_property
    def pays_reward(self) -> bool:
        """Whether any channel pays a reward for a first purchase (most scenarios: none)."""
        return bool(self.channel_reward.any())


def compile_scenario(scenario: Scenario) -> CompiledScenario:
    """Turn a validated scenario into the arrays the engine runs on.

    Examples:
        >>> from sim import load_scenario
        >>> c = compile_scenario(load_scenario("scenarios/quickstart.yaml"))
        >>> c.step_ids
        ('guide', 'nurture', 'course')
    """
    segs = scenario.segments
    names = tuple(segs)
    sellable = [s.id for s in scenario.funnel if s.type in _SELLABLE]
    if len(sellable) > MAX_SELLABLE:
        raise ValueError(f"at most {MAX_SELLABLE} offers, bumps and subscriptions are supported")
    ctx = CompileContext(
        segments=names,
        step_index={s.id: i for i, s in enumerate(scenario.funnel)},
        bits={step_id: bit for bit, step_id in enumerate(sellable)},
        kinds={s.id: s.type for s in scenario.funnel},
        channels={name: i for i, name in enumerate(scenario.channels)},
    )
    steps = {s.id: STEP_KINDS[s.type](s, ctx) for s in scenario.funnel}
    channels = tuple(_compile_channel(name, ch, names) for name, ch in scenario.channels.items())
    return CompiledScenario(
        name=scenario.name,
        horizon=scenario.horizon_days,
        acquisition=scenario.acquisition_days,
        segments=names,
        seg_dispersion=np.array([s.price_dispersion for s in segs.values()]),
        seg_trust=np.array([s.trust for s in segs.values()]),
        seg_junk=np.array([s.junk_share for s in segs.values()]),
        seg_open_rate=np.array([s.email.open_rate for s in segs.values()]),
        seg_unsubscribe_rate=np.array([s.email.unsubscribe_rate for s in segs.values()]),
        seg_trust_per_open=np.array([s.email.trust_per_open for s in segs.values()]),
        channels=channels,
        channel_commission=np.array(
            [
                ch.commission if isinstance(ch, PartnerChannel) else 0.0
                for ch in scenario.channels.values()
            ]
        ),
        channel_reward=np.array([ch.reward for ch in channels]),
        referral=CompiledReferral.compile(scenario.referral, ctx),
        steps=tuple(steps[step_id] for step_id in processing_order(scenario)),
        step_ids=tuple(s.id for s in scenario.funnel),
        step_kinds=tuple(s.type for s in scenario.funnel),
        payment_fee=scenario.costs.payment_fee,
        overheads_per_day=scenario.costs.fixed_per_day,
        team_pay_per_day=_team_pay(scenario),
        offer_email_cost=scenario.costs.per_offer_email,
    )


def processing_order(scenario: Scenario) -> list[str]:
    """Step ids so that every step comes after the step that triggers it.

    Within that rule the scenario's own order decides (a stable topological sort), so
    steps due on the same day act in funnel order, and a step due the same day as its
    trigger (delay 0, an order bump) sees that day's outcome. Bumps go right after their
    parent, before the parent's follow-ups, as a checkout shows them.
    """
    ids = [s.id for s in scenario.funnel]
    parent = {s.id: (t[1] if (t := trigger_of(s)) else None) for s in scenario.funnel}
    placed: list[str] = []
    while len(placed) < len(ids):
        ready = [i for i in ids if i not in placed and (parent[i] is None or parent[i] in placed)]
        bumps = [i for i in ready if isinstance(scenario.step(i), OrderBump)]
        placed.append((bumps or ready)[0])
    return placed


def _team_pay(scenario: Scenario) -> float:
    """What the sales teams cost a day: they are paid every day of the horizon."""
    steps = [s for s in scenario.funnel if isinstance(s, SalesCall)]
    return sum(rep.cost_per_day for step in steps for rep in step.reps)


def _compile_channel(name: str, channel: object, segments: tuple[str, ...]) -> CompiledChannel:
    mix = channel.mix  # type: ignore[attr-defined]
    if mix is None:  # referral channel: each visitor keeps the referrer's segment
        cdf = np.empty(0)
    else:
        shares = np.array([mix.get(s, 0.0) for s in segments])
        cdf = np.cumsum(shares / shares.sum())
    if isinstance(channel, ReferralChannel):
        per_day, cost = 0.0, 0.0
    elif isinstance(channel, PaidChannel):
        per_day = paid_clicks(channel.daily_budget, channel.cpc, channel.half_saturation_budget)
        cost = channel.daily_budget
    else:
        per_day = channel.visitors_per_day  # type: ignore[attr-defined]
        cost = getattr(channel, "cost_per_day", 0.0)
    return CompiledChannel(
        name=name,
        kind=channel.type,  # type: ignore[attr-defined]
        visitors_per_day=per_day,
        cost_per_day=cost,
        mix_cdf=cdf,
        warmth=channel.warmth,  # type: ignore[attr-defined]
        reward=getattr(channel, "reward", 0.0),
    )
