"""A validated ``Scenario`` → arrays the engine reads (compiled once, shared by replications)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from sim._checks import trigger_of
from sim.behavior import FloatArray, paid_clicks
from sim.scenario import PaidChannel, PartnerChannel, ReferralChannel, Scenario
from sim.steps import STEP_KINDS, CompileContext, CompiledStep, Trigger
from sim.steps._email import EmailHabits
from sim.steps._layers import CompiledLayers
from sim.steps._referral import CompiledReferral

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
    discount_rate: float = 0.0  # annual (costs.discount_rate)
    tail_days: int = 0  # how far past the horizon value still to come is counted
    email_habits: EmailHabits | None = None  # clicks, machine opens, fatigue per segment
    layers: CompiledLayers | None = None  # engagement layers, if the scenario declares them

    @cached_property
    def pays_commission(self) -> bool:
        """Whether any channel takes a share of revenue (most scenarios: none)."""
        return bool(self.channel_commission.any())

    @cached_property
    def teams(self) -> dict[str, tuple[str, ...]]:
        """Step id → the names of its reps, for the steps that have a team."""
        return {s.id: s.reps for s in self.steps if hasattr(s, "reps")}

    @cached_property
    def pays_reward(self) -> bool:
        """Whether any channel pays a reward for a first purchase (most scenarios: none)."""
        return bool(self.channel_reward.any())


def _checkouts(scenario: Scenario) -> Iterator[tuple[str, float]]:
    """Each sellable step with a checkout (a cart), and the share abandoning it."""
    for spec in scenario.funnel:
        checkout = STEP_KINDS[spec.type].checkout
        if checkout is not None:
            yield checkout(spec)


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
    sellable = [s.id for s in scenario.funnel if STEP_KINDS[s.type].sells]
    if len(sellable) > MAX_SELLABLE:
        raise ValueError(f"at most {MAX_SELLABLE} offers, bumps and subscriptions are supported")
    triggers: dict[str, Trigger] = {}  # filled as the steps compile, in processing order
    ctx = CompileContext(
        segments=names,
        step_index={s.id: i for i, s in enumerate(scenario.funnel)},
        bits={step_id: bit for bit, step_id in enumerate(sellable)},
        after_events={s.id: STEP_KINDS[s.type].after_event for s in scenario.funnel},
        channels={name: i for i, name in enumerate(scenario.channels)},
        triggers=triggers,
        teams={s.id: tuple(r.name for r in s.reps) for s in scenario.funnel if hasattr(s, "reps")},
        abandon_rates=dict(_checkouts(scenario)),
        layers={name: k for k, name in enumerate(scenario.layers)},
    )
    steps: list[CompiledStep] = []
    for step_id in processing_order(scenario):
        spec = scenario.step(step_id)
        step = STEP_KINDS[spec.type].compile(spec, ctx)
        if step.trigger is not None:
            triggers[step_id] = step.trigger
        gate = getattr(step, "gate", None)  # a split on behaviour acts right before its step
        steps += [gate, step] if gate is not None else [step]
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
        steps=tuple(steps),
        step_ids=tuple(s.id for s in scenario.funnel),
        step_kinds=tuple(s.type for s in scenario.funnel),
        payment_fee=scenario.costs.payment_fee,
        overheads_per_day=scenario.costs.fixed_per_day,
        team_pay_per_day=_daily_costs(scenario),
        offer_email_cost=scenario.costs.per_offer_email,
        discount_rate=scenario.costs.discount_rate,
        tail_days=round(scenario.costs.tail_years * 365),
        email_habits=EmailHabits.compile(segs.values()),
        layers=CompiledLayers.compile(scenario.layers, ctx.step_index, ctx.bits),
    )


def processing_order(scenario: Scenario) -> list[str]:
    """Step ids so that every step comes after the step that triggers it.

    Within that rule the scenario's own order decides (a stable topological sort), so
    steps due on the same day act in funnel order, and a step due the same day as its
    trigger (delay 0, an order bump) sees that day's outcome. Kinds that act right after
    their trigger (bumps) go before the trigger's other followers, as a checkout shows them.
    """
    ids = [s.id for s in scenario.funnel]
    parent = {s.id: (t[1] if (t := trigger_of(s)) else None) for s in scenario.funnel}
    placed: list[str] = []
    while len(placed) < len(ids):
        ready = [i for i in ids if i not in placed and (parent[i] is None or parent[i] in placed)]
        eager = [i for i in ready if STEP_KINDS[scenario.step(i).type].right_after_trigger]
        placed.append((eager or ready)[0])
    return placed


def _daily_costs(scenario: Scenario) -> float:
    """What the steps cost every day of the horizon (sales teams' pay)."""
    total = 0.0
    for step in scenario.funnel:
        cost = STEP_KINDS[step.type].daily_cost
        if cost is not None:
            total += cost(step)
    return total


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
