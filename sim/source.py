"""A scenario as written: its text, its overrides, its tree, its validated form, its YAML.

Every way into the engine starts here. ``sim run --set``, ``sim compare --variant``, a
trial of ``sim optimize`` and the ``scenario.yaml`` an output folder keeps are all a
:class:`ScenarioSource` with something applied, then ``.scenario`` (validated, every
problem located in the file or the override that caused it) or ``.dump()``.

YAML is read with ruamel.yaml's round-trip loader, which keeps the line and column of
every key (and the comments) and refuses duplicate keys. Overrides are applied to that
tree *before* validation, so an overridden value gets the same checks as a written one.
"""

from __future__ import annotations

import copy
import io
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path as FsPath
from typing import Any, ClassVar

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.events import (
    AliasEvent,
    CollectionEndEvent,
    CollectionStartEvent,
    MappingStartEvent,
    NodeEvent,
    ScalarEvent,
)
from ruamel.yaml.reader import ReaderError

from sim import paths
from sim.errors import Problem, ScenarioError
from sim.loader import to_plain, validate_tree
from sim.scenario import Scenario
from sim.variants import BASE, VARIANT, apply_design, design_tree

_WIDTH = 100  # of dumped YAML lines

# What a scenario file may be (docs/limits.md): far above any real funnel, far below what
# would hang the parser or exhaust memory. Checked before the tree is built.
MAX_FILE_BYTES = 1024 * 1024  # the text, in UTF-8 bytes
MAX_NODES = 20_000  # keys, values and items, with every alias counted as a copy
MAX_DEPTH = 32  # mappings and lists inside each other


@dataclass(frozen=True, eq=False)
class ScenarioSource:
    """A scenario's text and what was applied to it; each ``with_*`` returns a new source.

    Attributes:
        text: the file's text, as read.
        source: where it came from, for messages (a file name, ``<string>``, ``<trial>``).
        tree: the YAML tree with everything applied; ruamel's round-trip tree (positions
            and comments) until a variant or design makes it plain data. Read it; do not
            change it.
        overrides: the ``PATH=VALUE`` texts applied, in order.
        origins: the raw key path each override set (and each section it created) →
            ``--set PATH=VALUE``, so a problem there names the override.
        changed: whether anything other than the text shapes the tree.

    Examples:
        >>> s = ScenarioSource.from_file("scenarios/quickstart.yaml")
        >>> s.with_overrides(["funnel.course.price=55"]).scenario.step("course").price
        55.0
        >>> s.get("funnel.course.price")
        49
    """

    text: str
    source: str
    tree: Any
    overrides: tuple[str, ...] = ()
    origins: Mapping[paths.Keys, str] = field(default_factory=dict)
    changed: bool = False

    BASE: ClassVar[str] = BASE  # the variant that is the scenario as written
    VARIANT: ClassVar[str] = VARIANT  # the search key that chooses among variants

    @classmethod
    def from_file(cls, path: str | FsPath) -> ScenarioSource:
        """Read a scenario file.

        Raises:
            ScenarioError: the file cannot be read, is not UTF-8, or is not YAML mapping.
        """
        source = str(path)
        try:
            size = FsPath(path).stat().st_size
            if size > MAX_FILE_BYTES:
                raise ScenarioError([_too_big(size, source)])
            data = FsPath(path).read_bytes()
            text = data.decode("utf-8")
        except OSError as exc:
            raise ScenarioError(
                [Problem("", f"cannot read the file: {exc.strerror}", source)]
            ) from None
        except UnicodeDecodeError as exc:
            line, col = _line_col(data[: exc.start].decode("utf-8", errors="replace"), exc.start)
            raise ScenarioError(
                [Problem("", "the file is not UTF-8 text", source, line, col)]
            ) from None
        return cls.from_text(text, source=source)

    @classmethod
    def from_text(cls, text: str, *, source: str = "<string>") -> ScenarioSource:
        """Parse scenario YAML given as text.

        Raises:
            ScenarioError: not valid YAML, or not a mapping of keys.
        """
        return cls(text=text, source=source, tree=load_tree(text, source=source))

    def with_overrides(self, overrides: Iterable[str], *, option: str = "--set") -> ScenarioSource:
        """Apply ``PATH=VALUE`` overrides (as ``--set`` takes them) to a copy.

        A path may pass through sections the file leaves to their defaults; they are
        created, and the schema then checks them (a misspelt section is refused at
        validation, naming the override). ``option`` is how messages name where an
        override came from (``--set``, ``--vs``).

        Raises:
            ScenarioError: an override is not ``PATH=VALUE``, or its path names no list item
                or runs into a single value.
        """
        texts = tuple(overrides)
        if not texts:
            return self
        tree, origins = copy.deepcopy(self.tree), dict(self.origins)
        for text in texts:
            origin = f"{option} {text}"
            try:
                dotted, value = parse_override(text)
                address = paths.set_value(tree, dotted, value, new_sections=True)
            except paths.PathError as exc:
                raise ScenarioError(
                    [Problem(exc.path, exc.message, origin, hint=exc.hint)]
                ) from None
            except ValueError as exc:
                raise ScenarioError([Problem("", str(exc), origin)]) from None
            keys = address.keys
            for end in range(len(keys) - max(address.new, 1) + 1, len(keys) + 1):
                origins[keys[:end]] = origin  # the value, and each section it created
        return replace(self, tree=tree, overrides=self.overrides + texts, origins=origins)

    def with_values(self, values: Mapping[str, Any]) -> ScenarioSource:
        """Set values (not texts) at dotted paths of a copy; a path must name a value or key.

        Raises:
            ScenarioError: a path names nothing in the tree.
        """
        tree = copy.deepcopy(self.tree)
        for dotted, value in values.items():
            try:
                paths.set_value(tree, dotted, value)
            except paths.PathError as exc:
                raise ScenarioError.at(exc.path, exc.message, exc.hint) from None
        return replace(self, tree=tree, changed=True)

    def with_variant(self, name: str) -> ScenarioSource:
        """One of the file's ``variants:`` as a scenario of its own (the base is ``"base"``).

        The source is validated as a whole first, so a variant is only ever applied to a
        valid base; the search sections are dropped from the design.

        Raises:
            ScenarioError: the source is invalid, or has no variant of that name.
        """
        base = self.scenario
        if name != BASE and not base.variants:
            raise ScenarioError(
                [
                    Problem(
                        "variants",
                        f"no variant named '{name}': the file has no variants",
                        self.source,
                        hint="add a `variants:` section, or compare values with --vs PATH=VALUE",
                    )
                ]
            )
        if name != BASE and name not in base.variants:
            names = ", ".join([BASE, *base.variants])
            raise ScenarioError(
                [
                    Problem(
                        "variants",
                        f"no variant named '{name}'",
                        self.source,
                        hint=f"choose {names}",
                    )
                ]
            )
        tree = design_tree(self.plain, name)
        return replace(self, tree=tree, source=f"{self.source} ({name})", origins={}, changed=True)

    def with_design(self, values: Mapping[str, Any], *, as_written: bool = False) -> ScenarioSource:
        """A point of the search: the variant ``values["variant"]``, then each value set.

        A value whose path the chosen variant does not have (a step it removed) is
        skipped. The search sections are dropped: a design is one point of the search.

        Args:
            values: dotted path → value, and optionally ``variant`` → a variant's name.
            as_written: keep the file's comments and its objective (to write the design
                back as a file); otherwise the design is plain data named ``<trial>``.

        Raises:
            ScenarioError: the variant names a step to remove that does not exist.
        """
        variant = str(values.get(VARIANT, BASE))
        if not as_written:
            tree = design_tree(self.plain, variant, values)
            return replace(self, tree=tree, source="<trial>", origins={}, changed=True)
        tree = copy.deepcopy(self.tree)
        variants = dict(tree.get("variants", {}))
        for key in ("search", "variants"):
            tree.pop(key, None)
        apply_design(tree, variants, variant, values)
        return replace(self, tree=tree, origins={}, changed=True)

    @cached_property
    def scenario(self) -> Scenario:
        """The validated, immutable scenario.

        Raises:
            ScenarioError: it breaks a rule of the format; every problem is listed with its
                file (or override), line and key path.
        """
        return validate_tree(self.tree, source=self.source, origins=self.origins)

    @cached_property
    def plain(self) -> Any:
        """The tree as plain Python data (read it; do not change it)."""
        return to_plain(self.tree)

    def has(self, dotted: str) -> bool:
        """Whether a dotted path names a value of the tree."""
        return paths.exists(self.tree, dotted)

    def get(self, dotted: str, *, validated: bool = False) -> Any:
        """The value at a dotted path as written, or ``None`` if the path names nothing.

        With ``validated``, the value as the schema reads it (defaults filled, whole
        numbers kept whole), from the validated scenario.
        """
        tree = self.scenario.model_dump(by_alias=True) if validated else self.plain
        return paths.get_value(tree, dotted) if paths.exists(tree, dotted) else None

    def dump(self, *, comment: str | None = None) -> str:
        """The scenario as YAML, as an output folder keeps it (``scenario.yaml``).

        The file's text byte for byte when nothing was applied; otherwise the tree
        (comments kept where they survive) under ``comment``, or by default under a
        comment naming the file and each override.
        """
        if not (self.overrides or self.changed) and comment is None:
            return self.text
        tree = self.tree
        if comment is not None:
            tree = copy.deepcopy(tree)
            tree.yaml_set_start_comment(comment)
        buffer = io.StringIO()
        yaml = YAML(typ="rt")
        yaml.width = _WIDTH
        yaml.dump(tree, buffer)
        if comment is not None:
            return buffer.getvalue()
        header = f"# {self.source}, run with:\n" + "".join(
            f"#   --set {o}\n" for o in self.overrides
        )
        return header + buffer.getvalue()


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
    return ScenarioSource.from_file(path).with_overrides(overrides).scenario


def parse_scenario(
    text: str, *, source: str = "<string>", overrides: Iterable[str] = ()
) -> Scenario:
    """Validate scenario YAML given as text; see :func:`load_scenario`."""
    return ScenarioSource.from_text(text, source=source).with_overrides(overrides).scenario


def load_tree(text: str, *, source: str = "<string>") -> CommentedMap:
    """Parse YAML into ruamel's round-trip tree (positions and comments kept).

    The text is first read as a stream of YAML events, which costs no recursion and stops
    at the first limit crossed: its size (:data:`MAX_FILE_BYTES`), its nesting
    (:data:`MAX_DEPTH`) and its nodes with aliases expanded (:data:`MAX_NODES`, so a
    "billion laughs" file is refused after a few kilobytes of reading).

    Raises:
        ScenarioError: not valid YAML, too big, too deep, or not a mapping of keys; located
            by line and column.
    """
    size = len(text.encode("utf-8", errors="surrogatepass"))
    if size > MAX_FILE_BYTES:
        raise ScenarioError([_too_big(size, source)])
    try:
        _check_shape(text, source)
        tree = YAML(typ="rt").load(text)
    except ReaderError as exc:
        line, col = _line_col(text, exc.position)
        what = f"character #x{exc.character:04x} is not allowed in YAML"
        hint = "remove it; a scenario is text (control characters and NUL bytes are refused)"
        raise ScenarioError([Problem("", what, source, line, col, hint)]) from None
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        at = (mark.line + 1, mark.column + 1) if mark else (None, None)
        what = f"{exc.context + ', ' if exc.context else ''}{exc.problem or 'invalid YAML'}"
        raise ScenarioError([Problem("", f"not valid YAML: {what}", source, *at)]) from None
    except YAMLError as exc:
        raise ScenarioError([Problem("", f"not valid YAML: {exc}", source, 1, 1)]) from None
    if not isinstance(tree, CommentedMap):
        got = "an empty file" if tree is None else f"a {type(tree).__name__}"
        raise ScenarioError(
            [Problem("", f"a scenario must be a mapping of keys, got {got}", source, 1, 1)]
        )
    return tree


def _too_big(size: int, source: str) -> Problem:
    return Problem(
        "",
        f"the file has {size:,} bytes; a scenario may have at most {MAX_FILE_BYTES:,}",
        source,
        1,
        1,
        "a scenario is a short description of a funnel: is this the right file?",
    )


def _line_col(text: str, position: int) -> tuple[int, int]:
    """1-based line and column of a character offset."""
    before = text[:position]
    return before.count("\n") + 1, len(before) - (before.rfind("\n") + 1) + 1


@dataclass
class _Open:
    """A mapping or list being read: its anchor, the count before it, where its reader is."""

    anchor: str | None
    before: int
    mapping: bool
    key: Any = None  # the mapping's current key, or the list's current index
    want_key: bool = True


def _check_shape(text: str, source: str) -> None:
    """Refuse YAML nested deeper than MAX_DEPTH or larger than MAX_NODES once expanded.

    Each anchored node's expanded size is remembered, so an alias adds its size at once:
    the count is exact and costs one pass, however deeply aliases nest. A refusal names
    the key path being read, as far as the stream has told it.
    """
    sizes: dict[str, int] = {}  # anchor -> nodes in its (expanded) node
    stack: list[_Open] = []
    total = 0
    for event in YAML(typ="rt").parse(text):
        if not isinstance(event, NodeEvent | CollectionEndEvent):
            continue
        if isinstance(event, NodeEvent) and stack:
            _advance(stack[-1], event)
        if isinstance(event, AliasEvent):
            total += sizes.get(event.anchor, 1)
        elif isinstance(event, ScalarEvent):
            total += 1
            if event.anchor:
                sizes[event.anchor] = 1
        elif isinstance(event, CollectionStartEvent):
            total += 1
            stack.append(_Open(event.anchor, total - 1, isinstance(event, MappingStartEvent)))
            if len(stack) > MAX_DEPTH:
                raise _shape_error(
                    f"nested more than {MAX_DEPTH} levels deep",
                    "a scenario's sections are a few levels deep",
                    stack,
                    event,
                    source,
                )
        else:  # a collection ends
            done = stack.pop()
            if done.anchor:
                sizes[done.anchor] = total - done.before
        if total > MAX_NODES:
            raise _shape_error(
                f"more than {MAX_NODES:,} keys and values (aliases counted as copies)",
                "a scenario this large is not a funnel; are aliases nested (*a of *a)?",
                stack,
                event,
                source,
            )


def _advance(parent: _Open, event: Any) -> None:
    """Move the reader of ``parent`` past the node ``event`` starts."""
    if not parent.mapping:
        parent.key = 0 if parent.key is None else parent.key + 1
    elif parent.want_key:
        parent.key = event.value if isinstance(event, ScalarEvent) else "?"
        parent.want_key = False
    else:
        parent.want_key = True


def _shape_error(
    message: str, hint: str, stack: list[_Open], event: Any, source: str
) -> ScenarioError:
    keys = [str(o.key) for o in stack if o.key is not None]
    if len(keys) > 6:  # a path into a runaway nest: its start says where
        keys = [*keys[:6], "…"]
    mark = event.start_mark
    return ScenarioError(
        [Problem(".".join(keys), message, source, mark.line + 1, mark.column + 1, hint)]
    )


def parse_override(text: str) -> tuple[str, Any]:
    """Split ``a.b.c=VALUE`` into its dotted path and its value (a YAML scalar or flow).

    Raises:
        ValueError: the text is not ``PATH=VALUE``.

    Examples:
        >>> parse_override("funnel.core.price=297")
        ('funnel.core.price', 297)
    """
    key, sep, raw = text.partition("=")
    if not sep or not all(key.strip().split(".")):
        raise ValueError(f"expected PATH=VALUE, e.g. funnel.core.price=297, got {text!r}")
    try:
        value = YAML(typ="safe").load(raw) if raw.strip() else ""
    except YAMLError:
        value = raw
    return key.strip(), value
