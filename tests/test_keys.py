"""Every key of the format is described once, for editors (the schema) and docs/model.md."""

from __future__ import annotations

from typing import Any

from conftest import ROOT
from sim.keys import END, START, keys_markdown, scenario_schema
from sim.scenario import Scenario


def _properties(schema: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    models = {"Scenario": schema, **schema.get("$defs", {})}
    return {
        (model, key): prop
        for model, body in models.items()
        for key, prop in body.get("properties", {}).items()
    }


def test_every_property_of_the_schema_has_a_description() -> None:
    props = _properties(scenario_schema())
    missing = sorted(f"{m}.{k}" for (m, k), p in props.items() if not p.get("description"))
    assert len(props) > 100
    assert not missing, f"add a line to sim/keys.yaml for {missing}"


def test_descriptions_carry_the_default() -> None:
    props = _properties(scenario_schema())
    assert props[("Costs", "tail_years")]["description"].endswith("Default: 3.")
    assert props[("Offer", "via")]["description"].endswith("Default: page.")


def test_model_md_lists_the_same_keys() -> None:
    text = (ROOT / "docs" / "model.md").read_text(encoding="utf-8")
    section = text.partition(START)[2].partition(END)[0].strip()
    assert section == keys_markdown(), "docs/model.md §8 is stale: run `python docs/keys.py`"
    listed = {line.split("`")[1] for line in section.splitlines() if line.startswith("| `")}
    keys = {key for _, key in _properties(Scenario.model_json_schema())}
    assert listed == keys
