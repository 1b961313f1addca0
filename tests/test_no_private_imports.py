"""No module reaches into another module's underscored names.

A helper whose name starts with ``_`` belongs to its module: others import only public
names (``from x import _y`` and ``x._y`` fail here). Public names of an underscored module
(``from sim.steps._base import Trigger``) are fine: the module is private to its package,
its names are its package's shared helpers.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import ROOT

SOURCES = sorted(
    [*(ROOT / "sim").rglob("*.py"), *(ROOT / "optimize").rglob("*.py"), ROOT / "cli.py"]
)
PACKAGES = ("sim", "optimize", "cli")


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def _ours(module: str | None, level: int = 0) -> bool:
    return level > 0 or (module or "").split(".")[0] in PACKAGES


def _module_names(tree: ast.Module) -> set[str]:
    """Names bound by importing this project's modules or their members, anywhere in a module.

    Only this project's: the standard library's own underscored API (``os._exit``) is public.
    """
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {(a.asname or a.name).split(".")[0] for a in node.names if _ours(a.name)}
        elif isinstance(node, ast.ImportFrom) and _ours(node.module, node.level):
            names |= {a.asname or a.name for a in node.names}
    return names


def private_uses(source: Path) -> Iterator[str]:
    """Each import of another module's underscored name, as ``line: what``."""
    tree = ast.parse(source.read_text(encoding="utf-8"), filename=str(source))
    imported = _module_names(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            for alias in node.names:
                if _private(alias.name):
                    yield f"{node.lineno}: from {node.module} import {alias.name}"
        elif isinstance(node, ast.Attribute) and _private(node.attr):
            owner = node.value
            while isinstance(owner, ast.Attribute):  # pkg.module._name
                owner = owner.value
            if isinstance(owner, ast.Name) and owner.id in imported:
                yield f"{node.lineno}: {ast.unparse(node)}"


def _relative(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


@pytest.mark.parametrize("source", SOURCES, ids=_relative)
def test_no_module_imports_another_modules_underscored_names(source: Path) -> None:
    found = list(private_uses(source))
    assert not found, f"{_relative(source)} uses underscored names of other modules: {found}"


def test_the_check_sees_both_forms(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text(
        "import os\nimport sim.report\nfrom sim.steps._base import Trigger\nfrom sim.report import _KIND\n"
        "x = sim.report._symbol\ny = self._own\nos._exit(0)\n",
        encoding="utf-8",
    )
    assert list(private_uses(module)) == [
        "4: from sim.report import _KIND",
        "5: sim.report._symbol",
    ]
