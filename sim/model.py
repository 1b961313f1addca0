"""``FunnelModel``: the daily clock; channels bring visitors, steps act on those due.

Visitors live as columns (:class:`sim.population.Population`); the few heterogeneous
actors (traffic channels, and the reps of a sales team: :mod:`sim.steps.sales_call`) are
Mesa agents. Each day: channels act in scenario order (``channels``), then the steps act in
processing order (every step after its trigger), each on all the visitors due that day at
once. A step that keeps state between days (a sales queue) keeps it in ``state``.
"""

from __future__ import annotations

import zlib
from collections import defaultdict
from typing import Any

import mesa
import numpy as np

from sim.compile import CompiledChannel, CompiledScenario
from sim.events import EventLog
from sim.ledger import Ledger
from sim.population import IntArray, Population

_EMPTY = np.empty(0, dtype=np.int64)
# spawn-key level of the steps' streams: far above any replication index, so a step's
# stream never equals a replication's own (SeedSequence(seed, spawn_key=(r,)))
_STEP_KEY = 1 << 32


def _draw_visitors(
    model: FunnelModel, index: int, segment: IntArray, arrival_day: IntArray
) -> IntArray:
    """Add visitors of the given segments through channel ``index``; draw their traits."""
    c, rng, n = model.compiled, model.rng, segment.size
    wtp = np.exp(c.seg_dispersion[segment] * rng.standard_normal(n))
    junk = rng.random(n) < c.seg_junk[segment]
    return model.population.add(
        channel=np.full(n, index),
        segment=segment,
        arrival_day=arrival_day,
        wtp_scale=wtp,
        trust=np.clip(c.seg_trust[segment] + c.channels[index].warmth, 0.0, 1.0),
        junk=junk,
    )


class ChannelAgent(mesa.Agent):  # type: ignore[misc]
    """A traffic source; subclasses decide who arrives each day."""

    def __init__(self, model: FunnelModel, channel: CompiledChannel, index: int) -> None:
        super().__init__(model)
        self.channel = channel
        self.index = index

    @property
    def waiting(self) -> bool:
        """Whether visitors are still to come after the acquisition days."""
        return False

    def arrive(self) -> None:
        """Let today's visitors in (and pay for the day's traffic)."""
        raise NotImplementedError

    def _welcome(self, who: IntArray, cost: float) -> None:
        model: FunnelModel = self.model
        day, ledger = model.day, model.ledger
        ledger.cost("traffic", day, cost, channel=self.index)
        ledger.count("visitors", day, who.size)
        ledger.channel_visitors[self.index] += who.size
        if model.log is not None:
            model.log.add(who, day, len(model.compiled.step_ids) + self.index, "arrive")
        model.emit("arrive", "", who)


class CohortAgent(ChannelAgent):
    """A paid, organic or partner channel: a Poisson number of visitors each acquisition day.

    The whole cohort a channel will bring is drawn when the model starts (counts per day,
    then every visitor's traits, in one pass each), and each day lets that day's visitors
    in: the same law as drawing day by day, with a few array operations instead of a few
    per day.
    """

    def __init__(self, model: FunnelModel, channel: CompiledChannel, index: int) -> None:
        super().__init__(model, channel, index)
        c, rng = model.compiled, model.rng
        counts = rng.poisson(channel.visitors_per_day, size=c.acquisition)
        n = int(counts.sum())
        segment = np.searchsorted(channel.mix_cdf, rng.random(n), side="right")
        segment = np.minimum(segment, len(c.segments) - 1)
        _draw_visitors(model, index, segment, np.repeat(np.arange(c.acquisition), counts))
        # visitors arriving on day d have ids bounds[d] .. bounds[d + 1] - 1
        self._bounds = model.population.size - n + np.concatenate(([0], np.cumsum(counts)))

    def arrive(self) -> None:
        """Let today's visitors in and pay for the day's traffic."""
        day = self.model.day
        if day < self.model.compiled.acquisition:
            who = np.arange(self._bounds[day], self._bounds[day + 1], dtype=np.int64)
            self._welcome(who, self.channel.cost_per_day)


class ReferralAgent(ChannelAgent):
    """The referral channel: visitors that buyers bring, each on the day they were promised.

    Buyers refer as they buy (:meth:`expect`), so there is no cohort drawn at the start;
    the traits of the referred are drawn on arrival. Its cost is the reward paid when a
    referred visitor first buys (booked by the selling steps), not a cost per day.
    """

    def __init__(self, model: FunnelModel, channel: CompiledChannel, index: int) -> None:
        super().__init__(model, channel, index)
        # day -> (segments, referrers, the step whose purchase referred them) of the friends due
        self._pending: dict[int, list[tuple[IntArray, IntArray, int]]] = defaultdict(list)

    @property
    def waiting(self) -> bool:
        """Whether referred visitors are still to arrive."""
        return bool(self._pending)

    def expect(self, day: int, segment: IntArray, referrer: IntArray, step: int) -> None:
        """Referred visitors of the given segments will arrive on ``day`` (within the horizon).

        ``referrer[i]`` brings friend ``i`` for a purchase of ``step``; a friend whose
        referrer's purchase is refunded by ``day`` does not come (docs/model.md §3.5).
        """
        if segment.size:
            self._pending[day].append((segment, referrer, step))

    def arrive(self) -> None:
        """Let in the referred visitors due today."""
        model: FunnelModel = self.model
        batches = self._pending.pop(model.day, None)
        if batches:
            kept = []
            for seg, referrer, step in batches:
                stands = model.population.kept(step, referrer, model.day)
                model.ledger.tally("referred", step, -int((~stands).sum()))  # never came
                kept.append(seg[stands])
            segment = np.concatenate(kept)
            days = np.full(segment.size, model.day)
            model.ledger.count("referred", model.day, segment.size)
            self._welcome(_draw_visitors(model, self.index, segment, days), 0.0)


def _root_seed(rng: object) -> np.random.SeedSequence:
    """The seed sequence behind the model's ``rng`` argument (an int, a sequence or a generator)."""
    if isinstance(rng, np.random.Generator):
        return rng.bit_generator.seed_seq  # type: ignore[return-value]
    if isinstance(rng, np.random.SeedSequence):
        return rng
    return np.random.SeedSequence(rng)  # type: ignore[arg-type]


class FunnelModel(mesa.Model):  # type: ignore[misc]
    """One replication of a scenario.

    Args:
        compiled: the scenario, compiled (:func:`sim.compile.compile_scenario`).
        rng: this replication's seed (a ``SeedSequence`` or int) or generator; the model
            draws every random number from it, in a fixed order.
        record_events: keep the per-visitor event log (slower; for traces and reports).
        breakdown: keep the books by step × channel × segment too (for the report).

    Examples:
        >>> from sim import load_scenario
        >>> from sim.compile import compile_scenario
        >>> m = FunnelModel(compile_scenario(load_scenario("scenarios/quickstart.yaml")), rng=1)
        >>> m.run()
        >>> m.population.size > 0
        True
    """

    def __init__(
        self,
        compiled: CompiledScenario,
        *,
        rng: object,
        record_events: bool = False,
        breakdown: bool = False,
    ) -> None:
        super().__init__(rng=rng)
        self.compiled = compiled
        self._root = _root_seed(rng)
        self._dice: dict[tuple[int, str], np.random.Generator] = {}
        self.day = 0
        expected = sum(ch.visitors_per_day for ch in compiled.channels) * compiled.acquisition
        self.population = Population(capacity=int(expected * 1.05) + 64)
        self.ledger = Ledger(
            compiled.horizon,
            len(compiled.step_ids),
            payment_fee=compiled.payment_fee,
            commission=compiled.channel_commission,
            people=self.population,
            n_segments=len(compiled.segments),
            breakdown=breakdown,
        )
        self.log = EventLog() if record_events else None
        # (event, source id) -> [(step, delay)]: who is due when something happens
        self._listeners: dict[tuple[str, str], list[tuple[int, int]]] = defaultdict(list)
        for order, step in enumerate(compiled.steps):
            if step.trigger is not None:
                for delay in step.trigger.delays:
                    self._listeners[step.trigger.event, step.trigger.source].append((order, delay))
        # processing position -> day -> visitor id arrays due that day
        self._due: list[dict[int, list[IntArray]]] = [defaultdict(list) for _ in compiled.steps]
        self._order = {step.id: order for order, step in enumerate(compiled.steps)}
        self.state: dict[str, Any] = {}  # step id -> what that step keeps between days
        self.channels: list[ChannelAgent] = [
            (ReferralAgent if ch.kind == "referral" else CohortAgent)(self, ch, i)
            for i, ch in enumerate(compiled.channels)
        ]
        for step in compiled.steps:
            start = getattr(step, "start", None)
            if start is not None:
                start(self)

    def dice(self, step: int, purpose: str = "") -> np.random.Generator:
        """The random stream of one step (index ``step``), or of one purpose within it.

        A step draws only from its own streams, so a change to one step leaves the dice of
        every other step as they were: two designs run on the same seed meet the same luck
        wherever they do not differ (common random numbers, docs/model.md §6). A stream is
        keyed by the step's id and the purpose (an offer's repeat orders, its referrals),
        not by position, so adding or removing a step moves no other step's dice.
        """
        key = (step, purpose)
        if key not in self._dice:
            name = f"{self.compiled.step_ids[step]}/{purpose}".encode()
            seq = np.random.SeedSequence(
                self._root.entropy, spawn_key=(*self._root.spawn_key, _STEP_KEY, zlib.crc32(name))
            )
            self._dice[key] = np.random.default_rng(seq)
        return self._dice[key]

    def emit(self, event: str, source: str, who: IntArray) -> None:
        """Schedule every step waiting for ``event`` of ``source`` for the visitors ``who``."""
        if who.size == 0:
            return
        for order, delay in self._listeners.get((event, source), ()):
            day = self.day + delay
            if day < self.compiled.horizon:
                self._due[order][day].append(who)

    def call_again(self, step_id: str, day: int) -> None:
        """Have a step act on ``day`` even if nobody new is due (a queue that is not empty)."""
        if day < self.compiled.horizon:
            self._due[self._order[step_id]][day].append(_EMPTY)

    def step(self) -> None:
        """Advance one day."""
        for channel in self.channels:
            channel.arrive()
        for order, step in enumerate(self.compiled.steps):
            batches = self._due[order].pop(self.day, None)
            if batches:
                who = batches[0] if len(batches) == 1 else np.concatenate(batches)
                step.apply(self, who)
        c = self.compiled
        self.ledger.fixed_costs(self.day, c.overheads_per_day, c.team_pay_per_day)
        self.day += 1

    def run(self) -> None:
        """Run every day of the horizon.

        Once traffic has stopped, no referred visitor is still to come and no step has
        anyone due, the remaining days can hold nothing but fixed costs (renewals and repeat
        orders are booked when they are drawn), so they are booked at once rather than
        stepped through.
        """
        c = self.compiled
        while self.day < c.horizon:
            waiting = any(ch.waiting for ch in self.channels)
            if self.day >= c.acquisition and not any(self._due) and not waiting:
                days = slice(self.day, None)
                self.ledger.fixed_costs(days, c.overheads_per_day, c.team_pay_per_day)
                self.day = c.horizon
                break
            self.step()
