"""Variants and search values applied to a scenario's raw tree, and the checks of both.

A trial of ``sim optimize`` is the base scenario with one variant applied (steps removed,
then steps added, then keys set) and then each searched value set at its dotted path. The
same functions check, when a file is validated, that every variant and every end of every
search range gives a valid funnel, so a bad search is refused before any trial runs.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from sim import measures, paths
from sim._checks import Found, near
from sim.errors import ScenarioError
from sim.scenario import NumberRange, Scenario

VARIANT = "variant"  # the search key that chooses among variants
BASE = "base"  # the name of the scenario as written
_SEARCH_SECTIONS = ("search", "variants", "objective")

Validate = Callable[[Any], Scenario]


def design_tree(
    base: Mapping[str, Any], variant: str = BASE, values: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """A plain copy of ``base`` with a variant and searched values applied.

    The search sections are dropped (a design is one point of the search). A value whose
    path does not exist in the chosen variant (a step it removed) is skipped.

    Raises:
        ScenarioError: the variant names a step to remove that does not exist.
    """
    tree = {k: copy.deepcopy(v) for k, v in base.items() if k not in _SEARCH_SECTIONS}
    apply_design(tree, base.get("variants", {}), variant, values or {})
    return tree


def apply_design(
    tree: Any, variants: Mapping[str, Any], variant: str, values: Mapping[str, Any]
) -> None:
    """Apply a variant (from ``variants``) and then searched values to ``tree`` in place.

    Works on plain data and on ruamel's round-trip tree alike, so a design can be written
    back with the file's comments.
    """
    if variant != BASE:
        _apply_variant(tree, variant, variants[variant])
    for path, value in values.items():
        if path != VARIANT and paths.exists(tree, path):
            paths.set_value(tree, path, value)


def _apply_variant(tree: Any, name: str, spec: Mapping[str, Any]) -> None:
    funnel = tree["funnel"]
    for step_id in spec.get("remove", []):
        ids = [str(step.get("id")) for step in funnel]
        if step_id not in ids:
            where = f"variants.{name}.remove"
            raise ScenarioError.at(where, f"no step has id '{step_id}'", near(step_id, ids))
        funnel.pop(ids.index(step_id))
    funnel.extend(copy.deepcopy(list(spec.get("add", []))))
    for path, value in spec.get("set", {}).items():
        if not paths.exists(tree, path, new_key=True):
            raise ScenarioError.at(f"variants.{name}.set", f"'{path}' names nothing in the funnel")
        paths.set_value(tree, path, value)


# --- checks at validation time -----------------------------------------------------------


def check_search(base: Mapping[str, Any], scenario: Scenario, validate: Validate) -> list[Found]:
    """Problems of the objective, variants and search sections of a valid scenario."""
    return [
        *_check_objective(scenario),
        *_check_variants(base, scenario, validate),
        *_check_ranges(base, scenario, validate),
    ]


def _check_objective(s: Scenario) -> Iterator[Found]:
    for direction in ("maximize", "minimize"):
        names = getattr(s.objective, direction)
        for i, text in enumerate([names] if isinstance(names, str) else names):
            problem = _measure_problem(text)
            if problem is not None:
                at: tuple[str | int, ...] = ("objective", direction)
                yield (at if isinstance(names, str) else (*at, i)), *problem
    for text in s.objective.constraints:
        problem = _measure_problem(text)
        if problem is not None:
            yield ("objective", "constraints", text), *problem
    if not s.objective.goals:
        yield ("objective",), "nothing to maximize or minimize", "e.g. maximize: profit"


def _measure_problem(text: str) -> tuple[str, str] | None:
    """What is wrong with an objective's measure (``profit``, ``profit@p10``), if anything."""
    try:
        measures.parse(text)
    except measures.MeasureError as exc:
        return exc.message, exc.hint
    return None


def _design_problem(validate: Validate, tree: Any) -> str | None:
    try:
        validate(tree)
    except ScenarioError as exc:
        first = exc.problems[0]
        more = f" (and {len(exc.problems) - 1} more)" if len(exc.problems) > 1 else ""
        return f"{first.path}: {first.message}{more}" if first.path else first.message + more
    return None


def _check_variants(base: Mapping[str, Any], s: Scenario, validate: Validate) -> Iterator[Found]:
    for name in s.variants:
        if name == BASE:
            message = f"'{BASE}' names the scenario as written"
            yield ("variants", name), message, "choose another name"
            continue
        try:
            problem = _design_problem(validate, design_tree(base, name))
        except ScenarioError as exc:
            yield ("variants", name), exc.problems[0].message, exc.problems[0].hint
            continue
        if problem:
            yield ("variants", name), f"leaves the funnel invalid: {problem}", ""


def _check_ranges(base: Mapping[str, Any], s: Scenario, validate: Validate) -> Iterator[Found]:
    variants = [BASE, *s.variants]
    for key, dim in s.search.items():
        where = ("search", key)
        if key == VARIANT:
            if isinstance(dim, NumberRange):
                yield where, "choose among variants with a list, e.g. [base, no_tripwire]", ""
                continue
            for choice in dim:
                if choice not in variants:
                    yield where, f"no variant named '{choice}'", near(str(choice), variants)
            continue
        homes = [v for v in variants if paths.exists(design_tree(base, v), key)]
        if not homes:
            message = f"'{key}' names nothing in the funnel or any variant"
            yield where, message, _path_hint(base, key)
            continue
        values = [dim.low, dim.high] if isinstance(dim, NumberRange) else list(dim)
        for value in values:
            problem = _design_problem(validate, design_tree(base, homes[0], {key: value}))
            if problem:
                yield where, f"the value {value!r} makes the scenario invalid: {problem}", ""
                break


def _path_hint(base: Mapping[str, Any], path: str) -> str:
    known = [p for p in paths.leaf_paths(base) if not p.startswith(_SEARCH_SECTIONS)]
    return near(path, known) or ""
