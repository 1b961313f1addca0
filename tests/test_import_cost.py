"""Importing ``sim`` and checking a scenario leave the heavy libraries unimported.

Mesa, pandas, scipy, plotly, optuna, sqlalchemy and dask take most of a command's
start-up; only running, reporting and optimizing need them, so every command that only
reads a scenario (and every ``import sim``) would pay for nothing. A behaviour check, not a
timing: each case starts a fresh interpreter and lists the modules it loaded.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from conftest import ROOT

HEAVY = ("mesa", "pandas", "scipy", "plotly", "optuna", "sqlalchemy", "dask")

# run the code, then print (as the last line) the heavy libraries it left in sys.modules
_REPORT = f"""
import json, sys
heavy = sorted({{m.split(".")[0] for m in sys.modules}} & set({HEAVY!r}))
print(json.dumps(heavy))
"""

_CLI = """
import runpy, sys
sys.argv = ["sim", *{args!r}]
try:
    runpy.run_module("cli", run_name="__main__")
except SystemExit as exc:
    assert exc.code in (0, None), exc.code
"""

CASES = {
    "import sim": "import sim",
    "load_scenario": "import sim; sim.load_scenario('scenarios/quickstart.yaml')",
    "sim validate": _CLI.format(args=["validate", "scenarios/quickstart.yaml"]),
    "sim schema": _CLI.format(args=["schema"]),
}


@pytest.mark.parametrize("code", CASES.values(), ids=CASES.keys())
def test_reading_a_scenario_imports_no_heavy_library(code: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", code + _REPORT],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    loaded = json.loads(done.stdout.splitlines()[-1])
    assert loaded == [], (
        f"{loaded} imported: import them inside the function that needs them "
        "(scipy.special's functions: from sim._special)"
    )


def test_the_check_sees_a_heavy_import() -> None:
    code = "import sim; sim.run_scenario"  # a name of the engine: it needs mesa and pandas
    done = subprocess.run(
        [sys.executable, "-c", code + _REPORT], cwd=ROOT, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert {"mesa", "pandas"} <= set(json.loads(done.stdout.splitlines()[-1]))
