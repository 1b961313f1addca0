"""``FunnelModel``: the daily clock; channels bring visitors, steps act on those due.

Visitors live as columns (:class:`sim.population.Population`); the few heterogeneous
actors (traffic channels) are Mesa agents. Each day: channels act in scenario order, then
the steps act in processing order (every step after its trigger), each on all the
visitors due that day at once.
"""

from __future__ import annotations

from collections import defaultdict

import mesa
import numpy as np

from sim.compile import CompiledChannel, CompiledScenario
from sim.events import EventLog
from sim.ledger import Ledger
from sim.population import IntArray, Population

_EMPTY = np.empty(0, dtype=np.int64)


class ChannelAgent(mesa.Agent):  # type: ignore[misc]
    """A traffic source: each acquisition day it brings a Poisson number of visitors.

    The whole cohort a channel will bring is drawn when the model starts (counts per day,
    then every visitor's traits, in one pass each), and each day lets that day's visitors
    in: the same law as drawing day by day, with a few array operations instead of a few
    per day.
    """

    def __init__(self, model: FunnelModel, channel: CompiledChannel, index: int) -> None:
        super().__init__(model)
        self.channel = channel
        self.index = index
        c, rng = model.compiled, model.rng
        counts = rng.poisson(channel.visitors_per_day, size=c.acquisition)
        n = int(counts.sum())
        segment = np.searchsorted(channel.mix_cdf, rng.random(n), side="right")
        segment = np.minimum(segment, len(c.segments) - 1)
        wtp = np.exp(c.seg_dispersion[segment] * rng.standard_normal(n))
        junk = rng.random(n) < c.seg_junk[segment]
        model.population.add(
            channel=np.full(n, index),
            segment=segment,
            arrival_day=np.repeat(np.arange(c.acquisition), counts),
            wtp_scale=wtp,
            trust=np.clip(c.seg_trust[segment] + channel.warmth, 0.0, 1.0),
            junk=junk,
        )
        # visitors arriving on day d have ids bounds[d] .. bounds[d + 1] - 1
        self._bounds = model.population.size - n + np.concatenate(([0], np.cumsum(counts)))

    def arrive(self) -> None:
        """Let today's visitors in and pay for the day's traffic."""
        model: FunnelModel = self.model
        day = model.day
        who = np.arange(self._bounds[day], self._bounds[day + 1], dtype=np.int64)
        ch, ledger = self.channel, model.ledger
        ledger.add_daily("spend", day, ch.cost_per_day)
        ledger.add_daily("visitors", day, who.size)
        ledger.channel_spend[self.index] += ch.cost_per_day
        ledger.channel_visitors[self.index] += who.size
        if model.log is not None:
            model.log.add(who, day, len(model.compiled.step_ids) + self.index, "arrive")
        model.emit("arrive", "", who)


class FunnelModel(mesa.Model):  # type: ignore[misc]
    """One replication of a scenario.

    Args:
        compiled: the scenario, compiled (:func:`sim.compile.compile_scenario`).
        rng: this replication's seed (a ``SeedSequence`` or int) or generator; the model
            draws every random number from it, in a fixed order.
        record_events: keep the per-visitor event log (slower; for traces and reports).

    Examples:
        >>> from sim import load_scenario
        >>> from sim.compile import compile_scenario
        >>> m = FunnelModel(compile_scenario(load_scenario("scenarios/quickstart.yaml")), rng=1)
        >>> m.run()
        >>> m.population.size > 0
        True
    """

    def __init__(
        self, compiled: CompiledScenario, *, rng: object, record_events: bool = False
    ) -> None:
        super().__init__(rng=rng)
        self.compiled = compiled
        self.day = 0
        expected = sum(ch.visitors_per_day for ch in compiled.channels) * compiled.acquisition
        self.population = Population(capacity=int(expected * 1.05) + 64)
        self.ledger = Ledger(compiled.horizon, len(compiled.step_ids), len(compiled.channels))
        self.log = EventLog() if record_events else None
        # (event, source id) -> [(step, delay)]: who is due when something happens
        self._listeners: dict[tuple[str, str], list[tuple[int, int]]] = defaultdict(list)
        for order, step in enumerate(compiled.steps):
            if step.trigger is not None:
                for delay in step.trigger.delays:
                    self._listeners[step.trigger.event, step.trigger.source].append((order, delay))
        # processing position -> day -> visitor id arrays due that day
        self._due: list[dict[int, list[IntArray]]] = [defaultdict(list) for _ in compiled.steps]
        for i, ch in enumerate(compiled.channels):
            ChannelAgent(self, ch, i)

    def emit(self, event: str, source: str, who: IntArray) -> None:
        """Schedule every step waiting for ``event`` of ``source`` for the visitors ``who``."""
        if who.size == 0:
            return
        for order, delay in self._listeners.get((event, source), ()):
            day = self.day + delay
            if day < self.compiled.horizon:
                self._due[order][day].append(who)

    def step(self) -> None:
        """Advance one day."""
        if self.day < self.compiled.acquisition:
            self.agents.do("arrive")
        for order, step in enumerate(self.compiled.steps):
            batches = self._due[order].pop(self.day, None)
            if batches:
                who = batches[0] if len(batches) == 1 else np.concatenate(batches)
                step.apply(self, who)
        self.ledger.add_daily("operating", self.day, self.compiled.fixed_per_day)
        self.day += 1

    def run(self) -> None:
        """Run every day of the horizon.

        Once traffic has stopped and no step has anyone due, the remaining days can hold
        nothing but fixed costs (renewals are booked when a subscriber joins), so they are
        booked at once rather than stepped through.
        """
        c = self.compiled
        while self.day < c.horizon:
            if self.day >= c.acquisition and not any(self._due):
                self.ledger.daily["operating"][self.day :] += c.fixed_per_day
                self.day = c.horizon
                break
            self.step()
