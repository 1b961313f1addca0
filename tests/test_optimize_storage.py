"""The study's database: a trial written by the study process is what Optuna would write."""

from __future__ import annotations

import math
import os
import sqlite3
import time
from pathlib import Path

import optuna
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.trial import TrialState, create_trial

from optimize.mirror import WRITER_SCHEMAS, Mirror, TrialWriter
from optimize.study import make_storage

DISTRIBUTIONS = {
    "funnel.core.price": FloatDistribution(90, 400),
    "channels.ads.daily_budget": FloatDistribution(100, 2000, log=True),
    "funnel.core.days": IntDistribution(1, 9),
    "variant": CategoricalDistribution(("base", "no_tripwire")),
}


def trials(objectives: int) -> list[optuna.trial.FrozenTrial]:
    """Finished trials of every kind a study stores: complete, pruned, failed; odd values."""
    params = {
        "funnel.core.price": 291.5,
        "channels.ads.daily_budget": 482.0,
        "funnel.core.days": 3,
        "variant": "no_tripwire",
    }
    out = []
    for i, value in enumerate([12.5, math.inf, -math.inf, -0.0, 3e300]):
        out.append(
            create_trial(
                state=TrialState.COMPLETE,
                values=[value] * objectives,
                params=params,
                distributions=DISTRIBUTIONS,
                user_attrs={"worker": "host:1", "kpis": {"profit": value, "cac": None}, "i": i},
                system_attrs={"constraints": [0.5, -1e12]},
                intermediate_values={2: value, 5: math.nan},
            )
        )
    out.append(
        create_trial(
            state=TrialState.PRUNED,
            params=params,
            distributions=DISTRIBUTIONS,
            user_attrs={"invalid": "funnel.core: a message — with “quotes”"},
            intermediate_values={2: -4.0},
        )
    )
    out.append(create_trial(state=TrialState.FAIL, params={}, distributions={}))
    return out


def rows(path: Path) -> dict[str, list[tuple[object, ...]]]:
    with sqlite3.connect(path) as db:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return {t: db.execute(f"SELECT * FROM {t} ORDER BY 1").fetchall() for t in tables}


def test_a_written_trial_is_the_one_optuna_writes_row_for_row(tmp_path: Path) -> None:
    for objectives in (1, 2):
        made, written = trials(objectives), {}
        for how in ("optuna", "writer"):
            path = tmp_path / f"{how}{objectives}.db"
            storage = make_storage(f"sqlite:///{path}")
            study = optuna.create_study(
                storage=storage, study_name="s", directions=["maximize"] * objectives
            )
            writer = TrialWriter(storage, storage.get_study_id_from_name("s"))
            for trial in made:
                study.add_trial(trial) if how == "optuna" else writer.write(trial)
            storage.engine.dispose()
            written[how] = rows(path)
        assert written["writer"] == written["optuna"]
        assert len(written["writer"]["trials"]) == len(made)
        back = optuna.load_study(study_name="s", storage=f"sqlite:///{path}").get_trials()
        assert [t.number for t in back] == list(range(len(back)))


def test_the_writer_is_used_only_on_the_schema_it_was_checked_against(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The installed Optuna's schema is the one compared above; another falls back to Optuna."""
    storage = make_storage(f"sqlite:///{tmp_path / 'study.db'}")
    assert storage.get_current_version() in WRITER_SCHEMAS  # else the test above checks nothing
    stored = optuna.create_study(storage=storage, study_name="s", direction="maximize")
    memory = optuna.create_study(direction="maximize")
    assert Mirror(stored, memory, "host:1", storage).writes_rows
    monkeypatch.setattr(storage, "get_current_version", lambda: "v9.9.9.z")
    fallback = Mirror(stored, optuna.create_study(direction="maximize"), "host:1", storage)
    assert not fallback.writes_rows
    fallback.store(trials(1)[0])
    assert [t.values for t in stored.get_trials()] == [[12.5]]


POSTGRES = os.environ.get("FUNNELSIM_TEST_POSTGRES")


@pytest.mark.skipif(
    not POSTGRES, reason="set FUNNELSIM_TEST_POSTGRES to a PostgreSQL URL (.ci/run does)"
)
def test_a_written_trial_reads_back_as_optunas_on_postgresql() -> None:
    assert POSTGRES is not None
    storage, made, back = make_storage(POSTGRES), trials(2), {}
    try:
        for how in ("optuna", "writer"):
            name = f"writer-{how}-{os.getpid()}-{time.time_ns()}"
            study = optuna.create_study(
                storage=storage, study_name=name, directions=["maximize"] * 2
            )
            writer = TrialWriter(storage, storage.get_study_id_from_name(name))
            for trial in made:
                study.add_trial(trial) if how == "optuna" else writer.write(trial)
            back[how] = [
                shown(t) for t in optuna.load_study(study_name=name, storage=storage).trials
            ]
    finally:
        storage.engine.dispose()
    assert back["writer"] == back["optuna"]


def shown(trial: optuna.trial.FrozenTrial) -> str:
    """Everything a trial holds but its database id (NaN equal to NaN)."""
    fields = ("number", "state", "values", "datetime_start", "datetime_complete", "params")
    more = ("distributions", "user_attrs", "system_attrs", "intermediate_values")
    return repr([getattr(trial, f) for f in (*fields, *more)])


def test_only_a_database_this_optuna_made_skips_the_second_schema_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import optimize.study

    checked: list[bool] = []
    made = optuna.storages.RDBStorage

    def recording(url: str, **kwargs: object) -> optuna.storages.RDBStorage:
        checked.append(not kwargs.get("skip_compatibility_check", False))
        return made(url, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(optimize.study.optuna.storages, "RDBStorage", recording)
    url = f"sqlite:///{tmp_path / 'study.db'}"
    make_storage(url).engine.dispose()  # type: ignore[attr-defined]
    assert checked == [False], "a new file is made here: its version is Optuna's own"
    make_storage(url).engine.dispose()  # type: ignore[attr-defined]
    assert checked == [False, True], "an existing file is checked"
    with sqlite3.connect(tmp_path / "study.db") as db:
        db.execute("UPDATE version_info SET library_version = '3.0.0'")
    db.close()
    # as if another process, of another Optuna, made the file just after the look
    monkeypatch.setattr(optimize.study, "_new_sqlite_file", lambda _url: True)
    make_storage(url).engine.dispose()  # type: ignore[attr-defined]
    assert checked == [False, True, False, True], "made by another Optuna: checked"
