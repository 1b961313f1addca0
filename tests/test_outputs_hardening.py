"""Output folders are sets: a manifest ties their files to one run; kills and mixes tell."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli import app
from conftest import ROOT
from sim._atomic import MANIFEST, OutputFolderError, sha256, staged_folder
from sim.run_folder import RunFolderError, read_run_folder

runner = CliRunner()
SMALL = ROOT / "tests" / "data" / "small.yaml"


def sim_run(out: Path, *args: str) -> None:
    result = runner.invoke(app, ["run", str(SMALL), "-n", "2", "--out", str(out), *args])
    assert result.exit_code == 0, result.stderr


def manifest(folder: Path) -> dict:
    return json.loads((folder / MANIFEST).read_text(encoding="utf-8"))


def assert_one_set(folder: Path) -> dict:
    """Every file is the one the manifest lists, and nothing else is there."""
    data = manifest(folder)
    assert sorted(os.listdir(folder)) == sorted([*data["files"], MANIFEST])
    for name, digest in data["files"].items():
        assert sha256(folder / name) == digest, f"{name} is not the file the manifest lists"
    return data


def staging_left(folder: Path) -> list[str]:
    return [n for n in os.listdir(folder.parent) if n.startswith(f".{folder.name}.partial-")]


# --- the manifest ---------------------------------------------------------------------------


def test_the_manifest_ties_the_files_to_the_run(tmp_path: Path) -> None:
    out = tmp_path / "run"
    sim_run(out, "--seed", "11", "--set", "funnel.course.price=59", "--report")
    data = assert_one_set(out)
    assert (data["kind"], data["seed"], data["replications"]) == ("run", 11, 2)
    assert data["scenario"] == "small test funnel"
    assert data["overrides"] == ["funnel.course.price=59"]
    assert "report.html" in data["files"], "the page is part of the same set"
    assert data["funnelsim"]
    assert staging_left(out) == []


def test_a_second_run_replaces_the_whole_set(tmp_path: Path) -> None:
    out = tmp_path / "run"
    sim_run(out, "--report")
    sim_run(out, "--seed", "123")
    data = assert_one_set(out)
    assert not (out / "report.html").exists(), "no page of the first run beside the second"
    assert data["seed"] == 123
    assert json.loads((out / "summary.json").read_text())["seed"] == 123
    result = runner.invoke(app, ["report", str(out)])
    assert result.exit_code == 0, result.stderr
    assert assert_one_set(out)["seed"] == 123
    assert "report.html" in manifest(out)["files"]


def test_sim_compare_writes_a_set(tmp_path: Path) -> None:
    out = tmp_path / "cmp"
    args = ["compare", str(SMALL), "--vs", "funnel.course.price=69", "-n", "2", "--out", str(out)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    data = assert_one_set(out)
    assert (data["kind"], data["designs"]) == ("compare", ["small", "funnel.course.price=69"])


# --- sim report refuses folders that are not one run ------------------------------------------


@pytest.fixture
def two_runs(tmp_path: Path) -> tuple[Path, Path]:
    a, b = tmp_path / "a", tmp_path / "b"
    sim_run(a)
    sim_run(b, "--seed", "123", "--events")
    return a, b


@pytest.mark.parametrize(
    ("mix", "message"),
    [
        ("summary.json", "summary.json is not the file its manifest.json lists"),
        ("events.csv", "events.csv not in its manifest.json"),
        (MANIFEST, "summary.json says seed"),
    ],
)
def test_sim_report_refuses_a_mixed_folder(
    two_runs: tuple[Path, Path], mix: str, message: str
) -> None:
    a, b = two_runs
    shutil.copyfile(b / mix, a / mix)
    if mix == MANIFEST:  # the other run's manifest over this run's data
        shutil.copyfile(b / "summary.json", a / "summary.json")
        shutil.copyfile(b / "daily.csv", a / "daily.csv")
        data = manifest(a)
        data["files"] = {n: sha256(a / n) for n in data["files"] if (a / n).exists()}
        data["seed"] = 7
        (a / MANIFEST).write_text(json.dumps(data))
    result = runner.invoke(app, ["report", str(a)])
    assert result.exit_code == 2, result.output
    assert "mixes runs" in result.stderr
    assert message in " ".join(result.stderr.split())
    assert not (a / "report.html").exists()


def test_a_folder_without_a_manifest_is_refused(two_runs: tuple[Path, Path]) -> None:
    a, _ = two_runs
    (a / MANIFEST).unlink()
    with pytest.raises(RunFolderError, match=r"no manifest\.json"):
        read_run_folder(a)


def test_a_scenario_linked_out_of_the_folder_is_not_read(two_runs: tuple[Path, Path]) -> None:
    a, _ = two_runs
    secret = a.parent / "secret.txt"
    secret.write_text("root:x:0:0:the system file\n")
    (a / "scenario.yaml").unlink()
    (a / "scenario.yaml").symlink_to(secret)
    result = runner.invoke(app, ["report", str(a)])
    assert result.exit_code == 2, result.output
    assert "outside the folder" in result.stderr
    assert not (a / "report.html").exists()
    assert secret.read_text() == "root:x:0:0:the system file\n"


# --- kills, failures and stale staging ---------------------------------------------------------


def test_a_failed_publish_leaves_the_old_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "run"
    sim_run(out)
    before = {n: (out / n).read_bytes() for n in os.listdir(out)}

    def fail(*_: object) -> None:
        raise OSError("the disk went away")

    monkeypatch.setattr("sim._atomic._publish", fail)
    result = runner.invoke(app, ["run", str(SMALL), "-n", "3", "--seed", "9", "--out", str(out)])
    assert result.exit_code == 1
    assert {n: (out / n).read_bytes() for n in os.listdir(out)} == before
    assert staging_left(out) == [], "a failed write removes its staging folder"


STAGE_AND_WAIT = """
import sys, time
from sim._atomic import staged_folder
with staged_folder(sys.argv[1], {"kind": "test", "seed": 2}) as stage:
    stage.write({"a.txt": "new a", "b.txt": "new b"})
    print("staged", flush=True)
    time.sleep(120)
"""


def stage_in_child(out: Path) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", STAGE_AND_WAIT, str(out)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "staged"
    return proc


def stop(proc: subprocess.Popen[str]) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    assert proc.stdout is not None
    proc.stdout.close()


def test_a_kill_while_staging_leaves_the_old_set_and_stale_staging_is_cleaned(
    tmp_path: Path,
) -> None:
    out = tmp_path / "out"
    with staged_folder(out, {"kind": "test", "seed": 1}) as stage:
        stage.write({"a.txt": "old a"})
    live = stage_in_child(out)  # a writer that is still at work
    killed = stage_in_child(out)
    stop(killed)
    assert assert_one_set(out)["seed"] == 1, "the old complete set"
    assert len(staging_left(out)) == 2
    with staged_folder(out, {"kind": "test", "seed": 3}) as stage:
        stage.write({"c.txt": "third"})
    assert assert_one_set(out)["seed"] == 3, "the new complete set"
    assert len(staging_left(out)) == 1, "the killed run's staging is gone, the live one kept"
    stop(live)


def test_sigkill_while_sim_run_writes_leaves_one_complete_set(tmp_path: Path) -> None:
    out = tmp_path / "run"
    sim_run(out, "--seed", "5")
    cmd = [sys.executable, "-m", "cli", "run", str(SMALL), "-n", "20", "--seed", "8"]
    cmd += ["--events", "--report", "--out", str(out)]
    seeds = []
    for delay in (0.0, 0.2, 0.6, 1.5, 3.0, 6.0):  # after the writing began
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 120
        while not staging_left(out) and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        data = assert_one_set(out)
        seeds.append(data["seed"])
        assert data["seed"] in (5, 8), f"killed {delay} s into the write"
        if data["seed"] == 8:
            break
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert assert_one_set(out)["seed"] == 8, f"seeds after each kill: {seeds}"
    assert staging_left(out) == [], "the killed runs' staging folders are cleaned"


# --- --out is checked before any work ---------------------------------------------------------


def refused_quickly(out: Path, *more: str) -> str:
    """A run that would take hours is refused at once: --out was checked first."""
    started = time.monotonic()
    result = runner.invoke(app, ["run", str(SMALL), "-n", "1000000", "--out", str(out), *more])
    assert result.exit_code == 2, result.output
    assert time.monotonic() - started < 10
    return " ".join(result.stderr.split())


def test_a_bad_out_is_refused_before_the_run(tmp_path: Path) -> None:
    file = tmp_path / "file.txt"
    file.write_text("x")
    assert "is a file, not a folder" in refused_quickly(file)
    assert "is a file" in refused_quickly(file / "sub")
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "thesis.tex").write_text("years of work")
    assert "not one output set (thesis.tex)" in refused_quickly(mine)
    assert (mine / "thesis.tex").read_text() == "years of work"


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
def test_a_read_only_place_is_refused_before_the_run(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        assert "not writable" in refused_quickly(locked / "run")
    finally:
        locked.chmod(0o700)


def test_a_folder_that_is_not_a_set_cannot_be_staged(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(OutputFolderError, match="not one output set"), staged_folder(tmp_path, {}):
        pass
