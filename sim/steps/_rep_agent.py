"""The Mesa agent of a sales rep (sim/steps/sales_call.py hires them).

Apart from the kind's module because Mesa is slow to import: reading or checking a
scenario needs the kind, only building a model needs the agent.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import mesa

if TYPE_CHECKING:
    from sim.model import FunnelModel


class RepAgent(mesa.Agent):  # type: ignore[misc]
    """One member of a sales team: how many calls a day, and how well the calls close."""

    def __init__(
        self, model: FunnelModel, name: str, calls_per_day: int, close_rate: float
    ) -> None:
        super().__init__(model)
        self.name = name
        self.calls_per_day = calls_per_day
        self.close_rate = close_rate
