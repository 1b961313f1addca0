"""A new step kind is one module and one registry entry: a toy kind, defined here, shows it.

The toy is registered with ``sim.steps.register`` and removed again after each test; no
other module is touched, yet the scenario schema validates it, the engine runs it, the
books tally its figure and daily series, the event log records its event, and the funnel
table and the JSON summary show it.
"""

from __future__ import annotations

import json
import typing
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import pytest
from rich.console import Console

import sim
from sim import scenario as scenario_module
from sim.ledger import DAILY, STEP_TALLIES
from sim.report import funnel_table
from sim.spec import Name, Rate, StepSpec
from sim.steps import STEP_KINDS, CompileContext, Event, Reference, StepKind, Trigger, register

if TYPE_CHECKING:
    from sim.model import FunnelModel
    from sim.steps._base import IntArray


class Toy(StepSpec):
    """Waves at new leads; some wave back."""

    type: Literal["toy"]
    after: Name
    rate: Rate


@dataclass(frozen=True)
class CompiledToy:
    id: str
    index: int
    trigger: Trigger
    rate: float
    kind: str = "toy"

    def apply(self, model: FunnelModel, who: IntArray) -> None:
        waving = who[model.dice(self.index).random(who.size) < self.rate]
        model.ledger.tally("reached", self.index, who.size)
        model.ledger.tally("converted", self.index, waving.size)
        model.ledger.tally("waves", self.index, 2 * waving.size)  # everyone waves twice
        model.ledger.count("waves", model.day, 2 * waving.size)
        if model.log is not None:
            model.log.add(waving, model.day, self.index, "wave")


def compile_toy(spec: Toy, ctx: CompileContext) -> CompiledToy:
    trigger = Trigger(ctx.trigger_event(spec.after), spec.after, (0,))
    return CompiledToy(spec.id, ctx.step_index[spec.id], trigger, spec.rate)


def toy_references(spec: Toy) -> Iterator[Reference]:
    yield Reference(("after",), spec.after, lambda kind: kind.entry)


TOY = StepKind(
    name="toy",
    spec=Toy,
    compile=compile_toy,
    references=toy_references,
    figures=("waves",),
    daily=("waves",),
    events=(Event("wave", rank=1000, says="waved back"),),
    label="waves sent → returned",
)

YAML = """
name: toy funnel
horizon_days: 20
acquisition_days: 5
segments:
  s: {trust: 0.5}
channels:
  web: {type: organic, visitors_per_day: 200, mix: {s: 1.0}}
funnel:
  - {id: magnet, type: optin, rate: 0.5}
  - {id: hello, type: toy, after: magnet, rate: 0.25}
"""


@pytest.fixture
def toy() -> Iterator[StepKind]:
    undo = register(TOY)
    yield TOY
    undo()


def test_a_registered_kind_is_validated_run_tallied_and_shown(toy: StepKind) -> None:
    scenario = sim.parse_scenario(YAML, source="toy.yaml")
    assert scenario.step("hello").type == "toy"
    result = sim.run_scenario(scenario, replications=2, seed=1, events=True)

    figures = result.summary.steps["hello"]
    assert figures["waves"]["mean"] == 2 * figures["converted"]["mean"] > 0
    assert figures["converted"]["mean"] < figures["reached"]["mean"]
    summary = json.loads(json.dumps(result.summary.to_dict()))
    assert summary["steps"]["hello"]["waves"] == figures["waves"]
    assert result.daily["waves"].sum() == result.replications["hello.waves"].sum()
    assert result.events is not None
    assert (result.events["event"] == "wave").any()

    console = Console(width=120, record=True)
    console.print(funnel_table(result.summary, {"magnet": "optin", "hello": "toy"}))
    row = next(line for line in console.export_text().splitlines() if "hello" in line)
    assert "waves sent → returned" in row
    assert f"{figures['converted']['mean']:,.0f}" in row


def test_the_cross_key_checks_read_the_kind(toy: StepKind) -> None:
    bad = YAML.replace("after: magnet, rate: 0.25", "after: nowhere, rate: 0.25")
    with pytest.raises(sim.ScenarioError, match="no step has id 'nowhere'"):
        sim.parse_scenario(bad, source="toy.yaml")


def test_registering_adds_the_kind_and_undo_removes_it() -> None:
    schema = sim.Scenario.model_json_schema()
    undo = register(TOY)
    try:
        assert "toy" in STEP_KINDS
        assert "waves" in DAILY
        assert "waves" in STEP_TALLIES
        assert "Toy" in sim.Scenario.model_json_schema()["$defs"]
        with pytest.raises(ValueError, match="already registered"):
            register(TOY)
    finally:
        undo()
    assert "toy" not in STEP_KINDS
    assert "waves" not in DAILY
    assert sim.Scenario.model_json_schema() == schema
    with pytest.raises(sim.ScenarioError, match="unknown type 'toy'"):
        sim.parse_scenario(YAML, source="toy.yaml")


def test_the_step_union_is_the_registry() -> None:
    union = typing.get_args(scenario_module.Step)[0]
    assert typing.get_args(union) == tuple(kind.spec for kind in STEP_KINDS.values())
    for name, kind in STEP_KINDS.items():
        assert typing.get_args(kind.spec.model_fields["type"].annotation) == (name,)
