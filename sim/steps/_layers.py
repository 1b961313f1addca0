"""Engagement layers: where each lead sits (new, interested, considering, customers, …).

A scenario may declare ``layers:``, in order. The first is where every lead starts when it
opts in; each later one has a rule ``on: {clicked|opened|bought: <step id> or any,
times: n}``. A lead's layer is the last whose rule holds, read from what the lead did so
far (the behaviour record, :mod:`sim.steps._record`, and its purchases), so it is
re-read whenever an email is opened or clicked or something is bought. A step may be
addressed to a layer (``to_layer:``): it acts only on the leads in that layer that day.

This module is the one home of layers: their spec, their compiled form, the moves in the
engine (booked as daily series, written to the event log), their figures for the tables
and the checks that refuse a layer no rule leads into (docs/model.md §3.13).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any
from weakref import WeakKeyDictionary

import numpy as np
from numpy.typing import NDArray
from pydantic import Field, model_validator

from sim.spec import Name, Spec, Whole
from sim.steps._base import IntArray
from sim.steps._kind import Event
from sim.steps._record import record_of
from sim.steps._triggers import behaviours

if TYPE_CHECKING:
    from sim.model import FunnelModel
    from sim.population import Population
    from sim.steps._kind import StepKind

ANY = "any"  # a rule on every step
BEHAVIOURS = ("clicked", "opened", "bought")
MOVED = Event("layer", 62, "moved to a layer")  # amount: the layer's number, from 0
FIGURES = ("entered", "at_end")  # per layer: leads that ever entered it, leads in it at the end
_NONE = -1  # not a lead (yet): in no layer


class LayerRule(Spec):
    """What moves a lead into a layer: one behaviour with a step (or any), at least n times."""

    clicked: Name | None = None
    opened: Name | None = None
    bought: Name | None = None
    times: Annotated[Whole, Field(ge=1, le=1000)] = 1

    @model_validator(mode="after")
    def _one_behaviour(self) -> LayerRule:
        if sum(getattr(self, b) is not None for b in BEHAVIOURS) != 1:
            raise ValueError(
                "a layer's rule names one of clicked, opened or bought (a step or any)"
            )
        return self

    @property
    def behaviour(self) -> tuple[str, str]:
        """The behaviour and the step it is about (or ``any``)."""
        what = next(b for b in BEHAVIOURS if getattr(self, b) is not None)
        return what, str(getattr(self, what))


class Layer(Spec):
    """One layer; every layer but the first needs the rule that leads into it."""

    on: LayerRule | None = None


@dataclass(frozen=True)
class CompiledLayers:
    """The layers' names and rules, as step indices and bit masks."""

    names: tuple[str, ...]
    # per layer after the first: behaviour, the step indices it counts, bit mask, times
    rules: tuple[tuple[str, tuple[int, ...], np.uint64, int], ...]

    @classmethod
    def compile(
        cls, layers: Mapping[str, Layer], step_index: Mapping[str, int], bits: Mapping[str, int]
    ) -> CompiledLayers | None:
        """From the scenario's ``layers`` (None: it declares none)."""
        if not layers:
            return None
        rules = []
        for layer in list(layers.values())[1:]:
            assert layer.on is not None  # the checks refuse a later layer without a rule
            what, step = layer.on.behaviour
            steps = tuple(step_index.values()) if step == ANY else (step_index[step],)
            chosen = bits.values() if step == ANY else [bits.get(step, -1)]
            mask = 0
            for bit in chosen:
                mask |= (1 << bit) if bit >= 0 else 0
            rules.append((what, steps, np.uint64(mask), layer.on.times))
        return cls(names=tuple(layers), rules=tuple(rules))

    @property
    def series(self) -> tuple[str, ...]:
        """The ledger's daily series of the moves: leads into and out of each layer a day."""
        return tuple(f"layer.{name}.{way}" for name in self.names for way in ("in", "out"))

    def layer_of(self, model: FunnelModel, who: IntArray) -> NDArray[np.int64]:
        """Each lead's layer now: the last whose rule holds (0, the first, if none does)."""
        record, pop = record_of(model), model.population
        out = np.zeros(who.size, dtype=np.int64)
        for k, (what, steps, mask, times) in enumerate(self.rules, start=1):
            if what == "bought":
                held = pop.bought[who] & mask
                count = np.zeros(who.size, dtype=np.int64)
                for bit in range(64):
                    if int(mask) >> bit & 1:
                        count += ((held >> np.uint64(bit)) & np.uint64(1)).astype(np.int64)
            else:
                count = sum(
                    (record.times(step, what, who).astype(np.int64) for step in steps),
                    np.zeros(who.size, dtype=np.int64),
                )
            out[count >= times] = k
        return out


_STATES: WeakKeyDictionary[Population, NDArray[np.int64]] = WeakKeyDictionary()


def _state(population: Population) -> NDArray[np.int64]:
    """Each visitor's layer (−1: not a lead), grown to the population's capacity."""
    state = _STATES.get(population, np.zeros(0, dtype=np.int64))
    if state.size < population.capacity:
        grown = np.full(population.capacity, _NONE, dtype=np.int64)
        grown[: state.size] = state
        state = _STATES[population] = grown
    return state


def joined(model: FunnelModel, step: int, leads: IntArray) -> None:
    """New leads enter the first layer (or a later one, if they already did what it takes)."""
    if model.compiled.layers is not None and leads.size:
        _move(model, step, leads, joining=True)


def moved(model: FunnelModel, step: int, who: IntArray) -> None:
    """Leads who just opened, clicked or bought something: re-read their layer."""
    if model.compiled.layers is not None and who.size:
        _move(model, step, who, joining=False)


def _move(model: FunnelModel, step: int, who: IntArray, *, joining: bool) -> None:
    layers = model.compiled.layers
    assert layers is not None
    state = _state(model.population)
    before = state[who]
    if not joining:  # only leads sit in layers
        who, before = who[before != _NONE], before[before != _NONE]
    now = layers.layer_of(model, who)
    change = now != before
    who, before, now = who[change], before[change], now[change]
    if who.size == 0:
        return
    state[who] = now
    ledger, day = model.ledger, model.day
    for k, name in enumerate(layers.names):
        ledger.count(f"layer.{name}.in", day, who[now == k])
        ledger.count(f"layer.{name}.out", day, who[before == k])
    if model.log is not None:
        model.log.add(who, day, step, MOVED.name, now.astype(np.float64))


def in_layer(model: FunnelModel, layer: int, who: IntArray) -> IntArray:
    """Those of ``who`` who sit in layer number ``layer`` today."""
    out: IntArray = who[_state(model.population)[who] == layer]
    return out


def daily_layers(names: tuple[str, ...], daily: Mapping[str, np.ndarray]) -> dict[str, Any]:
    """Per layer, the leads in it at the end of each day (from the booked moves).

    A series with one row per replication gives one row per replication.
    """
    return {
        f"layer.{name}": np.cumsum(daily[f"layer.{name}.in"] - daily[f"layer.{name}.out"], axis=-1)
        for name in names
    }


def layer_figures(names: tuple[str, ...], sums: Mapping[str, float]) -> dict[str, dict[str, float]]:
    """Per layer: leads that entered it over the run, and leads in it at the end.

    ``sums``: a replication's daily series, each summed over the run.
    """
    return {
        name: {
            "entered": sums[f"layer.{name}.in"],
            "at_end": sums[f"layer.{name}.in"] - sums[f"layer.{name}.out"],
        }
        for name in names
    }


def layer_problems(
    layers: Mapping[str, Layer], funnel: list[Any], kinds: Mapping[str, StepKind]
) -> Iterator[tuple[tuple[str | int, ...], str, str]]:
    """Layers no rule leads into, rules on what no step can give, ``to_layer`` naming none.

    Paths from the scenario's root.
    """
    by_id = {step.id: step for step in funnel}
    names = list(layers)
    for i, (name, layer) in enumerate(layers.items()):
        if i == 0:
            if layer.on is not None:
                yield (
                    ("layers", name, "on"),
                    f"'{name}' is the first layer, where every lead starts: it takes no rule",
                    "put the layer that every new lead sits in first, without `on`",
                )
            continue
        if layer.on is None:
            yield (
                ("layers", name),
                f"no rule leads into layer '{name}': only the first layer takes none",
                "add `on: {clicked: <step>}` (or opened, bought; a step or any)",
            )
            continue
        what, target = layer.on.behaviour
        steps = list(by_id.values()) if target == ANY else [by_id.get(target)]
        if target != ANY and steps[0] is None:
            yield (("layers", name, "on", what), f"no step has id '{target}'", "")
            continue
        sellers = sum(kinds[s.type].sells for s in steps if s is not None)
        if what == "bought" and 0 < sellers < layer.on.times:
            yield (
                ("layers", name, "on", "times"),
                f"no rule leads into layer '{name}': a lead can buy at most {sellers} "
                f"of {target}, not {layer.on.times}",
                "lower `times`, or count any step's purchases (`bought: any`)",
            )
            continue
        if not any(_gives(kinds[s.type], s, what) for s in steps if s is not None):
            where = "no step" if target == ANY else f"'{target}' ({by_id[target].type})"
            yield (
                ("layers", name, "on", what),
                f"no rule leads into layer '{name}': {where} can be {what}",
                "clicked and opened need an email sequence or an offer sent by email; "
                "bought needs something for sale",
            )
    for i, step in enumerate(funnel):
        addressed = getattr(step, "to_layer", None)
        if addressed is not None and addressed not in names:
            yield (
                ("funnel", i, "to_layer"),
                f"no layer named '{addressed}'",
                f"declare it under `layers:` ({', '.join(names) or 'none declared'})",
            )


def _gives(kind: StepKind, step: Any, what: str) -> bool:
    """Whether a lead can do ``what`` (clicked, opened, bought) with ``step``."""
    return what in behaviours(kind, step) or (what == "bought" and kind.sells)
