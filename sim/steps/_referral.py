"""Referrals: buyers bring new visitors, who arrive later through a referral channel."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

import numpy as np

from sim.behavior import poisson_counts
from sim.luck import fold, name_key
from sim.spec import Referral
from sim.steps._base import CompileContext, IntArray

if TYPE_CHECKING:
    from sim.model import FunnelModel, ReferralAgent


@dataclass(frozen=True)
class CompiledReferral:
    """Each buyer brings Poisson(``rate``) visitors, ``delay`` days later, via ``channel``."""

    rate: float
    delay: int
    channel: int  # index of the referral channel

    @classmethod
    def compile(cls, spec: Referral | None, ctx: CompileContext) -> CompiledReferral | None:
        """The referral of an offer or a scenario, if it has one."""
        if spec is None:
            return None
        return cls(rate=spec.rate, delay=spec.delay_days, channel=ctx.channels[spec.channel])


def refer(model: FunnelModel, step: int, referral: CompiledReferral, buyers: IntArray) -> None:
    """Draw how many visitors each buyer brings and announce them to the referral channel.

    A referred visitor is of the referrer's segment, unless the channel has a ``mix``.
    They are counted at ``step`` (the step whose buyers referred them) as ``referred``;
    friends who would come after the horizon are neither drawn nor counted, and friends
    whose referrer is refunded by their arrival day do not come (they are counted when they
    arrive).

    How many a buyer brings is their own draw, and the k-th friend of a buyer is the same
    visitor (uid) in every design: with the scenario-wide referral whichever step made
    them a buyer, with an offer's own for that offer.
    """
    day = model.day + referral.delay
    if buyers.size == 0 or day >= model.ledger.horizon:
        return
    pop = model.population
    own = referral is not model.compiled.referral  # an offer's own referral
    source = f"friends/{model.compiled.step_ids[step]}" if own else "friends"
    u = model.uniforms(step if own else None, "referral", buyers)
    counts = poisson_counts(u, referral.rate)
    total = int(counts.sum())
    if total == 0:
        return
    referrer = np.repeat(buyers, counts)
    k = np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)
    uid = fold(fold(pop.uid[referrer], name_key(source)), k)
    agent = cast("ReferralAgent", model.channels[referral.channel])
    if agent.channel.mix_cdf.size:  # drawn from the friend's own dice on arrival
        segment = np.full(total, -1, dtype=np.int64)
    else:
        segment = pop.segment[referrer].astype(np.int64)
    agent.expect(day, uid, pop.replication[referrer], segment, referrer, step)
