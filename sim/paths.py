"""Dotted paths: how ``--set``, variants and search keys name a value in a scenario.

A path is keys joined by dots: ``channels.ads.daily_budget``,
``segments.hobbyist.email.open_rate``. One rule for lists: an item is named by its ``id``
(``funnel.core.price``) or, where items have no id (or to be explicit), by its 0-based
index (``funnel.0.price``); negative indices are refused, and ids never look like
indices (they start with a letter). Everything here works on ruamel's round-trip trees and
on plain ``dict``/``list`` data alike.

Examples:
    >>> tree = {"funnel": [{"id": "core", "price": 49}], "channels": {}}
    >>> get_value(tree, "funnel.core.price")
    49
    >>> address = set_value(tree, "channels.ads.daily_budget", 500, new_sections=True)
    >>> address.keys, address.new
    (('channels', 'ads', 'daily_budget'), 2)
    >>> exists(tree, "funnel.0.price"), exists(tree, "funnel.main.price")
    (True, False)
    >>> list(leaf_paths(tree))
    ['funnel.core.id', 'funnel.core.price', 'channels.ads.daily_budget']
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sim._checks import near

Key = str | int
Keys = tuple[Key, ...]  # raw mapping keys and list indices


class PathError(ValueError):
    """A path that names nothing in a tree: the path, what is wrong, and a hint."""

    def __init__(self, path: str, message: str, hint: str = "") -> None:
        """Args: the dotted path, what went wrong (naming the part), a ``did you mean``."""
        super().__init__(f"{path}: {message}" + (f" ({hint})" if hint else ""))
        self.path, self.message, self.hint = path, message, hint


@dataclass(frozen=True)
class Address:
    """Where a dotted path leads: its raw keys, and how many of the last are not there yet.

    ``new`` counts trailing mapping keys the tree does not have: 0 for a value that
    exists, 1 for a new key of an existing mapping, more for sections to create.
    """

    keys: Keys
    new: int


def parse(dotted: str) -> tuple[str, ...]:
    """Split a dotted path into its parts.

    Raises:
        PathError: the path is empty or has an empty part (``a..b``).

    Examples:
        >>> parse("funnel.core.price")
        ('funnel', 'core', 'price')
    """
    parts = tuple(dotted.strip().split("."))
    if not all(parts):
        raise PathError(dotted, "a path is keys joined by dots, e.g. funnel.core.price")
    return parts


def resolve(tree: Any, dotted: str) -> Address:
    """The raw keys of ``dotted`` in ``tree``; keys missing from a mapping count as new.

    Raises:
        PathError: a list has no item of that id or index, or a single value stands
            where the path needs keys.
    """
    parts = parse(dotted)
    keys: list[Key] = []
    node, new = tree, 0
    for depth, part in enumerate(parts):
        where = ".".join(parts[:depth]) or "the top level"
        if new:
            keys.append(part)
            new += 1
        elif isinstance(node, list):
            index = _item(node, part)
            if index is None:
                raise PathError(dotted, f"no item '{part}' in {where}", near(part, _ids(node)))
            keys.append(index)
            node = node[index]
        elif isinstance(node, Mapping):
            keys.append(part)
            if part in node:
                node = node[part]
            else:
                new = 1
        else:
            raise PathError(dotted, f"'{where}' holds a single value, not keys")
    return Address(tuple(keys), new)


def exists(tree: Any, dotted: str, *, new_key: bool = False) -> bool:
    """Whether ``dotted`` names a value of ``tree`` (``new_key``: or a new key of a mapping)."""
    try:
        return resolve(tree, dotted).new <= (1 if new_key else 0)
    except PathError:
        return False


def get_value(tree: Any, dotted: str) -> Any:
    """The value at ``dotted``.

    Raises:
        PathError: the path names nothing in ``tree`` (with a ``did you mean`` hint).
    """
    address = resolve(tree, dotted)
    if address.new:
        found = address.keys[: len(address.keys) - address.new]
        missing = str(address.keys[len(found)])
        where = display(tree, found) or "the top level"
        raise PathError(
            dotted, f"no key '{missing}' in {where}", near(dotted, list(leaf_paths(tree)))
        )
    return node_at(tree, address.keys)


def set_value(tree: Any, dotted: str, value: Any, *, new_sections: bool = False) -> Address:
    """Set the value at ``dotted`` in place; a new key of an existing mapping is allowed.

    Args:
        tree: the tree to change.
        dotted: the path.
        value: the new value.
        new_sections: also create the mappings the path passes through that the tree
            does not have (a section left to its defaults).

    Returns:
        The address set; its last ``new`` keys were not in the tree before.

    Raises:
        PathError: the path names nothing, or passes through missing sections and
            ``new_sections`` is off.
    """
    address = resolve(tree, dotted)
    keys, new = address.keys, address.new
    if new > 1 and not new_sections:
        missing = keys[len(keys) - new]
        where = display(tree, keys[: len(keys) - new]) or "the top level"
        raise PathError(dotted, f"no section '{missing}' in {where}")
    node = node_at(tree, keys[: len(keys) - max(new, 1)])
    for key in keys[len(keys) - new : -1]:
        node[key] = type(node)()  # a mapping like its parent: ruamel's keeps positions
        node = node[key]
    node[keys[-1]] = value
    return address


def node_at(tree: Any, keys: Keys) -> Any:
    """The node at raw keys (as :func:`resolve` returns them)."""
    node = tree
    for key in keys:
        node = node[key]
    return node


def display(tree: Any, keys: Keys) -> str:
    """Raw keys as a dotted path: list items by id where they have one, else by index."""
    shown, node = [], tree
    for key in keys:
        item = (
            node_at(node, (key,)) if isinstance(node, list | Mapping) and _has(node, key) else None
        )
        if isinstance(key, int) and isinstance(item, Mapping) and "id" in item:
            shown.append(str(item["id"]))
        else:
            shown.append(str(key))
        node = item
    return ".".join(shown)


def leaf_paths(tree: Any, prefix: str = "") -> Iterator[str]:
    """Every path to a value (for ``did you mean``); lists of items with ids are walked by id.

    A list whose items lack ids is one value: its items are not listed.
    """
    if isinstance(tree, Mapping):
        for key, value in tree.items():
            yield from leaf_paths(value, f"{prefix}{key}.")
    elif isinstance(tree, list) and all(isinstance(i, Mapping) and "id" in i for i in tree):
        for item in tree:
            yield from leaf_paths(item, f"{prefix}{item['id']}.")
    else:
        yield prefix[:-1]


def _item(items: Sequence[Any], part: str) -> int | None:
    """The index of the item whose id is ``part``, or ``part`` read as an index."""
    for i, item in enumerate(items):
        if isinstance(item, Mapping) and str(item.get("id")) == part:
            return i
    if part.isdigit() and int(part) < len(items):
        return int(part)
    return None


def _ids(items: Sequence[Any]) -> list[str]:
    return [str(item.get("id")) for item in items if isinstance(item, Mapping)]


def _has(node: Any, key: Key) -> bool:
    if isinstance(node, Mapping):
        return key in node
    return isinstance(key, int) and 0 <= key < len(node)
