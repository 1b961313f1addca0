"""A scenario's YAML tree → validated ``Scenario``, with every error located in the file.

The tree is ruamel.yaml's round-trip tree (``sim.source`` reads it), which keeps the line
and column of every key. Each pydantic error's ``loc``, and each path a cross-key check
finds, is walked through the tree to its line; a problem at a path an override set (or a
section it created) names the override instead.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path as FsPath
from typing import Any

from pydantic import BaseModel, ValidationError
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from sim import assumptions, paths
from sim._checks import Found, Path, check_references, check_scenario, near
from sim.errors import Problem, ScenarioError
from sim.scenario import Scenario
from sim.spec import written_as_distribution
from sim.steps import STEP_KINDS
from sim.variants import check_search

_UNION_TYPES = (typing.Union, types.UnionType)


def validate_tree(
    tree: Any, *, source: str = "<string>", origins: Mapping[Path, str] | None = None
) -> Scenario:
    """Validate a loaded tree; problems are located through the tree's positions."""
    origins = origins or {}
    plain = to_plain(tree)
    try:
        # files a scenario names (a CSV of open deals) are found next to it
        file = FsPath(source.split(" (", 1)[0])  # "x.yaml (variant)": a design of x.yaml
        base = file.parent if file.is_file() else None
        scenario = Scenario.model_validate(plain, context={"base": base})
    except ValidationError as exc:
        errors = exc.errors()
        problems = _dedupe(_problem_from_pydantic(tree, err, source, origins) for err in errors)
        problems = problems or [_no_branch(tree, errors, source, origins)]
        found = _references_of_valid_steps(plain)  # reported now, not after the fix
        problems += [_locate(tree, path, msg, hint, source, origins) for path, msg, hint in found]
        raise ScenarioError(problems) from None
    # cross-key rules hold for the scenario with its uncertain quantities at their medians
    # (each replication's draw is checked again when it is made: sim.assumptions.draw)
    found = check_scenario(assumptions.central(scenario))
    found += assumptions.check_assumptions(scenario)
    if not found and (scenario.search or scenario.variants):
        found = check_search(plain, scenario, lambda design: validate_tree(design, source=source))
    if found:
        raise ScenarioError(
            [_locate(tree, path, msg, hint, source, origins) for path, msg, hint in found]
        )
    return scenario


def _references_of_valid_steps(plain: Any) -> list[Found]:
    """The ids named by the steps that are valid on their own, checked against every id.

    The schema refused something; checking these too reports a misspelt key and a
    misspelt id in one pass.
    """
    funnel = plain.get("funnel") if isinstance(plain, Mapping) else None
    if not isinstance(funnel, list):
        return []
    raw = [(i, s) for i, s in enumerate(funnel) if isinstance(s, Mapping)]
    raw = [(i, s) for i, s in raw if isinstance(s.get("type"), str) and s["type"] in STEP_KINDS]
    types = {str(s.get("id")): str(s["type"]) for _, s in raw}
    steps = []
    for i, step in raw:
        kind = STEP_KINDS.get(str(step["type"]))
        if kind is not None:
            try:
                steps.append((i, kind.spec.model_validate(step)))
            except ValidationError:
                continue
    return list(check_references(steps, types))


# --- locating errors ---------------------------------------------------------------------


def _walk(tree: Any, loc: Sequence[Any]) -> tuple[Path, list[tuple[Any, Any]]]:
    """Follow ``loc`` through the tree: the path found, and the labels passed (with their node)."""
    node, consumed, labels = tree, [], []
    for part in loc:
        if _has(node, part):
            node = node[part]
            consumed.append(part)
        else:
            # a union member's tag, a type label, or a key that is missing
            labels.append((part, node))
    return tuple(consumed), labels


def _has(node: Any, part: Any) -> bool:
    if isinstance(node, Mapping):
        return part in node
    return isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)


def _position(tree: Any, path: Path) -> tuple[int | None, int | None]:
    """1-based line and column of the key (or list item) at ``path``."""
    if not path:
        return None, None
    parent = paths.node_at(tree, path[:-1])
    last = path[-1]
    try:
        if isinstance(parent, CommentedMap):
            line, col = parent.lc.key(last)
        elif isinstance(parent, CommentedSeq):
            line, col = parent.lc.item(last)
        else:
            return None, None
    except KeyError:  # added after the file was read: not in it
        return None, None
    return line + 1, col + 1


def _locate(
    tree: Any, path: Path, message: str, hint: str, source: str, origins: Mapping[Path, str]
) -> Problem:
    for overridden, origin in origins.items():
        # at or inside what an override set, or (below the top level) a section holding
        # it: a mix that no longer sums to 1 is the override's doing, not the file's
        inside = path[: len(overridden)] == overridden
        holding = len(path) > 1 and overridden[: len(path)] == path
        if inside or holding:
            return Problem(paths.display(tree, path), message, origin, hint=hint)
    return Problem(paths.display(tree, path), message, source, *_nearest(tree, path), hint)


def _nearest(tree: Any, path: Path) -> tuple[int | None, int | None]:
    """The position of ``path``, or of the nearest key holding it (a missing key's mapping).

    A tree that was not read from a file (a trial's design) has no positions.
    """
    if not isinstance(tree, CommentedMap):
        return None, None
    for end in range(len(path), 0, -1):
        line, col = _position(tree, path[:end])
        if line is not None and col is not None:
            return line, col
    return 1, 1


def _problem_from_pydantic(
    tree: Any, err: Mapping[str, Any], source: str, origins: Mapping[Path, str]
) -> Problem | None:
    path, labels = _walk(tree, err["loc"])
    if not _branch_applies(labels):
        return None
    kind, value = err["type"], err.get("input")
    if kind == "extra_forbidden":
        known = _known_keys(err["loc"][:-1])
        return _locate(
            tree, path, f"unknown key '{path[-1]}'", near(str(path[-1]), known), source, origins
        )
    if kind == "missing":
        return _locate(
            tree, path, f"required key '{err['loc'][-1]}' is missing", "", source, origins
        )
    if kind == "union_tag_invalid":
        expected = err["ctx"]["expected_tags"].replace("'", "").split(", ")
        tag = str(err["ctx"]["tag"])
        return _locate(
            tree, (*path, "type"), f"unknown type '{tag}'", near(tag, expected), source, origins
        )
    if kind == "union_tag_not_found":
        return _locate(tree, path, "required key 'type' is missing", "", source, origins)
    message, hint = _describe(kind, err, value), _hint(kind, err, value)
    if kind == "string_pattern_mismatch" and "requires" in path and _is_condition(value):
        message = (
            f"'{value}' is a condition, not a step id: `requires` lists steps bought before, "
            "and cannot say 'not'"
        )
        hint = "to reach those who declined a step, start this one with `on_decline: <that step>`"
    return _locate(tree, path, message, hint, source, origins)


def _is_condition(value: Any) -> bool:
    words = str(value).split()
    return len(words) > 1 and words[0].lower() in ("not", "no", "!")


def _no_branch(
    tree: Any, errors: Sequence[Mapping[str, Any]], source: str, origins: Mapping[Path, str]
) -> Problem:
    """A value no member of a union takes (``team: null``): name what each would take."""
    path, _ = _walk(tree, errors[0]["loc"])
    kinds = [str(label) for e in errors for label, _ in _walk(tree, e["loc"])[1][-1:]]
    expected = " or ".join(dict.fromkeys(kinds)) or "another value"
    return _locate(
        tree, path, f"expected {expected}, got {errors[0].get('input')!r}", "", source, origins
    )


def _branch_applies(labels: list[tuple[Any, Any]]) -> bool:
    """For ``number | map`` keys pydantic reports both branches; keep the one the input took."""
    for label, node in labels:
        if not isinstance(label, str):
            continue
        if label.startswith("dict[") and not isinstance(node, Mapping):
            return False
        if label.startswith("dict[") and written_as_distribution(node):
            return False
        if label == _VARYING and isinstance(node, Mapping | list):
            return written_as_distribution(node)
        if label.startswith("list[") and not isinstance(node, list):
            return False
        if label in _NUMBER_LABELS and isinstance(node, Mapping | list):
            return False
        if label[:1].isupper() and not isinstance(node, Mapping):  # a model: needs a mapping
            return False
    return True


_VARYING = "function-wrap[number_or_distribution()]"  # a number that may be uncertain
_NUMBER_LABELS = ("float", "int", "constrained-float", "constrained-int")


_BOUNDS = {
    "greater_than": ">",
    "greater_than_equal": ">=",
    "less_than": "<",
    "less_than_equal": "<=",
}


def _describe(kind: str, err: Mapping[str, Any], value: Any) -> str:
    if kind in _BOUNDS:
        bound = next(iter(err["ctx"].values()))
        return f"must be {_BOUNDS[kind]} {bound:g}, got {value!r}"
    if kind == "finite_number":
        return f"must be a finite number, got {value!r}"
    if kind in ("float_type", "float_parsing", "int_type", "int_parsing", "int_from_float"):
        expected = "a whole number" if kind.startswith("int") else "a number"
        return f"expected {expected}, got {value!r}"
    if kind == "string_pattern_mismatch":
        return f"names may hold letters, digits, '_' and '-' and start with a letter, got {value!r}"
    if kind == "value_error":
        return str(err["msg"]).removeprefix("Value error, ")
    if kind == "literal_error":
        return f"expected {err['ctx']['expected']}, got {value!r}"
    if kind == "too_short":
        return "must not be empty"
    return f"{err['msg']}, got {value!r}"


def _hint(kind: str, err: Mapping[str, Any], value: Any) -> str:
    """How to write a number the schema refused for its type, or a share given in percent."""
    if kind == "less_than_equal" and err["ctx"].get("le") == 1 and _percent(value) is not None:
        return f"write a share as a fraction: {_percent(value):g} for {value}%"
    if kind.startswith(("float", "int")) and isinstance(value, str) and value.strip().endswith("%"):
        share = _percent(value.strip().removesuffix("%"))
        if share is not None:
            return f"write a share as a fraction: {share:g}, not {value.strip()}"
    if kind not in ("float_type", "int_type", "finite_number"):
        return ""
    if isinstance(value, bool):
        return "true and false are not numbers here: write the number itself"
    if isinstance(value, str) and _is_number(value):
        return 'write the number without quotes, e.g. 49 not "49"'
    if kind == "finite_number":
        return "infinities and .nan are refused: write the number itself"
    return ""


def _percent(value: Any) -> float | None:
    """``value`` read as a percentage (1 < value ≤ 100) → the share it means, else None."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number / 100 if 1 < number <= 100 else None


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _dedupe(problems: Iterable[Problem | None]) -> list[Problem]:
    seen: dict[tuple[str, str, str], Problem] = {}
    for p in problems:
        if p is not None:
            seen.setdefault((p.file, p.path, p.message), p)
    return list(seen.values())


def _known_keys(loc: Sequence[Any]) -> list[str]:
    """The keys the schema allows at ``loc`` (for ``did you mean``)."""
    tp: Any = Scenario
    for part in loc:
        tp = _unwrap(tp)
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            if part not in tp.model_fields:
                return []
            tp = tp.model_fields[part].annotation
        elif typing.get_origin(tp) in (list, dict):
            tp = typing.get_args(tp)[-1]
        elif typing.get_origin(tp) in _UNION_TYPES:
            # a member named by its `type` tag, or (untagged unions) by pydantic's label
            tagged = [m for m in typing.get_args(tp) if part in (_tag(m), _label(m))]
            if not tagged:
                return []
            tp = tagged[0]
    tp = _unwrap(tp)
    return list(tp.model_fields) if isinstance(tp, type) and issubclass(tp, BaseModel) else []


def _unwrap(tp: Any) -> Any:
    while typing.get_origin(tp) is typing.Annotated:
        tp = typing.get_args(tp)[0]
    return tp


def _label(tp: Any) -> str:
    """How pydantic names a member of an untagged union in an error's ``loc``."""
    tp = _unwrap(tp)
    if typing.get_origin(tp) is list:
        return f"list[{_label(typing.get_args(tp)[0])}]"
    return getattr(tp, "__name__", str(tp))


def _tag(model: Any) -> str | None:
    model = _unwrap(model)
    if isinstance(model, type) and issubclass(model, BaseModel) and "type" in model.model_fields:
        args = typing.get_args(model.model_fields["type"].annotation)
        return str(args[0]) if args else None
    return None


def to_plain(node: Any) -> Any:
    """Ruamel's scalar and container subclasses → plain Python values."""
    if isinstance(node, Mapping):
        return {str(k): to_plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [to_plain(v) for v in node]
    if isinstance(node, bool):
        return bool(node)
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    if isinstance(node, str):
        return str(node)
    return node
