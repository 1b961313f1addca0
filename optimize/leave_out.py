"""Optional packages that Optuna imports as it loads, for what the study process never uses.

Optuna imports an optional package when it loads a module that can use it, if it is
installed, and defers an import error to the feature's first use. The study process of
``sim optimize`` leaves some out (:func:`left_out`): each costs it tens of milliseconds
to a few seconds on the way to its first trial, while the simulation processes wait.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

# Optuna's journal storage on a Redis server (``JournalRedisBackend``): studies here are
# stored in a database or a journal file (``optimize.study.make_storage``).
UNUSED_BY_STUDIES = ("redis",)


@contextmanager
def left_out(packages: Sequence[str]) -> Iterator[None]:
    """Inside the block, importing any of these packages fails as if it were not installed.

    Examples:
        >>> with left_out(["no_such_package"]):
        ...     import no_such_package
        Traceback (most recent call last):
        ModuleNotFoundError: no_such_package is left out here
    """
    refuse = _Refuse(packages)
    sys.meta_path.insert(0, refuse)
    try:
        yield
    finally:
        sys.meta_path.remove(refuse)


def import_optuna() -> None:
    """Import Optuna without :data:`UNUSED_BY_STUDIES`, unless it is already imported.

    For a process that runs studies only (``sim optimize``): Optuna's Redis journal stays
    unusable in it afterwards.
    """
    if "optuna" in sys.modules:
        return
    with left_out(UNUSED_BY_STUDIES):
        importlib.import_module("optuna")


class _Refuse:
    """An import finder that refuses some packages, as if they were not installed."""

    def __init__(self, packages: Sequence[str]) -> None:
        self.packages = packages

    def find_spec(self, name: str, *_: Any) -> None:
        if name.partition(".")[0] in self.packages:
            raise ModuleNotFoundError(f"{name} is left out here", name=name)
