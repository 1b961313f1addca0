"""The garbage collector around the optimizer's loading and exit (optimize/collector.py)."""

from __future__ import annotations

import gc
import os
import subprocess
import sys

from conftest import ROOT
from optimize.collector import loading


def test_loading_pauses_the_collector_and_sets_what_exists_aside() -> None:
    before = gc.get_freeze_count()
    try:
        with loading():
            assert not gc.isenabled()
            made = [[] for _ in range(1000)]
        assert gc.isenabled()
        assert gc.get_freeze_count() >= before + len(made)
    finally:
        gc.unfreeze()  # the rest of the test session collects as usual


def test_an_exiting_process_calls_the_last_closers_then_skips_the_last_pass() -> None:
    code = (
        "import atexit, gc\n"
        "atexit.register(lambda: print('frozen', gc.get_freeze_count() > 0))\n"
        "from optimize.collector import skip_last_pass\n"
        "skip_last_pass(lambda: print('closed first', gc.get_freeze_count() == 0))\n"
        "skip_last_pass(lambda: print('closed', gc.get_freeze_count() == 0))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    # the second call replaced the first's closer; they run before the freeze
    assert proc.stdout.split("\n") == ["closed True", "frozen True", ""], proc.stdout
