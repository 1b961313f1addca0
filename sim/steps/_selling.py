"""Showing something for sale and deciding who buys: shared by offers, bumps, subscriptions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

import sim._compiled as kernels
from sim.behavior import add_trust, buys
from sim.steps._base import CompileContext, FloatArray, IntArray
from sim.steps._email import send_email
from sim.steps._kind import Event
from sim.steps._layers import in_layer, moved
from sim.steps._referral import refer

if TYPE_CHECKING:
    from sim.model import FunnelModel

SHOWN = Event("shown", 6)
BUY = Event("buy", 7, "bought", paid=True)
DECLINE = Event("decline", 8, "declined")
ABANDONED = "abandoned"  # started checking out and left (see sim/steps/cart.py)
CART_LEFT = Event("cart_left", 60, "started checking out and left")
_BUY = ("buy",)  # the purpose of a visitor's draw to buy


@dataclass(frozen=True)
class Pitch:
    """What a sellable step asks and how it is shown, compiled to per-segment arrays."""

    price: float
    take: FloatArray
    value: FloatArray
    trust_gain: float
    requires: np.uint64
    via_email: bool
    requires_steps: tuple[int, ...] = ()  # the step indices of ``requires``
    excludes: tuple[tuple[int, int], ...] = ()  # ``requires_not``: (step index, bit) each
    seen_on_click: bool = False  # via email: only those who click see it
    layer: int = -1  # ``to_layer``: only leads in this layer (its number) meet it; -1: all

    @classmethod
    def compile(cls, spec: object, ctx: CompileContext, *, price: float | None = None) -> Pitch:
        """From any spec with price, take, value and optional trust_gain, requires, via."""
        return cls(
            price=float(spec.price if price is None else price),  # type: ignore[attr-defined]
            take=ctx.per_segment(spec.take),  # type: ignore[attr-defined]
            value=ctx.per_segment(spec.value),  # type: ignore[attr-defined]
            trust_gain=float(getattr(spec, "trust_gain", 0.0)),
            requires=ctx.mask(list(getattr(spec, "requires", []))),
            via_email=getattr(spec, "via", "page") == "email",
            requires_steps=tuple(ctx.step_index[r] for r in getattr(spec, "requires", [])),
            excludes=tuple(
                (ctx.step_index[r], ctx.bits[r]) for r in getattr(spec, "requires_not", [])
            ),
            seen_on_click=getattr(spec, "seen_on", "open") == "click",
            layer=ctx.layers.get(getattr(spec, "to_layer", None) or "", -1),
        )


def meeting(model: FunnelModel, who: IntArray, pitch: Pitch) -> IntArray:
    """Those of ``who`` who have bought every step the pitch ``requires``, unrefunded today.

    With ``requires_not``, also those who have bought none of those steps (a purchase
    refunded by today counts as not bought); with ``to_layer``, those in that layer.
    """
    if pitch.layer >= 0:
        who = in_layer(model, pitch.layer, who)
    if pitch.excludes:
        who = _excluding(model, who, pitch)
    if not pitch.requires:
        return who
    pop = model.population
    met: NDArray[np.bool_] = (pop.bought[who] & pitch.requires) == pitch.requires
    who = who[met]
    for step in pitch.requires_steps:
        who = who[pop.kept(step, who, model.day)]
    return who


def _excluding(model: FunnelModel, who: IntArray, pitch: Pitch) -> IntArray:
    """Those of ``who`` holding no standing purchase of the steps ``requires_not`` names."""
    pop = model.population
    keep = np.ones(who.size, dtype=np.bool_)
    for step, bit in pitch.excludes:
        holds = (pop.bought[who] & np.uint64(1 << bit)) != 0
        keep &= ~(holds & pop.kept(step, who, model.day))
    return who[keep]


def show(model: FunnelModel, step: int, pitch: Pitch, who: IntArray) -> IntArray:
    """Who of ``who`` actually sees the pitch today (requirements met; email read or clicked)."""
    who = meeting(model, who, pitch)
    if pitch.via_email:
        sent = send_email(model, step, who, model.compiled.offer_email_cost)
        who = sent.clickers if pitch.seen_on_click else sent.readers
    model.ledger.tally("reached", step, who)
    if model.log is not None:
        model.log.add(who, model.day, step, "shown", pitch.price)
    return who


def decide(
    model: FunnelModel,
    step: int,
    bit: int,
    pitch: Pitch,
    shown: IntArray,
    *,
    scenario_referral: bool = True,
    abandon: tuple[str, float] | None = None,
) -> tuple[IntArray, IntArray]:
    """Split the shown visitors into buyers and decliners, and mark and warm the buyers.

    A visitor buys with probability ``take · trust`` if ``wtp_scale · value ≥ price``;
    junk leads never buy. ``scenario_referral`` False: the step's buyers refer by the
    step's own rule instead of the scenario-wide one (see :func:`mark_bought`).
    ``abandon`` (the step's id, a rate): a share of those who would buy start checking out
    and leave; they are neither buyers nor decliners, and the step emits ``abandoned``
    for them (a cart's reminders may win them back).
    """
    if kernels.ENABLED and abandon is None:  # the same numbers, in one pass
        pop = model.population
        buyers, decliners, counts = kernels.decided(
            shown,
            pop.segment,
            pop.luck,
            pop.trust,
            pop.wtp_scale,
            pop.junk,
            pitch.take,
            pitch.value,
            pitch.price,
            model.salts(step, _BUY, 0)[0],
            *model.ledger.counted_by,
        )
        model.ledger.known(buyers, counts)
    else:
        buyers, decliners = _decided(model, step, pitch, shown, abandon)
    sold(model, step, bit, pitch, buyers, scenario_referral=scenario_referral)
    return buyers, decliners


def _decided(
    model: FunnelModel,
    step: int,
    pitch: Pitch,
    shown: IntArray,
    abandon: tuple[str, float] | None,
) -> tuple[IntArray, IntArray]:
    """:func:`decide`'s buyers and decliners, and those who left the checkout, with numpy."""
    pop = model.population
    seg = pop.segment[shown]
    bought = buys(
        model.uniforms(step, _BUY[0], shown),
        pitch.take[seg],
        pop.trust[shown],
        pop.wtp_scale[shown],
        pitch.value[seg],
        pitch.price,
    )
    bought &= ~pop.junk[shown]
    if abandon is not None:
        left = bought & (model.uniforms(step, "abandon", shown) < abandon[1])
        model.emit(ABANDONED, abandon[0], shown[left])
        if model.log is not None:
            model.log.add(shown[left], model.day, step, "cart_left", pitch.price)
        shown, bought = shown[~left], bought[~left]
    return shown[bought], shown[~bought]


def sold(
    model: FunnelModel,
    step: int,
    bit: int,
    pitch: Pitch,
    buyers: IntArray,
    *,
    scenario_referral: bool = True,
) -> None:
    """Mark ``buyers`` as buyers of the step, warm them by its trust gain and count them."""
    mark_bought(model, step, bit, buyers, scenario_referral=scenario_referral)
    if pitch.trust_gain:
        pop = model.population
        pop.trust[buyers] = add_trust(pop.trust[buyers], pitch.trust_gain)
    model.ledger.tally("converted", step, buyers)


def mark_bought(
    model: FunnelModel, step: int, bit: int, buyers: IntArray, *, scenario_referral: bool = True
) -> None:
    """Mark ``buyers`` as having bought step ``bit``; first-time buyers may refer and earn.

    A visitor's first purchase (of anything) pays the reward of a referral channel that
    brought them, and, with a scenario-wide ``referral:``, makes them refer others, unless
    the step has a referral of its own (``scenario_referral`` False), which replaces it.
    """
    pop, c = model.population, model.compiled
    referral = c.referral if scenario_referral else None
    if referral is not None or c.pays_reward:
        first = buyers[pop.bought[buyers] == 0]
        if c.pays_reward:
            _pay_rewards(model, step, first)
        if referral is not None:
            refer(model, step, referral, first)
    pop.bought[buyers] |= np.uint64(1 << bit)
    pop.bought_again(step, buyers)
    moved(model, step, buyers)  # a purchase may move the buyer to another layer


def _pay_rewards(model: FunnelModel, step: int, first: IntArray) -> None:
    reward = model.compiled.channel_reward[model.population.channel[first]]
    model.ledger.cost_each("traffic", model.day, reward, first, step=step)
