"""Order bump: an add-on shown at the moment its parent is bought, joining that order."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Literal

from sim.spec import Name, Refund, Sellable
from sim.steps._base import CompileContext, Trigger
from sim.steps._kind import Reference, StepKind, one_of
from sim.steps._money import REFUND_FIGURES
from sim.steps.offer import SALE_EVENTS, CompiledOffer, compile_sale


class OrderBump(Sellable):
    """Added to an order at the moment its parent offer is bought."""

    type: Literal["order_bump"]
    on: Name
    refund: Refund = Refund()


def compile_step(spec: OrderBump, ctx: CompileContext) -> CompiledOffer:
    """Compile an ``order_bump``: an offer due the day its parent is bought.

    Its amount adds to the parent's order, so it books revenue but no order of its own
    (which is how a bump raises the average order value).
    """
    return compile_sale(
        spec, ctx, Trigger("bought", spec.on, (0,)), new_orders=False, kind="order_bump"
    )


def _references(spec: OrderBump) -> Iterator[Reference]:
    yield Reference(("on",), spec.on, one_of("offer", "subscription", "sales_call"))


def _on_parent(spec: OrderBump) -> tuple[str, str]:
    return "on", spec.on


KIND = StepKind(
    name="order_bump",
    spec=OrderBump,
    compile=compile_step,
    references=_references,
    trigger=_on_parent,
    sells=True,
    figures=REFUND_FIGURES,
    events=SALE_EVENTS,
    right_after_trigger=True,
)
