"""docs/api.md is a notebook written out: every example runs and prints what it shows."""

from __future__ import annotations

import doctest
import os

from conftest import ROOT


def test_api_page_runs() -> None:
    here = os.getcwd()
    os.chdir(ROOT)  # the page runs from the project's folder, like a notebook beside it
    try:
        failed, attempted = doctest.testfile(
            str(ROOT / "docs" / "api.md"),
            module_relative=False,
            optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE,
            report=True,
        )
    finally:
        os.chdir(here)
    assert attempted > 20
    assert failed == 0, f"{failed} of {attempted} examples in docs/api.md failed (see above)"
