"""Step kinds: one module each, listed once in :data:`STEP_KINDS`.

Each module ends with one declaration, ``KIND = StepKind(...)`` (see
:class:`~sim.steps._kind.StepKind`): its spec, ``compile(spec, ctx)`` returning an object
with ``apply(model, who)`` that acts on every visitor due that day at once, and what the
checks, the books, the event log and the reports need to know about it. Adding a kind is
one new module and one line in :data:`STEP_KINDS`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import overload

from sim.steps import (
    cart,
    email_sequence,
    offer,
    optin,
    order_bump,
    payment,
    sales_call,
    stage,
    subscription,
    winback,
)
from sim.steps._base import CompileContext, CompiledStep, Trigger
from sim.steps._kind import Event, Reference, StepKind

# scenario `type` -> its kind; this order is the order of the schema's union, of the
# kinds' daily series in daily.csv and of their tallies
STEP_KINDS: dict[str, StepKind] = {
    kind.name: kind
    for kind in (
        optin.KIND,
        email_sequence.KIND,
        offer.KIND,
        order_bump.KIND,
        subscription.KIND,
        sales_call.KIND,
        winback.KIND,
        stage.KIND,
        payment.KIND,
        cart.KIND,
    )
}


def register(kind: StepKind) -> Callable[[], None]:
    """Add a step kind (after the bundled ones); returns the function that removes it again.

    The scenario schema is rebuilt, so scenarios validated from then on may use the kind.

    Raises:
        ValueError: a kind of that name is already registered.
    """
    if kind.name in STEP_KINDS:
        raise ValueError(f"a step kind named '{kind.name}' is already registered")
    STEP_KINDS[kind.name] = kind
    _rebuild_schema()

    def undo() -> None:
        del STEP_KINDS[kind.name]
        _rebuild_schema()

    return undo


def _rebuild_schema() -> None:
    from sim.scenario import rebuild_step_union  # the scenario is built from the registry

    rebuild_step_union()


def unique(names: Iterator[str]) -> tuple[str, ...]:
    """Names in order of first appearance, each once."""
    return tuple(dict.fromkeys(names))


class RegistryNames(Sequence[str]):
    """A tuple of names read from the registry whenever it is used.

    ``first`` are the names the engine always has; each kind's names (given by ``of``)
    follow, in registry order, each name once. Read late, so a kind registered after
    import is in.
    """

    def __init__(self, first: tuple[str, ...], of: Callable[[StepKind], tuple[str, ...]]):
        self._first, self._of = first, of
        self._kinds: tuple[StepKind, ...] = ()  # the registry the names were read from
        self._read: tuple[str, ...] = ()

    def _names(self) -> tuple[str, ...]:
        kinds = tuple(STEP_KINDS.values())
        if kinds != self._kinds:  # read again only when the registry changed
            self._read = unique(
                name for names in (self._first, *map(self._of, kinds)) for name in names
            )
            self._kinds = kinds
        return self._read

    @overload
    def __getitem__(self, i: int) -> str: ...
    @overload
    def __getitem__(self, i: slice) -> tuple[str, ...]: ...
    def __getitem__(self, i: int | slice) -> str | tuple[str, ...]:
        return self._names()[i]

    def __len__(self) -> int:
        return len(self._names())

    def __iter__(self) -> Iterator[str]:
        return iter(self._names())

    def __repr__(self) -> str:
        return repr(self._names())


def events() -> tuple[Event, ...]:
    """Every event the kinds write, each once, in the order of their ranks.

    Raises:
        ValueError: two events share a name or a rank but differ.
    """
    found: dict[str, Event] = {}
    for kind in STEP_KINDS.values():
        for event in kind.events:
            if found.setdefault(event.name, event) != event:
                raise ValueError(f"two different events named '{event.name}'")
    ordered = tuple(sorted(found.values(), key=lambda e: e.rank))
    ranks = [e.rank for e in ordered]
    if len(set(ranks)) != len(ranks):
        raise ValueError(f"two events share a rank: {sorted(ranks)}")
    return ordered


__all__ = [
    "STEP_KINDS",
    "CompileContext",
    "CompiledStep",
    "Event",
    "Reference",
    "RegistryNames",
    "StepKind",
    "Trigger",
    "events",
    "register",
]
