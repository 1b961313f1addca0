"""Referrals: buyers bring new visitors, who arrive later through a referral channel."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

import numpy as np

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
    friends who would come after the horizon are neither drawn nor counted. Friends whose
    referrer is refunded by their arrival day are counted here but do not come.
    """
    day = model.day + referral.delay
    if buyers.size == 0 or day >= model.ledger.horizon:
        return
    rng, pop = model.dice(step, "referral"), model.population
    counts = rng.poisson(referral.rate, buyers.size)
    total = int(counts.sum())
    if total == 0:
        return
    agent = cast("ReferralAgent", model.channels[referral.channel])
    mix = agent.channel.mix_cdf
    if mix.size:
        segment = np.minimum(np.searchsorted(mix, rng.random(total), side="right"), mix.size - 1)
    else:
        segment = np.repeat(pop.segment[buyers].astype(np.int64), counts)
    agent.expect(day, segment, np.repeat(buyers, counts), step)
    model.ledger.tally("referred", step, total)
