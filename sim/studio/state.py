"""The state of the controls, saved and restored: as a link's query string or a JSON file.

A teacher hands out an exercise as either. The state is plain data::

    {"replications": 20, "seed": 7, "variant": "base",
     "settings": {"funnel.tripwire.price": "12", "funnel.core_course.price": ""}}

A setting's value is the text a student typed, as ``--set PATH=VALUE`` takes it; an empty
value keeps the scenario's own. In a link, each setting is a ``set=PATH=VALUE`` pair, so a
link reads like the command line it stands for.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl, urlencode

FORMAT = "funnelsim-studio/1"


def to_query(state: dict[str, Any]) -> str:
    """The state as a query string (``?n=20&seed=7&set=funnel.tripwire.price=12``)."""
    pairs = [("n", str(state["replications"])), ("seed", str(state["seed"]))]
    if state.get("variant"):
        pairs.append(("variant", state["variant"]))
    pairs += [("set", f"{path}={value}") for path, value in state["settings"].items()]
    return "?" + urlencode(pairs, safe="=.,")


def from_query(query: str, default: dict[str, Any]) -> dict[str, Any]:
    """The state a query string describes; what it leaves out comes from ``default``."""
    state = {**default, "settings": dict(default["settings"])}
    given: dict[str, str] = {}
    for key, value in parse_qsl(query.lstrip("?"), keep_blank_values=True):
        if key == "n":
            state["replications"] = _whole(value, default["replications"])
        elif key == "seed":
            state["seed"] = _whole(value, default["seed"])
        elif key == "variant":
            state["variant"] = value
        elif key == "set" and "=" in value:
            path, _, text = value.partition("=")
            given[path.strip()] = text
    if given:  # a link lists the controls it wants, in its own order
        state["settings"] = given
    return state


def _whole(text: str, fallback: int) -> int:
    try:
        return max(int(text), 0)
    except ValueError:
        return fallback


def to_json(state: dict[str, Any], scenario: str) -> str:
    """The state as an exercise file, naming the scenario it was made for."""
    return json.dumps({"format": FORMAT, "scenario": scenario, **state}, indent=2) + "\n"


def from_json(text: str, default: dict[str, Any]) -> dict[str, Any]:
    """The state an exercise file holds.

    Raises:
        ValueError: the file is not an exercise saved by the studio.
    """
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not an exercise file: not JSON ({exc.msg}, line {exc.lineno})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ValueError(f'not an exercise file: expected "format": "{FORMAT}"')
    settings = data.get("settings", {})
    if not isinstance(settings, dict):
        raise ValueError('not an exercise file: "settings" must map paths to values')
    return {
        "replications": _whole(str(data.get("replications", "")), default["replications"]),
        "seed": _whole(str(data.get("seed", "")), default["seed"]),
        "variant": str(data.get("variant") or default["variant"]),
        "settings": {str(k): "" if v is None else str(v) for k, v in settings.items()},
    }
