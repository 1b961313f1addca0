"""The simulation pool: same results in any process, failures reported, no process left over."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import sim
from conftest import ROOT
from optimize.pool import Pool, replication_kpis

QUICKSTART = ROOT / "scenarios" / "quickstart.yaml"


def pid(_: int) -> int:
    """Which process ran the call."""
    return os.getpid()


def boom(_: int) -> None:
    """A call that fails."""
    raise ValueError("a bug in a step")


def test_replications_give_the_same_kpis_whichever_process_runs_them() -> None:
    designs = [
        (
            price,
            sim.prepare(sim.load_scenario(QUICKSTART, overrides=[f"funnel.course.price={price}"])),
        )
        for price in (29, 99)
    ]
    runs, pids = {}, []
    for jobs in (1, 2):
        with Pool(jobs) as pool:
            # the first calls queued go to the spawned process at once; this one runs the rest
            calls = [pool.submit(pid, i) for i in range(4)]
            calls += [
                pool.submit(replication_kpis, 7, r, design=d) for d in designs for r in range(3)
            ]
            results = pool.collect(calls)
            pids, runs[jobs] = results[:4], results[4:]
    assert runs[2] == runs[1]
    assert runs[1][0] != runs[1][1]  # replications differ, so equality means something
    assert runs[1][0] != runs[1][3]  # and so do designs
    assert any(p != os.getpid() for p in pids), "the spawned process ran nothing"


def test_a_failure_in_a_spawned_process_is_raised_here() -> None:
    with Pool(2) as pool:
        ticket = pool.submit(boom, 0)  # handed to the spawned process at once
        with pytest.raises(RuntimeError, match="ValueError: a bug in a step"):
            pool.collect([ticket])


@pytest.mark.slow
def test_spawned_processes_leave_when_the_study_process_is_killed(tmp_path: Path) -> None:
    script = tmp_path / "study.py"
    script.write_text(
        "import sys, time\n"
        "from optimize.pool import Pool\n"
        "from test_optimize_pool import pid\n"
        "if __name__ == '__main__':\n"
        "    pool = Pool(3)\n"
        "    print(*pool.collect([pool.submit(pid, i) for i in range(4)]), flush=True)\n"
        "    time.sleep(60)\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "tests")])}
    with subprocess.Popen(
        [sys.executable, str(script)], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True
    ) as proc:
        assert proc.stdout is not None
        children = {int(p) for p in proc.stdout.readline().split()} - {proc.pid}
        assert children, "no spawned process ran a call"
        proc.send_signal(signal.SIGKILL)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and any(_alive(p) for p in children):
        time.sleep(0.1)
    assert not any(_alive(p) for p in children), "a simulation process outlived its study"


def _alive(pid: int) -> bool:
    """Running (a zombie, waiting for its exit to be read, has finished)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "State:\tZ" not in status
