"""Scenario files → validated ``Scenario``, with every error located in the file.

YAML is read with ruamel.yaml's round-trip loader, which keeps the line and column of every
key and refuses duplicate keys. ``--set`` overrides are applied to that tree *before*
validation, so an overridden value gets the same checks and a message naming the override.
Each pydantic error's ``loc`` is walked through the tree to find its line.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path as FsPath
from typing import Any

from pydantic import BaseModel, ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from sim._checks import Path, check_scenario, near
from sim.errors import Problem, ScenarioError
from sim.scenario import Scenario
from sim.variants import BASE, check_search, design_tree

_UNION_TYPES = (typing.Union, types.UnionType)


def load_scenario(path: str | FsPath, *, overrides: Iterable[str] = ()) -> Scenario:
    """Read, override and validate a scenario file.

    Args:
        path: the YAML file.
        overrides: ``PATH=VALUE`` strings, as ``sim run --set`` takes them.

    Returns:
        The validated, immutable scenario.

    Raises:
        ScenarioError: the file cannot be read, is not valid YAML, or breaks a rule of the
            format; every problem found is listed with its file, line and key path.

    Examples:
        >>> s = load_scenario("scenarios/quickstart.yaml", overrides=["replications=3"])
        >>> s.replications
        3
    """
    source = str(path)
    try:
        text = FsPath(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ScenarioError(
            [Problem("", f"cannot read the file: {exc.strerror}", source)]
        ) from None
    except UnicodeDecodeError:
        raise ScenarioError([Problem("", "the file is not UTF-8 text", source)]) from None
    return parse_scenario(text, source=source, overrides=overrides)


def load_variant(path: str | FsPath, variant: str, *, overrides: Iterable[str] = ()) -> Scenario:
    """One of a file's ``variants:`` as a scenario of its own (the base is ``"base"``).

    The file is validated as a whole first, so a variant is only ever applied to a valid
    base; the search sections are dropped from the design.

    Raises:
        ScenarioError: the file is invalid, or has no variant of that name.
    """
    source = str(path)
    base = load_scenario(path, overrides=overrides)
    if variant != BASE and variant not in base.variants:
        names = ", ".join([BASE, *base.variants])
        raise ScenarioError(
            [Problem("variants", f"no variant named '{variant}'", source, hint=f"choose {names}")]
        )
    tree = load_tree(FsPath(path).read_text(encoding="utf-8"), source=source)
    apply_overrides(tree, overrides, source=source)
    return validate_tree(design_tree(to_plain(tree), variant), source=f"{source} ({variant})")


def parse_scenario(
    text: str, *, source: str = "<string>", overrides: Iterable[str] = ()
) -> Scenario:
    """Validate scenario YAML given as text; see :func:`load_scenario`."""
    tree = load_tree(text, source=source)
    origins = apply_overrides(tree, overrides, source=source)
    return validate_tree(tree, source=source, origins=origins)


def load_tree(text: str, *, source: str = "<string>") -> CommentedMap:
    """Parse YAML into ruamel's round-trip tree (positions and comments kept)."""
    try:
        tree = YAML(typ="rt").load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (None, None)
        what = f"{exc.context + ', ' if exc.context else ''}{exc.problem or 'invalid YAML'}"
        raise ScenarioError([Problem("", f"not valid YAML: {what}", source, line, col)]) from None
    except YAMLError as exc:
        raise ScenarioError([Problem("", f"not valid YAML: {exc}", source)]) from None
    if not isinstance(tree, CommentedMap):
        got = "an empty file" if tree is None else f"a {type(tree).__name__}"
        raise ScenarioError(
            [Problem("", f"a scenario must be a mapping of keys, got {got}", source, 1, 1)]
        )
    return tree


def validate_tree(
    tree: CommentedMap, *, source: str = "<string>", origins: Mapping[Path, str] | None = None
) -> Scenario:
    """Validate a loaded tree; problems are located through the tree's positions."""
    origins = origins or {}
    plain = to_plain(tree)
    try:
        scenario = Scenario.model_validate(plain)
    except ValidationError as exc:
        problems = _dedupe(
            _problem_from_pydantic(tree, err, source, origins) for err in exc.errors()
        )
        raise ScenarioError([p for p in problems if p is not None]) from None
    found = check_scenario(scenario)
    if not found and (scenario.search or scenario.variants):
        found = check_search(plain, scenario, lambda design: validate_tree(design, source=source))
    if found:
        raise ScenarioError(
            [_locate(tree, path, msg, hint, source, origins) for path, msg, hint in found]
        )
    return scenario


# --- overrides -------------------------------------------------------------------------


def parse_override(text: str) -> tuple[list[str], Any]:
    """Split ``a.b.c=VALUE`` into its path and its value, parsed as a YAML scalar or flow."""
    key, sep, raw = text.partition("=")
    parts = key.strip().split(".")
    if not sep or not all(parts):
        raise ValueError(f"expected PATH=VALUE, e.g. funnel.core.price=297, got {text!r}")
    try:
        value = YAML(typ="safe").load(raw) if raw.strip() else ""
    except YAMLError:
        value = raw
    return parts, value


def apply_overrides(
    tree: CommentedMap, overrides: Iterable[str], *, source: str = "<string>"
) -> dict[Path, str]:
    """Set each ``PATH=VALUE`` in ``tree``; returns where each overridden path came from.

    List items are addressed by their ``id`` (``funnel.core.price``) or by index.
    """
    origins: dict[Path, str] = {}
    for text in overrides:
        origin = f"--set {text}"
        try:
            parts, value = parse_override(text)
        except ValueError as exc:
            raise ScenarioError([Problem("", str(exc), origin)]) from None
        path = resolve_path(tree, parts, origin=origin)
        parent = _node_at(tree, path[:-1])
        parent[path[-1]] = value
        origins[path] = origin
    return origins


def resolve_path(tree: Any, parts: Sequence[str], *, origin: str) -> Path:
    """Turn dotted parts into raw keys and list indices; the last key may be new."""
    path: list[str | int] = []
    node = tree
    for depth, part in enumerate(parts):
        last = depth == len(parts) - 1
        where = ".".join(parts[:depth]) or "the top level"
        if isinstance(node, list):
            index = _list_index(node, part)
            if index is None:
                ids = [str(item.get("id")) for item in node if isinstance(item, Mapping)]
                raise ScenarioError(
                    [
                        Problem(
                            ".".join(parts),
                            f"no item '{part}' in {where}",
                            origin,
                            hint=near(part, ids),
                        )
                    ]
                )
            path.append(index)
            node = node[index]
        elif isinstance(node, Mapping):
            if part not in node and not last:
                # a section left to its defaults: create it; the schema then checks the key
                node[part] = CommentedMap()
            path.append(part)
            node = node.get(part)
        else:
            raise ScenarioError(
                [Problem(".".join(parts), f"'{where}' holds a single value, not keys", origin)]
            )
    return tuple(path)


def _list_index(items: list[Any], part: str) -> int | None:
    for i, item in enumerate(items):
        if isinstance(item, Mapping) and str(item.get("id")) == part:
            return i
    if part.lstrip("-").isdigit() and -len(items) <= int(part) < len(items):
        return int(part) % len(items)
    return None


# --- locating errors ---------------------------------------------------------------------


def _node_at(tree: Any, path: Path) -> Any:
    node = tree
    for part in path:
        node = node[part]
    return node


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
    parent = _node_at(tree, path[:-1])
    last = path[-1]
    if isinstance(parent, CommentedMap):
        line, col = parent.lc.key(last)
    elif isinstance(parent, CommentedSeq):
        line, col = parent.lc.item(last)
    else:
        return None, None
    return line + 1, col + 1


def display_path(tree: Any, path: Path) -> str:
    """A path as ``--set`` would write it: list items by id where they have one."""
    shown, node = [], tree
    for part in path:
        item = node[part] if isinstance(node, (list, Mapping)) else None
        if isinstance(part, int) and isinstance(item, Mapping) and "id" in item:
            shown.append(str(item["id"]))
        else:
            shown.append(str(part))
        node = item
    return ".".join(shown)


def _locate(
    tree: Any, path: Path, message: str, hint: str, source: str, origins: Mapping[Path, str]
) -> Problem:
    for overridden, origin in origins.items():
        if path[: len(overridden)] == overridden:
            return Problem(display_path(tree, path), message, origin, hint=hint)
    line, col = _position(tree, path)
    return Problem(display_path(tree, path), message, source, line, col, hint)


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
    return _locate(tree, path, _describe(kind, err, value), "", source, origins)


def _branch_applies(labels: list[tuple[Any, Any]]) -> bool:
    """For ``number | map`` keys pydantic reports both branches; keep the one the input took."""
    for label, node in labels:
        if not isinstance(label, str):
            continue
        if label.startswith("dict[") and not isinstance(node, Mapping):
            return False
        if label.startswith("list[") and not isinstance(node, list):
            return False
        if label in _NUMBER_LABELS and isinstance(node, Mapping | list):
            return False
        if label[:1].isupper() and not isinstance(node, Mapping):  # a model: needs a mapping
            return False
    return True


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
