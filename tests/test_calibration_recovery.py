"""The calibration recovery study (benchmarks/calibration_recovery.py): it runs, and one case
covers the truth 90% of the time."""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "benchmarks" / "calibration_recovery.py"


def _study() -> ModuleType:
    spec = importlib.util.spec_from_file_location("calibration_recovery", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_the_study_prints_coverage_per_parameter(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [str(SCRIPT), "--case", "one_offer", "--pilots", "3", "--jobs", "1"]
    monkeypatch.setattr(sys, "argv", argv)
    _study().main()
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("one_offer (tests/data/one_offer.yaml): 3 pilots"), lines
    assert "funnel.guide.rate = 0.25 [exact]" in lines[1], lines
    assert "intervals hold it (expected 3 ± 0.5" in lines[2], lines


@pytest.mark.slow
def test_fifty_pilots_that_did_not_count_an_emailed_offers_reach_cover_its_take() -> None:
    found = _study().study("late_email", 50)
    (take,) = found
    assert take.method == "exact"
    se = math.sqrt(50 * 0.9 * 0.1)
    assert abs(take.hits - 45) <= 4 * se, f"{take.hits}/50 intervals hold {take.truth}, se {se}"
