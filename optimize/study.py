"""Studies: configuration, storage, samplers, and the run of a study.

``run_workers`` opens the stored study (or joins it), starts the simulation processes,
and runs the search loop (``optimize.search``) on an in-memory copy of the study that
is written back trial by trial (``optimize.mirror``).

A study records what its trials ran (``fingerprint``: the scenario after overrides, the
seed, the replications, the objective and the search section); a run that would add
trials of anything else to it is refused (``StudyError``). Storage URLs are shown only
through ``masked``, which hides a password.
"""

from __future__ import annotations

import json
import os
import re
import time
import weakref
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


class StudyError(ValueError):
    """The study cannot be opened as asked (other trials, a planted link); says what to do."""


def masked(url: str) -> str:
    """A storage URL as it may be shown: any password (or secret query value) hidden.

    Examples:
        >>> masked("postgresql://ann:s3cret@db.example/studies")
        'postgresql://ann:***@db.example/studies'
        >>> masked("sqlite:///study.db?password=x&timeout=5")
        'sqlite:///study.db?password=***&timeout=5'
        >>> masked("memory")
        'memory'
    """
    shown = re.sub(r"(://[^/?#@:]*):[^/?#@]*@", r"\1:***@", url)
    return re.sub(
        r"([?&](?:[^=&#]*(?:pass|pwd|secret|token|key)[^=&#]*)=)[^&#]*",
        r"\1***",
        shown,
        flags=re.IGNORECASE,
    )


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
    cluster: str | None = None  # a Dask scheduler's address: simulate there

    @classmethod
    def of_source(cls, source: ScenarioSource, **settings: Any) -> StudyConfig:
        """The config of a scenario already read (its text, name and overrides).

        The source is kept for :meth:`scenario_source`, so this process does not read
        the text again.
        """
        config = cls(source.text, source.source, source.overrides, **settings)
        _remember(_SOURCES, config._key, source)
        return config

    def scenario_source(self) -> ScenarioSource:
        """The scenario file's text with the overrides applied (validated when first asked).

        Read once per process: a source is immutable, so every caller shares it.
        """
        source = _SOURCES.get(self._key)
        if source is None:
            source = ScenarioSource.from_text(self.text, source=self.source)
            source = _remember(_SOURCES, self._key, source.with_overrides(self.overrides))
        return source

    @property
    def _key(self) -> tuple[str, str, tuple[str, ...]]:
        return self.text, self.source, self.overrides


# What this process has read of a few configs' scenarios (the study and the re-evaluation
# ask for the same one): reading and validating a scenario costs as much as a few trials.
_SOURCES: dict[tuple[str, str, tuple[str, ...]], ScenarioSource] = {}
_SPACES: dict[tuple[str, str, tuple[str, ...]], SearchSpace] = {}
_KEPT = 4


def _remember(cache: dict[Any, Any], key: Any, value: Any) -> Any:
    if len(cache) >= _KEPT and key not in cache:
        del cache[next(iter(cache))]
    cache[key] = value
    return value


def load_space(config: StudyConfig) -> tuple[SearchSpace, Scenario]:
    """Read the scenario from the config and build its search space (once per process)."""
    space: SearchSpace | None = _SPACES.get(config._key)
    if space is None:
        space = _remember(_SPACES, config._key, SearchSpace.of(config.scenario_source()))
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
            storage = _rdb_storage(url)
            _ENGINES.add(storage.engine)
            return storage
        except sqlalchemy.exc.ArgumentError:  # its message would repeat the URL
            raise StudyError(f"cannot read the storage URL {masked(url)}") from None
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
    new = _new_sqlite_file(url)
    # several processes may write to one file: wait for the lock rather than fail
    storage = optuna.storages.RDBStorage(
        url, engine_kwargs={"connect_args": {"timeout": 60}}, skip_compatibility_check=new
    )
    if new and not _made_by_this_optuna(storage):  # another process made it meanwhile
        storage.engine.dispose()
        storage = optuna.storages.RDBStorage(url, engine_kwargs=storage.engine_kwargs)
    sqlalchemy.event.listen(storage.engine, "connect", _sqlite_pragmas)
    storage.engine.dispose()  # reconnect with the pragmas
    return storage


# The databases this process opened, for close_databases.
_ENGINES: weakref.WeakSet[sqlalchemy.engine.Engine] = weakref.WeakSet()


def close_databases() -> None:
    """Close the pooled connections of the databases this process opened (``make_storage``).

    For a process about to exit without a last garbage collection
    (:func:`optimize.collector.skip_last_pass`), which would have closed them: closing its
    last connection is when SQLite folds the write-ahead log back into the database and
    removes the log's files, and a server sees the session end rather than the socket
    drop. A database used again reconnects.
    """
    for engine in list(_ENGINES):
        engine.dispose()


_SCHEMA_TRIES = 5


def _new_sqlite_file(url: str) -> bool:
    """Whether a storage URL names a SQLite file that does not exist yet (so holds no study).

    Optuna makes the tables of a new database and stamps them with its schema's version,
    reading its ~30 migration scripts; checking that version against its own then reads
    them again (about 30 ms). A database this process makes needs no such check.
    """
    if not url.startswith("sqlite"):
        return False
    try:
        database = sqlalchemy.engine.make_url(url).database
    except sqlalchemy.exc.ArgumentError:  # make_storage says what is wrong with it
        return False
    if not database or database == ":memory:":
        return False
    return not Path(database).exists()


def _made_by_this_optuna(storage: optuna.storages.RDBStorage) -> bool:
    """Whether the installed Optuna made the database's tables (so its schema is ours)."""
    select = sqlalchemy.text("SELECT library_version FROM version_info")
    with storage.engine.connect() as connection:
        made_by = connection.execute(select).scalar_one_or_none()
    return bool(made_by == optuna.__version__)


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


def open_study(
    config: StudyConfig,
    scenario: Scenario,
    *,
    worker: str = "",
    storage: optuna.storages.BaseStorage | None = None,
) -> optuna.Study:
    """Create the stored study, or join it if it exists (this is how a run resumes).

    A new study records the ``fingerprint`` of what its trials run; joining one checks it.
    ``storage``: the storage of ``config.storage``, if already made.

    Raises:
        StudyError: a study of that name exists with other objectives, or its trials ran
            another scenario, seed, number of replications, objective or search.
    """
    goals = scenario.objective.goals
    study = optuna.create_study(
        storage=storage or make_storage(config.storage),
        study_name=config.study_name,
        load_if_exists=True,
        **_study_kwargs(config, scenario, worker),
    )
    wanted = [optuna.study.StudyDirection[d.upper()] for _, d in goals]
    if list(study.directions) != wanted:
        raise StudyError(
            f"study '{config.study_name}' in {masked(config.storage)} has other objectives; "
            f"{_NEW_STUDY}"
        )
    _check_fingerprint(study, config, fingerprint(config, scenario))
    study.set_user_attr("objective", [f"{d} {k}" for k, d in goals])
    return study


_NEW_STUDY = (
    "to start a new study, give it another name (--study NAME) or another place "
    "(--out DIR or --storage URL)"
)


def fingerprint(config: StudyConfig, scenario: Scenario) -> dict[str, Any]:
    """What every trial of the study runs, as JSON-ready data.

    The scenario after overrides (its name and description aside), the seed and the
    replications a trial runs, the objective with its constraints, and the search section
    with its variants. The target number of trials, the sampler, pruning and the worker
    processes may change between runs of one study.
    """
    tree = scenario.model_dump(mode="json")
    for key in ("name", "description", "seed", "replications"):
        tree.pop(key, None)
    search = {"search": tree.pop("search"), "variants": tree.pop("variants")}
    objective = tree.pop("objective")
    data = {
        "scenario": tree,
        "seed": run_seed(config, scenario),
        "replications": replications(config, scenario),
        "objective": objective,
        "search": search,
    }
    stored: dict[str, Any] = json.loads(json.dumps(data, sort_keys=True))  # as storage gives it
    return stored


def _check_fingerprint(study: optuna.Study, config: StudyConfig, ours: dict[str, Any]) -> None:
    """Record the fingerprint in a new study; refuse to join a study of something else."""
    theirs = study.user_attrs.get("fingerprint")
    where = f"study '{config.study_name}' in {masked(config.storage)}"
    if theirs is None:
        done = finished(study)
        if done:
            raise StudyError(
                f"{where} has {done} trials but no record of what they ran (an older "
                f"version wrote them), so they cannot be told from this run's; {_NEW_STUDY}"
            )
        study.set_user_attr("fingerprint", ours)
        return
    changes = _differences(theirs, ours)
    if changes:
        shown = "; ".join(changes[:6]) + ("; …" if len(changes) > 6 else "")
        raise StudyError(
            f"{where} holds trials of something else, which would mix with this run's: "
            f"{shown}. To resume it, run it as it was; {_NEW_STUDY}"
        )


def _differences(old: Any, new: Any, path: str = "") -> list[str]:
    """Where two fingerprints differ, as ``path: old → new`` lines (steps by their id)."""
    old, new = _by_id(old), _by_id(new)
    if isinstance(old, dict) and isinstance(new, dict):
        out = []
        for key in sorted(set(old) | set(new), key=str):
            sub = f"{path}.{key}" if path else str(key)
            out += _differences(old.get(key), new.get(key), sub)
        return out
    if old == new:
        return []
    return [f"{path}: {_short(old)} → {_short(new)}"]


def _by_id(value: Any) -> Any:
    """A list of steps as a mapping by id, so a difference names the step as paths do."""
    if isinstance(value, list) and all(isinstance(v, dict) and "id" in v for v in value):
        return {v["id"]: v for v in value}
    return value


def _short(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # 50, as it was written, not 50.0
    text = "(none)" if value is None else json.dumps(value, sort_keys=True)
    return text if len(text) <= 60 else text[:57] + "…"


def _study_kwargs(
    config: StudyConfig, scenario: Scenario, worker: str, done: int = 0
) -> dict[str, Any]:
    """Sampler, pruner and directions of a study of this scenario (``done`` trials stored)."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    goals = scenario.objective.goals
    pruner = (
        optuna.pruners.MedianPruner(n_startup_trials=8)
        if config.prune and len(goals) == 1
        else optuna.pruners.NopPruner()
    )
    return {
        "sampler": make_sampler(
            config.sampler, len(goals), sampler_seed(config, scenario, worker, done)
        ),
        "pruner": pruner,
        "directions": [direction for _, direction in goals],
    }


def sampler_seed(config: StudyConfig, scenario: Scenario, worker: str, done: int = 0) -> int:
    """The run seed, mixed with the process's name on a server database, and on resume.

    Processes on other machines join a study on a server database, and equal seeds would
    propose the same designs. A run that resumes a study with ``done`` finished trials
    would, from the run seed, propose the first run's designs again (its first trials are
    random draws from that seed); so the seed moves on with ``done``. A new study in a
    file or in memory keeps the run seed, so it is reproducible, and so is each resume.
    """
    seed = run_seed(config, scenario)
    if config.storage.startswith(_SERVERS):
        seed += zlib.crc32(worker.encode())
    if done:
        seed += zlib.crc32(f"resumed after {done} trials".encode())
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
    pool = pool or Pool(config.jobs, config.cluster)
    try:
        space, scenario = load_space(config)
        worker = f"{os.uname().nodename}:{os.getpid()}"
        n = replications(config, scenario)
        plan = Plan.of(scenario, run_seed(config, scenario), n, config.prune, worker)
        if _new_sqlite_file(config.storage):
            # Nothing is stored yet: queue the first trials, then make the database (a
            # quarter of a second) while the simulation processes run them.
            memory = _memory_study(config, scenario, worker, 0)

            def opening() -> Mirror:
                storage = make_storage(config.storage)
                stored = open_study(config, scenario, worker=worker, storage=storage)
                return Mirror(stored, memory, worker, storage)

            early = Search(opening, space, plan, pool, progress, memory)
            early.run(config.trials, config.timeout)
            return early.mirror.stored
        storage = make_storage(config.storage)
        stored = open_study(config, scenario, worker=worker, storage=storage)
        memory = stored
        if config.storage != "memory":
            memory = _memory_study(config, scenario, worker, finished(stored))
        search = Search(Mirror(stored, memory, worker, storage), space, plan, pool, progress)
        search.run(config.trials, config.timeout)
    finally:
        if own:
            pool.close()
    return stored


def _memory_study(config: StudyConfig, scenario: Scenario, worker: str, done: int) -> optuna.Study:
    """The in-memory copy the sampler reads, for a stored study of ``done`` finished trials."""
    return optuna.create_study(
        storage=optuna.storages.InMemoryStorage(),
        **_study_kwargs(config, scenario, worker, done),
    )


def default_storage(out_dir: Path) -> str:
    """The default storage: a SQLite file in the output folder.

    Raises:
        StudyError: ``study.db`` (or its log) is a symbolic link: it would lead the study,
            and its writes, to a database somewhere else.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    for name in ("study.db", "study.db-wal", "study.db-shm", "study.db-journal"):
        if (out_dir / name).is_symlink():
            raise StudyError(
                f"{out_dir / name} is a symbolic link (to {os.readlink(out_dir / name)}); "
                "the study's database must be a file of the output folder: remove the "
                "link, or name a database with --storage"
            )
    return f"sqlite:///{(out_dir / 'study.db').resolve()}"
