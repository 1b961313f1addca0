"""Studies: configuration, storage, samplers, and the run of a study.

``run_workers`` opens the stored study (or joins it), starts the simulation processes,
and runs the search loop (``optimize.search``) on an in-memory copy of the study that
is written back trial by trial (``optimize.mirror``).
"""

from __future__ import annotations

import os
import time
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
import optuna.storages.journal
import sqlalchemy

from optimize.mirror import DONE, Mirror
from optimize.pool import Pool
from optimize.search import Plan, Progress, Search
from optimize.space import SearchSpace
from sim import Scenario, ScenarioSource

SAMPLERS = ("tpe", "nsga2", "random", "qmc", "gp", "cmaes")


@dataclass(frozen=True)
class StudyConfig:
    """Everything a worker needs to join a study; plain data, so it crosses processes."""

    text: str  # the scenario file's text
    source: str  # its name, for messages
    overrides: tuple[str, ...] = ()
    storage: str = "sqlite:///study.db"
    study_name: str = "funnelsim"
    sampler: str | None = None  # None: TPE for one objective, NSGA-II for several
    seed: int | None = None  # default: the scenario's seed
    replications: int | None = None  # default: the scenario's replications
    trials: int = 100
    timeout: float | None = None
    prune: bool = True
    jobs: int = 1

    def scenario_source(self) -> ScenarioSource:
        """The scenario file's text with the overrides applied (not yet validated)."""
        return ScenarioSource.from_text(self.text, source=self.source).with_overrides(
            self.overrides
        )


def load_space(config: StudyConfig) -> tuple[SearchSpace, Scenario]:
    """Read the scenario from the config and build its search space."""
    space = SearchSpace.of(config.scenario_source())
    return space, space.scenario


def run_seed(config: StudyConfig, scenario: Scenario) -> int:
    """The seed whose replications every trial runs on."""
    return scenario.seed if config.seed is None else config.seed


def replications(config: StudyConfig, scenario: Scenario) -> int:
    """How many replications a trial that is not pruned runs."""
    return scenario.replications if config.replications is None else config.replications


# --- storage and study ---------------------------------------------------------------------


def make_storage(url: str) -> optuna.storages.BaseStorage:
    """An Optuna storage from a URL (SQLite, PostgreSQL, MySQL), a journal file, or "memory".

    Trials are written to it when they finish (``optimize.mirror``), so none is ever left
    RUNNING by a process that died, and no heartbeat is needed.
    """
    if url == "memory":  # one process only; nothing kept
        return optuna.storages.InMemoryStorage()
    if url.endswith((".log", ".journal")) and "://" not in url:
        backend = optuna.storages.journal.JournalFileBackend(url)
        return optuna.storages.JournalStorage(backend)
    for attempt in range(_SCHEMA_TRIES):
        try:
            return _rdb_storage(url)
        except sqlalchemy.exc.DBAPIError as exc:
            # Processes that open an empty database together (workers, a dashboard) race
            # to create Optuna's tables; the loser finds them half-made. Wait and join.
            # Anything else (a wrong URL, a server that is down) fails at once.
            if not _schema_race(exc) or attempt == _SCHEMA_TRIES - 1:
                raise
            time.sleep(0.5 * (attempt + 1))
    raise AssertionError("unreachable")


def _schema_race(exc: sqlalchemy.exc.DBAPIError) -> bool:
    if isinstance(exc, sqlalchemy.exc.IntegrityError | sqlalchemy.exc.ProgrammingError):
        return True
    return any(text in str(exc) for text in ("already exists", "database is locked"))


def _rdb_storage(url: str) -> optuna.storages.RDBStorage:
    if not url.startswith("sqlite"):
        return optuna.storages.RDBStorage(url)
    # several processes may write to one file: wait for the lock rather than fail
    storage = optuna.storages.RDBStorage(url, engine_kwargs={"connect_args": {"timeout": 60}})
    sqlalchemy.event.listen(storage.engine, "connect", _sqlite_pragmas)
    storage.engine.dispose()  # reconnect with the pragmas
    return storage


_SCHEMA_TRIES = 5


def _sqlite_pragmas(connection: Any, _record: Any) -> None:
    """Write-ahead log without an fsync per commit.

    A trial's writes would otherwise cost more than its simulation; a killed process
    still loses nothing it committed.
    """
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def make_sampler(name: str | None, n_objectives: int, seed: int) -> optuna.samplers.BaseSampler:
    """A seeded sampler by name; the default suits the number of objectives.

    Raises:
        ValueError: no sampler of that name.
    """
    check_sampler(name)
    name = name or ("tpe" if n_objectives == 1 else "nsga2")
    if name == "tpe":
        return optuna.samplers.TPESampler(seed=seed, multivariate=True)
    if name == "nsga2":
        return optuna.samplers.NSGAIISampler(seed=seed)
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if name == "qmc":
        return optuna.samplers.QMCSampler(seed=seed)
    if name == "gp":
        return optuna.samplers.GPSampler(seed=seed)  # needs torch
    return optuna.samplers.CmaEsSampler(seed=seed)  # needs cmaes


def check_sampler(name: str | None) -> None:
    """Refuse a sampler name that is not one of ``SAMPLERS`` (None: the default).

    Raises:
        ValueError: the name, and the names to choose from.
    """
    if name is not None and name not in SAMPLERS:
        raise ValueError(f"unknown sampler '{name}'; choose one of {', '.join(SAMPLERS)}")


def open_study(config: StudyConfig, scenario: Scenario, *, worker: str = "") -> optuna.Study:
    """Create the stored study, or join it if it exists (this is how a run resumes).

    Raises:
        ValueError: a study of that name exists with other objectives.
    """
    goals = scenario.objective.goals
    study = optuna.create_study(
        storage=make_storage(config.storage),
        study_name=config.study_name,
        load_if_exists=True,
        **_study_kwargs(config, scenario, worker),
    )
    wanted = [optuna.study.StudyDirection[d.upper()] for _, d in goals]
    if list(study.directions) != wanted:
        raise ValueError(
            f"study '{config.study_name}' in {config.storage} has other objectives; "
            "use another --study name or storage"
        )
    study.set_user_attr("objective", [f"{d} {k}" for k, d in goals])
    return study


def _study_kwargs(config: StudyConfig, scenario: Scenario, worker: str) -> dict[str, Any]:
    """Sampler, pruner and directions of a study of this scenario."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    goals = scenario.objective.goals
    pruner = (
        optuna.pruners.MedianPruner(n_startup_trials=8)
        if config.prune and len(goals) == 1
        else optuna.pruners.NopPruner()
    )
    return {
        "sampler": make_sampler(config.sampler, len(goals), sampler_seed(config, scenario, worker)),
        "pruner": pruner,
        "directions": [direction for _, direction in goals],
    }


def sampler_seed(config: StudyConfig, scenario: Scenario, worker: str) -> int:
    """The run seed; on a server database, mixed with the process's name.

    Processes on other machines join a study on a server database, and equal seeds would
    propose the same designs. A file or memory study run by one process keeps the run
    seed, so it is reproducible.
    """
    seed = run_seed(config, scenario)
    if config.storage.startswith(_SERVERS):
        seed += zlib.crc32(worker.encode())
    return seed % 2**32


_SERVERS = ("postgresql", "mysql")


def finished(study: optuna.Study) -> int:
    """Trials that count towards the target: complete or pruned."""
    return len(study.get_trials(deepcopy=False, states=DONE))


# --- the run ----------------------------------------------------------------------------


def run_workers(
    config: StudyConfig, progress: Progress | None = None, pool: Pool | None = None
) -> optuna.Study:
    """Run (or resume) the study: this process samples and stores, ``jobs`` processes simulate.

    Args:
        config: the scenario, storage, sampler, trials and workers.
        progress: called as ``progress(finished, target, best_value)`` as trials finish.
        pool: where to simulate (default: a pool of ``config.jobs``, closed at the end).

    Returns:
        The stored study (for storage "memory", the in-memory one).
    """
    own = pool is None
    pool = pool or Pool(config.jobs)
    try:
        space, scenario = load_space(config)
        worker = f"{os.uname().nodename}:{os.getpid()}"
        stored = open_study(config, scenario, worker=worker)
        memory = stored
        if config.storage != "memory":
            memory = optuna.create_study(
                storage=optuna.storages.InMemoryStorage(), **_study_kwargs(config, scenario, worker)
            )
        n = replications(config, scenario)
        plan = Plan.of(scenario, run_seed(config, scenario), n, config.prune, worker)
        search = Search(Mirror(stored, memory, worker), space, plan, pool, progress)
        search.run(config.trials, config.timeout)
    finally:
        if own:
            pool.close()
    return stored


def default_storage(out_dir: Path) -> str:
    """The default storage: a SQLite file in the output folder."""
    out_dir.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{(out_dir / 'study.db').resolve()}"
