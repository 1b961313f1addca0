"""Step kinds: one module each, listed once in :data:`STEP_KINDS`.

Each module has ``compile_step(spec, ctx)`` returning an object with
``apply(model, who)`` that acts on every visitor due that day at once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sim.steps import (
    email_sequence,
    offer,
    optin,
    order_bump,
    sales_call,
    subscription,
    winback,
)
from sim.steps._base import CompileContext, CompiledStep, Trigger

# scenario `type` -> the function that compiles a validated step of that type
STEP_KINDS: dict[str, Callable[[Any, CompileContext], CompiledStep]] = {
    "optin": optin.compile_step,
    "email_sequence": email_sequence.compile_step,
    "offer": offer.compile_step,
    "order_bump": order_bump.compile_step,
    "subscription": subscription.compile_step,
    "sales_call": sales_call.compile_step,
    "winback": winback.compile_step,
}

__all__ = ["STEP_KINDS", "CompileContext", "CompiledStep", "Trigger"]
