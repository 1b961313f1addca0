"""``FunnelModel``: the daily clock; channels bring visitors, steps act on those due.

Visitors live as columns (:class:`sim.population.Population`), each with their own dice
(:meth:`FunnelModel.uniforms`, :mod:`sim.luck`); the few heterogeneous
actors (traffic channels, and the reps of a sales team: :mod:`sim.steps.sales_call`) are
Mesa agents. Each day: channels act in scenario order (``channels``), then the steps act in
processing order (every step after its trigger), each on all the visitors due that day at
once. A step that keeps state between days (a sales queue) keeps it in ``state``.
"""

from __future__ import annotations

import zlib
from collections import defaultdict
from collections.abc import Sequence
from typing import Any, cast

import mesa
import numpy as np
from numpy.typing import NDArray
from scipy.special import ndtri

from sim.budget import visitor_cap
from sim.compile import CompiledChannel, CompiledScenario
from sim.events import EventLog
from sim.ledger import Ledger
from sim.luck import (
    drawn,
    drawn_each,
    fold,
    fold_int,
    name_key,
    salted_uniforms,
    salts_of,
    uniforms,
)
from sim.population import IntArray, Population

FloatArray = NDArray[np.float64]
U64 = NDArray[np.uint64]

_EMPTY = np.empty(0, dtype=np.int64)
# spawn-key level of the generators for draws about no one visitor: far above any
# replication index, so such a stream never equals a replication's own seed
_STEP_KEY = 1 << 32
ARRIVAL = None  # the ``step`` of the draws made when a visitor arrives (their traits)


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
        ledger.count("visitors", day, who)
        ledger.arrivals(self.index, who)
        if model.log is not None:
            model.log.add(who, day, len(model.compiled.step_ids) + self.index, "arrive")
        model.emit("arrive", "", who)


class CohortAgent(ChannelAgent):
    """A paid, organic or partner channel: a Poisson number of visitors each acquisition day.

    The whole cohort a channel will bring is drawn when the model starts (counts per day
    from the channel's own generator, then every visitor's traits from their own dice),
    and each day lets that day's visitors in. The ``k``-th visitor of a day is the same
    visitor (uid) in every design whose channel brings at least ``k + 1`` that day.
    """

    def __init__(self, model: FunnelModel, channel: CompiledChannel, index: int) -> None:
        super().__init__(model, channel, index)
        c = model.compiled
        counts = np.stack(
            [
                model.dice(None, f"channel/{channel.name}", r).poisson(
                    channel.visitors_per_day, size=c.acquisition
                )
                for r in range(model.replications)
            ]
        )  # replication × day
        rep = np.repeat(np.tile(np.arange(model.replications), c.acquisition), counts.T.ravel())
        day = np.repeat(np.arange(c.acquisition), counts.sum(axis=0))
        per_day = counts.T.ravel()  # day-major: every replication's visitors of a day in turn
        k = np.arange(rep.size) - np.repeat(np.cumsum(per_day) - per_day, per_day)
        day_keys = fold(name_key(f"channel/{channel.name}"), np.arange(c.acquisition))
        uid = fold(day_keys[day], k)
        model.arrive_visitors(index, uid, rep, day)
        # visitors arriving on day d have ids bounds[d] .. bounds[d + 1] - 1
        totals = counts.sum(axis=0)
        self._bounds = model.population.size - rep.size + np.concatenate(([0], np.cumsum(totals)))
        # day × replication: how many arrive, which the books need not count again
        self._counts = np.ascontiguousarray(counts.T)

    def arrive(self) -> None:
        """Let today's visitors in and pay for the day's traffic."""
        day = self.model.day
        if day < self.model.compiled.acquisition:
            who = np.arange(self._bounds[day], self._bounds[day + 1], dtype=np.int64)
            self.model.ledger.known(who, self._counts[day])
            self._welcome(who, self.channel.cost_per_day)


class ReferralAgent(ChannelAgent):
    """The referral channel: visitors that buyers bring, each on the day they were promised.

    Buyers refer as they buy (:meth:`expect`), so there is no cohort drawn at the start;
    the traits of the referred are drawn on arrival. Its cost is the reward paid when a
    referred visitor first buys (booked by the selling steps), not a cost per day.
    """

    def __init__(self, model: FunnelModel, channel: CompiledChannel, index: int) -> None:
        super().__init__(model, channel, index)
        # day -> [(uid, replication, segment or -1: drawn from the channel's mix, referrer,
        #          the step whose purchase referred them)]
        self._pending: dict[int, list[tuple[NDArray[Any], ...]]] = defaultdict(list)

    @property
    def waiting(self) -> bool:
        """Whether referred visitors are still to arrive."""
        return bool(self._pending)

    def expect(
        self,
        day: int,
        uid: NDArray[np.uint64],
        replication: NDArray[np.integer[Any]],
        segment: IntArray,
        referrer: IntArray,
        step: int,
    ) -> None:
        """Referred visitors will arrive on ``day`` (within the horizon).

        ``segment`` is each one's segment, or −1 to draw it from the channel's ``mix``.
        ``referrer[i]`` brings friend ``i`` for a purchase of ``step``; a friend whose
        referrer's purchase is refunded by ``day`` does not come (docs/model.md §3.5).
        """
        if uid.size:
            steps = np.full(uid.size, step, dtype=np.int64)
            self._pending[day].append((uid, replication, segment, referrer, steps))

    def arrive(self) -> None:
        """Let in the referred visitors due today."""
        model: FunnelModel = self.model
        batches = self._pending.pop(model.day, None)
        if batches:
            uid, rep, segment, referrer, step = (
                np.concatenate(part) for part in zip(*batches, strict=True)
            )
            stands = np.ones(uid.size, dtype=np.bool_)
            for s in np.unique(step):
                mine = step == s
                stands[mine] = model.population.kept(int(s), referrer[mine], model.day)
                model.ledger.tally("referred", int(s), referrer[mine & stands])
            uid, rep, segment = uid[stands], rep[stands], segment[stands]
            days = np.full(uid.size, model.day)
            who = model.arrive_visitors(self.index, uid, rep, days, segment)
            model.ledger.count("referred", model.day, who)
            self._welcome(who, 0.0)


def _segment_of(cdf: FloatArray, u: FloatArray, n_segments: int) -> IntArray:
    """The segment each uniform falls in: how many cumulative shares are ≤ it.

    The same as ``searchsorted(cdf, u, side="right")``, in one comparison per segment (a
    few segments: much faster), capped at the last segment.
    """
    if cdf.size > 8:
        out = np.searchsorted(cdf, u, side="right")
    else:
        out = np.zeros(u.size, dtype=np.int64)
        for edge in cdf:
            out += u >= edge
    return np.minimum(out, n_segments - 1)


def _root_seed(rng: object) -> np.random.SeedSequence:
    """The seed sequence behind the model's ``rng`` argument (an int, a sequence or a generator)."""
    if isinstance(rng, np.random.Generator):
        return rng.bit_generator.seed_seq  # type: ignore[return-value]
    if isinstance(rng, np.random.SeedSequence):
        return rng
    return np.random.SeedSequence(rng)  # type: ignore[arg-type]


def _luck_key(seed: np.random.SeedSequence) -> int:
    """A replication's 64-bit key, from its seed sequence (its entropy and spawn key)."""
    a, b = (int(x) for x in seed.generate_state(2, np.uint64))
    return fold_int(a, b)


class _Replica:
    """One replication of a batch, as a step that keeps state between days sees the model.

    Its books and its ``state`` are that replication's; everything else is the model's.
    """

    def __init__(self, model: FunnelModel, index: int) -> None:
        self._model = model
        self.replication = index
        self.ledger = model.ledger.replication(index)
        self.state: dict[str, Any] = {}

    def dice(self, step: int | None, purpose: str = "") -> np.random.Generator:
        """The model's :meth:`FunnelModel.dice` for this replication."""
        return self._model.dice(step, purpose, self.replication)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._model, name)


class FunnelModel(mesa.Model):  # type: ignore[misc]
    """One replication of a scenario, or a batch of them run together.

    In a batch, the visitors of every replication are one population (with a
    ``replication`` column), and each day a step acts once on the visitors of every
    replication due that day; the books are kept by replication. A step that keeps state
    between days (a sales queue: it has ``start``) acts replication by replication, each
    with its own state and books. Every draw about a visitor comes from that visitor's own
    dice (:meth:`uniforms`), so a replication's results are the same bit for bit alone or
    in a batch of any size.

    Args:
        compiled: the scenario, compiled (:func:`sim.compile.compile_scenario`).
        rng: this replication's seed (a ``SeedSequence`` or int) or generator.
        seeds: instead of ``rng``, the seeds of a batch of replications.
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
        rng: object = None,
        seeds: Sequence[np.random.SeedSequence] | None = None,
        record_events: bool = False,
        breakdown: bool = False,
    ) -> None:
        roots = [_root_seed(rng)] if seeds is None else list(seeds)
        super().__init__(rng=np.random.default_rng(roots[0]))
        self.compiled = compiled
        self._roots = roots
        self.replications = len(roots)
        self._luck = np.array([_luck_key(root) for root in roots], dtype=np.uint64)
        self._keys: dict[tuple[int | None, str], int] = {}
        # (step, purposes, draw) -> mix(key ^ draw) of each, what a visitor's luck is xored with
        self._salts: dict[tuple[int | None, tuple[str, ...], int], U64] = {}
        # (step, purposes) -> the names those draws are keyed by (_draw_names)
        self._names: dict[tuple[int | None, tuple[str, ...]], tuple[str, ...]] = {}
        self._dice: dict[tuple[int | None, str, int], np.random.Generator] = {}
        self.day = 0
        expected = sum(ch.visitors_per_day for ch in compiled.channels) * compiled.acquisition
        self.population = Population(
            capacity=int(expected * 1.05 * len(roots)) + 64, cap=visitor_cap(len(roots))
        )
        self.ledger = Ledger(
            compiled.horizon,
            len(compiled.step_ids),
            payment_fee=compiled.payment_fee,
            commission=compiled.channel_commission,
            people=self.population,
            n_segments=len(compiled.segments),
            breakdown=breakdown,
            replications=len(roots),
            more_daily=compiled.layers.series if compiled.layers is not None else (),
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
        # per step: acts replication by replication (it keeps state between days)
        self._one_by_one = [self.replications > 1 and hasattr(s, "start") for s in compiled.steps]
        self._replicas = (
            [_Replica(self, r) for r in range(len(roots))] if any(self._one_by_one) else []
        )
        self.channels: list[ChannelAgent] = [
            (ReferralAgent if ch.kind == "referral" else CohortAgent)(self, ch, i)
            for i, ch in enumerate(compiled.channels)
        ]
        for step in compiled.steps:
            start = getattr(step, "start", None)
            if start is not None:
                for replica in self._replicas or [self]:
                    start(replica)

    def _key(self, step: int | None, purpose: str) -> int:
        """The 64-bit key of a step's (or, for ``None``, arrival's) draws of one purpose."""
        key = (step, purpose)
        if key not in self._keys:
            (name,) = self._draw_names(step, (purpose,))
            self._keys[key] = name_key(name)
        return self._keys[key]

    def _draw_names(self, step: int | None, purposes: tuple[str, ...]) -> tuple[str, ...]:
        """The names a step's (or arrival's) draws of these purposes are keyed by.

        ``step/<id>/<purpose>`` each (``arrival/<purpose>``), made once per model: an
        email's draws are new every day, their names are not.
        """
        names = self._names.get((step, purposes))
        if names is None:
            name = "arrival" if step is None else f"step/{self.compiled.step_ids[step]}"
            names = self._names[step, purposes] = tuple(f"{name}/{p}" for p in purposes)
        return names

    def uniforms(
        self, step: int | None, purpose: str, who: IntArray, draw: int | IntArray = 0
    ) -> FloatArray:
        """Each visitor's own uniform in (0, 1) for one draw of one purpose of a step.

        The value is a function of (seed, replication, visitor, step, purpose, draw) alone
        (docs/model.md §6): not of the visitors drawn before, nor of the design elsewhere.
        ``step`` is the step's index (keyed by its id), or :data:`ARRIVAL` for the traits
        drawn as a visitor arrives; ``draw`` numbers the draws of one purpose (the day of an
        email, the k-th repeat order), one for all or one per visitor.
        """
        if isinstance(draw, np.ndarray):
            return drawn_each(self.population.luck, who, self._key(step, purpose), draw)
        u: FloatArray = drawn(self.population.luck, who, self.salts(step, (purpose,), draw))[0]
        return u

    def draws(
        self, step: int | None, purposes: tuple[str, ...], who: IntArray, draw: int = 0
    ) -> FloatArray:
        """:meth:`uniforms` of several purposes at once: row k is ``purposes[k]``'s.

        The same values as one call per purpose, computed together (fewer, longer array
        operations: the fixed cost of each is paid once).
        """
        return drawn(self.population.luck, who, self.salts(step, purposes, draw))

    def salts(self, step: int | None, purposes: tuple[str, ...], draw: int) -> U64:
        """What a visitor's luck is xored with for one draw of each purpose: ``mix(key ^ draw)``.

        For a compiled kernel that draws as :meth:`draws` does.
        """
        salts = self._salts.get((step, purposes, draw))
        if salts is None:
            names = self._draw_names(step, purposes)
            salts = self._salts[step, purposes, draw] = salts_of(names, int(draw))
        return salts

    def dice(
        self, step: int | None, purpose: str = "", replication: int = 0
    ) -> np.random.Generator:
        """A generator for draws about no one visitor (a channel's daily arrivals).

        Keyed by the replication's seed, the step's id (or the purpose alone, for ``None``)
        and the purpose, never shared between purposes, so a change to one step moves no
        other step's draws.
        """
        key = (step, purpose, replication)
        if key not in self._dice:
            name = purpose if step is None else f"{self.compiled.step_ids[step]}/{purpose}"
            root = self._roots[replication]
            seq = np.random.SeedSequence(
                root.entropy, spawn_key=(*root.spawn_key, _STEP_KEY, zlib.crc32(name.encode()))
            )
            self._dice[key] = np.random.default_rng(seq)
        return self._dice[key]

    def arrive_visitors(
        self,
        channel: int,
        uid: NDArray[np.uint64],
        replication: IntArray,
        day: IntArray,
        segment: IntArray | None = None,
    ) -> IntArray:
        """Add visitors through channel ``channel``; draw their traits from their own dice.

        ``segment`` −1 (or None: all) is drawn from the channel's ``mix``. Returns their ids.
        """
        c, n = self.compiled, uid.size
        luck = fold(self._luck[replication], uid)
        ch = c.channels[channel]
        draw: slice | NDArray[np.bool_]
        if segment is None:
            draw, seg = slice(None), np.zeros(n, dtype=np.int64)
        else:
            draw, seg = segment < 0, segment.astype(np.int64)
        traits = ["wtp", "junk"]
        if ch.mix_cdf.size and segment is None:  # everyone's segment drawn: with the rest
            traits.append("segment")
        u = salted_uniforms(luck, self.salts(ARRIVAL, tuple(traits), 0))
        if ch.mix_cdf.size:
            mixed = u[2] if segment is None else uniforms(luck[draw], self._key(ARRIVAL, "segment"))
            seg[draw] = _segment_of(ch.mix_cdf, mixed, len(c.segments))
        z = ndtri(u[0])
        trust = np.clip(c.seg_trust + ch.warmth, 0.0, 1.0)  # by segment
        return self.population.add(
            replication=replication,
            uid=uid,
            luck=luck,
            channel=np.full(n, channel),
            arrival_day=day,
            segment=seg,
            wtp_scale=np.exp(c.seg_dispersion[seg] * z),
            trust=trust[seg],
            junk=u[1] < c.seg_junk[seg],
        )

    def emit(self, event: str, source: str, who: IntArray, later: int = 0) -> None:
        """Schedule every step waiting for ``event`` of ``source`` for the visitors ``who``.

        ``later``: the event happens that many days from today (a deal leaving a stage).
        """
        if who.size == 0:
            return
        for order, delay in self._listeners.get((event, source), ()):
            day = self.day + later + delay
            if day < self.compiled.horizon:
                self._due[order][day].append(who)

    def emit_each(self, event: str, source: str, who: IntArray, later: IntArray) -> None:
        """:meth:`emit` for visitors whose event happens on days of their own: ``later[i]``."""
        for days in np.unique(later):
            self.emit(event, source, who[later == days], int(days))

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
                if len(batches) == 1:
                    who = batches[0]
                else:
                    who = np.concatenate(batches)
                    self.ledger.joined(batches, who)
                if self._one_by_one[order]:  # state of its own: one replication at a time
                    rep = self.population.replication[who]
                    for r, replica in enumerate(self._replicas):
                        # a replica has the model's surface for that replication
                        step.apply(cast("FunnelModel", replica), who[rep == r])
                else:
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
