"""Studies that cannot mix, samplers that do not repeat, passwords never shown, safe pages."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import optuna
import pytest
import sqlalchemy
from test_optimize import done_trials, optimize_cmd, price_spec, write_scenario

from conftest import ROOT
from optimize import StudyConfig
from optimize.study import StudyError, masked, run_workers


def sim(*cmd: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout)


def one_line(text: str) -> str:
    return " ".join(text.split())


# --- masking ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://ann:s3cret@db:5432/studies", "postgresql://ann:***@db:5432/studies"),
        ("postgresql+psycopg://ann:p%40ss@db/s", "postgresql+psycopg://ann:***@db/s"),
        (
            "mysql://root:hunter2@127.0.0.1/x?charset=utf8",
            "mysql://root:***@127.0.0.1/x?charset=utf8",
        ),
        ("sqlite://u:hunter2@/tmp/s.db", "sqlite://u:***@/tmp/s.db"),
        ("sqlite:///s.db?password=hunter2&timeout=5", "sqlite:///s.db?password=***&timeout=5"),
        ("postgresql://db/s?sslpassword=hunter2", "postgresql://db/s?sslpassword=***"),
        ("sqlite:////tmp/study.db", "sqlite:////tmp/study.db"),
        ("postgresql://ann@db/s", "postgresql://ann@db/s"),
        ("study.log", "study.log"),
        ("memory", "memory"),
    ],
)
def test_masked_hides_the_password_and_nothing_else(url: str, shown: str) -> None:
    assert masked(url) == shown


def test_a_url_that_cannot_be_read_is_refused_without_its_password(tmp_path: Path) -> None:
    scenario = write_scenario(tmp_path)
    storage = "sqlite://u:hunter2@/tmp/nowhere.db"
    proc = sim(*optimize_cmd(scenario, tmp_path / "out", "--trials", "2", "--storage", storage))
    assert proc.returncode == 2, proc.stderr
    assert "hunter2" not in proc.stdout + proc.stderr
    assert "sqlite://u:***@/tmp/nowhere.db" in proc.stderr


POSTGRES = os.environ.get("FUNNELSIM_TEST_POSTGRES")


@pytest.mark.slow
@pytest.mark.skipif(
    not POSTGRES, reason="set FUNNELSIM_TEST_POSTGRES to a PostgreSQL URL (.ci/run does)"
)
def test_a_password_is_never_in_any_output(tmp_path: Path) -> None:
    # the test server trusts loopback, so any password opens it: the point is where it shows
    assert POSTGRES is not None
    assert "@" in POSTGRES
    secret = "hunter2-do-not-show"
    user, rest = POSTGRES.split("@", 1)
    storage = f"{user}:{secret}@{rest}"
    name = f"masked-{os.getpid()}-{time.time_ns()}"
    scenario, out = write_scenario(tmp_path), tmp_path / "out"
    base = optimize_cmd(scenario, out, "--storage", storage, "--study", name)
    shown = []
    for extra in (["--trials", "4"], ["--trials", "6", "--json"]):
        proc = sim(*base, *extra)
        assert proc.returncode == 0, proc.stderr
        shown += [proc.stdout, proc.stderr]
    assert f"'{name}' in {masked(storage)}" in one_line(shown[0])
    assert json.loads(shown[2])["storage"] == masked(storage)
    # the interrupt message
    slow = write_scenario(tmp_path, replications=24)
    # more trials than 8 seconds finish, so the study is still running at the signal
    endless = ("--trials", "100000")
    proc = subprocess.Popen(
        [
            *optimize_cmd(slow, tmp_path / "o2", "--storage", storage, *endless),
            "--study",
            name + "i",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(8)
    assert proc.poll() is None, "the study ended before it could be interrupted"
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)
    assert "interrupted" in stderr, stderr
    shown += [stdout, stderr]
    # the "other objectives" error
    (tmp_path / "min.yaml").write_text(json.dumps(price_spec(objective={"minimize": "cac"})))
    proc = sim(*optimize_cmd(tmp_path / "min.yaml", out, "--storage", storage, "--study", name))
    assert proc.returncode == 2, proc.stderr
    assert "other objectives" in proc.stderr
    shown += [proc.stdout, proc.stderr]
    files = [p.read_bytes().decode("utf-8", "replace") for p in out.rglob("*") if p.is_file()]
    assert files
    for text in shown + files:
        assert secret not in text


# --- studies that cannot mix -------------------------------------------------------------------


def test_two_scenarios_with_one_file_name_do_not_share_a_study(tmp_path: Path) -> None:
    out = tmp_path / "out"
    paths = []
    for folder, price in (("a", 50), ("b", 60)):
        (tmp_path / folder).mkdir()
        spec = price_spec()
        spec["funnel"][1]["price"] = price
        (tmp_path / folder / "shop.yaml").write_text(json.dumps(spec))
        paths.append(tmp_path / folder / "shop.yaml")
    first = sim(*optimize_cmd(paths[0], out, "--trials", "4"))
    assert first.returncode == 0, first.stderr
    result = json.loads((out / "result.json").read_text())
    proc = sim(*optimize_cmd(paths[1], out, "--trials", "4"))
    assert proc.returncode == 2, proc.stderr
    message = one_line(proc.stderr)
    assert "study 'shop'" in message
    assert "scenario.funnel.o.price: 50 → 60" in message
    assert "--study NAME" in message
    assert "Traceback" not in proc.stderr
    assert json.loads((out / "result.json").read_text()) == result, "outputs left as they were"


def config(tmp_path: Path, **change: object) -> StudyConfig:
    spec = price_spec(**change.pop("spec", {}))  # type: ignore[arg-type]
    base: dict = {"storage": f"sqlite:///{tmp_path / 'study.db'}", "trials": 3, "prune": False}
    base["study_name"] = "price"
    return StudyConfig(json.dumps(spec), "price", **{**base, **change})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"seed": 4}, "seed: 3 → 4"),
        ({"replications": 6}, "replications: 4 → 6"),
        ({"overrides": ("channels.web.visitors_per_day=900",)}, "visitors_per_day: 20000 → 900"),
        ({"spec": {"objective": {"maximize": "profit"}}}, "objective.maximize"),
        ({"spec": {"search": {"funnel.o.price": {"low": 30, "high": 300}}}}, "search.search"),
    ],
)
def test_a_changed_scenario_is_not_resumed(tmp_path: Path, change: dict, named: str) -> None:
    run_workers(config(tmp_path))
    with pytest.raises(StudyError) as refused:
        run_workers(config(tmp_path, trials=6, **change))
    message = str(refused.value)
    assert named in message
    assert "--study NAME" in message
    study = optuna.load_study(study_name="price", storage=f"sqlite:///{tmp_path / 'study.db'}")
    assert len(done_trials(study)) == 3, "no trial of the changed scenario was added"


def test_the_same_scenario_resumes_with_more_trials_and_another_sampler(tmp_path: Path) -> None:
    run_workers(config(tmp_path))
    study = run_workers(config(tmp_path, trials=5, sampler="random", jobs=1))
    assert len(done_trials(study)) == 5


def test_a_study_from_before_fingerprints_is_not_joined(tmp_path: Path) -> None:
    run_workers(config(tmp_path))
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    study = optuna.load_study(study_name="price", storage=storage)
    study.set_user_attr("fingerprint", None)  # as a study from an older version has none
    with pytest.raises(StudyError, match="no record of what they ran"):
        run_workers(config(tmp_path, trials=6))


@pytest.mark.parametrize("sampler", ["tpe", "random"])
def test_a_study_stopped_in_its_first_random_trials_repeats_no_design(
    tmp_path: Path, sampler: str
) -> None:
    # Stopped after 3 trials (as a kill would leave it), then resumed to 12: the sampler's
    # first 10 trials are random draws, which must not start again from the same seed.
    run_workers(config(tmp_path, sampler=sampler))
    study = run_workers(config(tmp_path, sampler=sampler, trials=12))
    prices = [t.params["funnel.o.price"] for t in done_trials(study)]
    assert len(prices) == 12
    assert len(set(prices)) == 12, f"a design ran twice: {sorted(prices)}"


@pytest.mark.slow
def test_a_kill_in_the_first_random_trials_then_resume_repeats_no_design(tmp_path: Path) -> None:
    # Each trial takes about half a second, ten times the poll below, so it sees the count
    # climb one by one and the kill lands inside the first trials even on a loaded machine.
    scenario, out = write_scenario(tmp_path, visitors=40000, replications=24), tmp_path / "out"
    cmd = optimize_cmd(scenario, out, "--trials", "9")
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    storage = f"sqlite:///{out / 'study.db'}"
    deadline, done = time.monotonic() + 120, 0
    while time.monotonic() < deadline and proc.poll() is None and done < 2:
        if not (out / "study.db").exists():
            time.sleep(0.1)
            continue
        try:
            done = len(done_trials(optuna.load_study(study_name="price", storage=storage)))
        except (KeyError, optuna.exceptions.StorageInternalError, sqlalchemy.exc.SQLAlchemyError):
            # the command may still be creating the tables this read would create too
            done = 0
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert 2 <= done < 9, f"the kill must land in the first trials ({done} done)"
    rerun = sim(*cmd)
    assert rerun.returncode == 0, rerun.stderr
    trials = done_trials(optuna.load_study(study_name="price", storage=storage))
    prices = [t.params["funnel.o.price"] for t in trials]
    assert len(prices) == 9
    assert len(set(prices)) == 9, f"a design ran twice: {sorted(prices)}"


# --- pages and links --------------------------------------------------------------------------

HOSTILE = "<svg onload=alert(7)>"


def test_a_hostile_study_name_is_escaped_in_the_page(tmp_path: Path) -> None:
    scenario = tmp_path / f"{HOSTILE}.yaml"
    scenario.write_text(json.dumps(price_spec()))
    out = tmp_path / "out"
    proc = sim(*optimize_cmd(scenario, out, "--trials", "3"))  # the study is named after the file
    assert proc.returncode == 0, proc.stderr
    page = (out / "optimization.html").read_text(encoding="utf-8")
    assert HOSTILE not in page
    assert "&lt;svg onload=alert(7)&gt;" in page
    assert json.loads((out / "result.json").read_text())["study"] == HOSTILE
    assert HOSTILE in proc.stdout, "the terminal shows the name as it is"


def test_a_link_planted_at_study_db_is_not_followed(tmp_path: Path) -> None:
    scenario, out = write_scenario(tmp_path), tmp_path / "out"
    elsewhere = tmp_path / "elsewhere.db"
    elsewhere.write_bytes(b"")
    out.mkdir()
    (out / "study.db").symlink_to(elsewhere)
    proc = sim(*optimize_cmd(scenario, out, "--trials", "2"))
    assert proc.returncode == 2, proc.stderr
    assert "study.db is a symbolic link" in one_line(proc.stderr)
    assert elsewhere.read_bytes() == b"", "the database the link leads to is untouched"
    assert sorted(p.name for p in out.iterdir()) == ["study.db"]
