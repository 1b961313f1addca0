"""One line on every key of the scenario format, for editors and for docs/model.md.

The lines live in ``sim/keys.yaml``, keyed by the schema's model name and the key; the
defaults are read from the schema itself. :func:`scenario_schema` is the JSON Schema
``sim schema`` prints, each property described (what an editor shows on hover);
:func:`keys_markdown` is the key tables of docs/model.md §8, rewritten by
``python docs/keys.py``.
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files
from typing import Any

from ruamel.yaml import YAML

from sim.scenario import Scenario
from sim.steps import STEP_KINDS

ROOT = "Scenario"
START = "<!-- keys: generated from sim/keys.yaml by `python docs/keys.py` -->"
END = "<!-- keys: end -->"


@cache
def _lines() -> dict[str, dict[str, str]]:
    text = files("sim").joinpath("keys.yaml").read_text(encoding="utf-8")
    data = YAML(typ="safe").load(text)
    return {str(model): {str(k): str(v) for k, v in keys.items()} for model, keys in data.items()}


def _groups(model: str) -> list[str]:
    """Where a model's keys are described: its own section, then the shared one."""
    steps = {kind.spec.__name__ for kind in STEP_KINDS.values()}
    if model in steps:
        return [model, "step"]
    if model.endswith("Channel"):
        return [model, "channel"]
    return [model]


def line(model: str, key: str) -> str | None:
    """What a key of a model says (its unit in brackets), or None if nothing does.

    Examples:
        >>> line("Offer", "price")
        'What a buyer pays (money).'
    """
    lines = _lines()
    for group in _groups(model):
        if key in lines.get(group, {}):
            return lines[group][key]
    return None


def _default(prop: dict[str, Any]) -> str | None:
    """A scalar default as the file writes it; None for none, maps, lists and required keys."""
    if "default" not in prop:
        return None
    value = prop["default"]
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value or '""'
    if isinstance(value, int | float):
        return f"{value:g}"
    return None


def _models(schema: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {ROOT: schema, **schema.get("$defs", {})}


def scenario_schema() -> dict[str, Any]:
    """The scenario format's JSON Schema, every property with its one-line description.

    Examples:
        >>> scenario_schema()["properties"]["seed"]["description"]
        'Seed of the run; the same seed gives the same numbers. Default: 0.'
    """
    schema = Scenario.model_json_schema()
    for model, body in _models(schema).items():
        for key, prop in body.get("properties", {}).items():
            text = line(model, key)
            if text is None:
                continue
            default = _default(prop)
            prop["description"] = text + (f" Default: {default}." if default is not None else "")
    return schema


def keys_markdown() -> str:
    """The key tables of docs/model.md §8: one per part of the format."""
    schema = Scenario.model_json_schema()
    parts = []
    for model, body in sorted(_models(schema).items(), key=lambda m: (m[0] != ROOT, m[0])):
        required = set(body.get("required", []))
        rows = []
        for key, prop in body.get("properties", {}).items():
            default = "required" if key in required else (_default(prop) or "—")
            rows.append(f"| `{key}` | {default} | {line(model, key) or ''} |")
        parts.append(
            f"**{model}**\n\n| key | default | what it says |\n|---|---|---|\n" + "\n".join(rows)
        )
    return "\n\n".join(parts)
