"""Order bump: an add-on shown at the moment its parent is bought, joining that order."""

from __future__ import annotations

from sim.scenario import OrderBump
from sim.steps._base import CompileContext, Trigger
from sim.steps.offer import CompiledOffer, compile_sale


def compile_step(spec: OrderBump, ctx: CompileContext) -> CompiledOffer:
    """Compile an ``order_bump``: an offer due the day its parent is bought.

    Its amount adds to the parent's order, so it books revenue but no order of its own
    (which is how a bump raises the average order value).
    """
    return compile_sale(
        spec, ctx, Trigger("bought", spec.on, (0,)), new_orders=False, kind="order_bump"
    )
