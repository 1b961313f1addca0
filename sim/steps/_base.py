"""What every step kind provides, and the helpers they share."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

import numpy as np
from numpy.typing import NDArray

if TYPE_CHECKING:
    from sim.model import FunnelModel

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


@dataclass(frozen=True)
class CompileContext:
    """What a step needs from the rest of the scenario to compile itself."""

    segments: tuple[str, ...]
    step_index: Mapping[str, int]
    bits: Mapping[str, int]  # sellable step id -> its bit in Population.bought
    after_events: Mapping[str, str]  # step id -> what `after: id` waits for (its kind's)
    channels: Mapping[str, int]  # channel name -> its index
    # step id -> its compiled trigger, for the steps compiled so far (compile goes in
    # processing order, so a step's trigger is known before the steps that follow it)
    triggers: Mapping[str, Trigger] = field(default_factory=dict)
    teams: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # step id -> its reps
    # sellable step id -> the share of its would-be buyers who abandon the checkout
    abandon_rates: Mapping[str, float] = field(default_factory=dict)
    layers: Mapping[str, int] = field(default_factory=dict)  # layer name -> its number

    def trigger_event(self, source: str) -> str:
        """What ``after: source`` waits for: opting in to an optin, buying an offer, …."""
        return self.after_events[source]

    def per_segment(self, value: float | Mapping[str, float]) -> FloatArray:
        """A number or a map segment -> number, as one value per segment index."""
        if isinstance(value, Mapping):
            return np.array([float(value[s]) for s in self.segments])
        return np.full(len(self.segments), float(value))

    def mask(self, ids: list[str]) -> np.uint64:
        """The bit mask of the given sellable steps."""
        out = 0
        for step_id in ids:
            out |= 1 << self.bits[step_id]
        return np.uint64(out)


@dataclass(frozen=True)
class Trigger:
    """A step is due ``delays`` days after ``event`` (optin, bought, declined) of ``source``."""

    event: str
    source: str
    delays: tuple[int, ...]


class CompiledStep(Protocol):
    """A validated step turned into arrays, applied to every visitor due on a day at once.

    Contract (checked for every kind by tests/test_step_contract.py):
      - never converts more visitors than it reached, and only visitors it was given;
      - adds only non-negative money to the ledger;
      - never acts on a visitor who unsubscribed when it needs a subscribed lead;
      - given the same generator state and population, produces the same result.

    A kind that keeps state between days (a sales queue) may also have ``start(model)``,
    called once when the model is made; it keeps that state in ``model.state[id]``. A kind
    with staff has ``reps``, their names (a journey names the rep on a call by number).
    """

    # read-only, so frozen dataclasses satisfy the protocol
    @property
    def id(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def index(self) -> int: ...
    @property
    def trigger(self) -> Trigger | None: ...

    def apply(self, model: FunnelModel, who: IntArray) -> None:
        """Act on the visitors ``who`` that are due today (``model.day``)."""
        ...
