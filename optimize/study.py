"""Studies: storage, samplers, worker processes, pruning, and the objective.

Every trial runs its design on the same replication seeds (common random numbers), so
two designs are compared on the same simulated people. A trial first runs a quarter of
its replications and reports its objective; a pruner stops designs that are clearly worse
than the trials before them at that point; the others run all their replications.
"""

from __future__ import annotations

import math
import multiprocessing
import os
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import sqlalchemy
from optuna.trial import FrozenTrial, TrialState

from optimize.space import SearchSpace
from sim.compile import compile_scenario
from sim.errors import ScenarioError
from sim.loader import apply_overrides, load_tree, to_plain, validate_tree
from sim.metrics import ReplicationResult
from sim.runner import run_replication
from sim.scenario import Scenario

SAMPLERS = ("tpe", "nsga2", "random", "qmc", "gp", "cmaes")
DONE = (TrialState.COMPLETE, TrialState.PRUNED)
Progress = Callable[[int, int, float | None], None]


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


def load_space(config: StudyConfig) -> tuple[SearchSpace, Scenario]:
    """Read the scenario from the config and build its search space."""
    tree = load_tree(config.text, source=config.source)
    origins = apply_overrides(tree, config.overrides, source=config.source)
    scenario = validate_tree(tree, source=config.source, origins=origins)
    return SearchSpace.from_tree(to_plain(tree), scenario), scenario


def run_seed(config: StudyConfig, scenario: Scenario) -> int:
    """The seed whose replications every trial runs on."""
    return scenario.seed if config.seed is None else config.seed


def replications(config: StudyConfig, scenario: Scenario) -> int:
    """How many replications a trial that is not pruned runs."""
    return scenario.replications if config.replications is None else config.replications


# --- storage and study ---------------------------------------------------------------------


def make_storage(url: str) -> optuna.storages.BaseStorage:
    """An Optuna storage from a URL (SQLite, PostgreSQL, MySQL), a journal file, or "memory".

    Server databases (PostgreSQL, MySQL) get heartbeats, so a trial whose machine died is
    marked failed after a grace period instead of staying RUNNING.
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
    if url.startswith("sqlite"):
        # one host: a killed worker's trial just stays RUNNING and is not counted as done
        storage = optuna.storages.RDBStorage(url, engine_kwargs={"connect_args": {"timeout": 60}})
        sqlalchemy.event.listen(storage.engine, "connect", _sqlite_pragmas)
        storage.engine.dispose()  # reconnect with the pragmas
        return storage
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.storages.RDBStorage(url, heartbeat_interval=10, grace_period=30)


_SCHEMA_TRIES = 5


def _sqlite_pragmas(connection: Any, _record: Any) -> None:
    """Write-ahead log without an fsync per commit.

    A trial's dozen small writes would otherwise cost more than its simulation; a killed
    process still loses nothing it committed.
    """
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def make_sampler(name: str | None, n_objectives: int, seed: int) -> optuna.samplers.BaseSampler:
    """A seeded sampler by name; the default suits the number of objectives."""
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
    if name == "cmaes":
        return optuna.samplers.CmaEsSampler(seed=seed)  # needs cmaes
    raise ValueError(f"unknown sampler '{name}'; choose one of {', '.join(SAMPLERS)}")


def open_study(config: StudyConfig, scenario: Scenario, *, worker: int = 0) -> optuna.Study:
    """Create the study, or join it if it exists (this is how a run resumes)."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    goals = scenario.objective.goals
    pruner = (
        optuna.pruners.MedianPruner(n_startup_trials=8)
        if config.prune and len(goals) == 1
        else None
    )
    study = optuna.create_study(
        storage=make_storage(config.storage),
        study_name=config.study_name,
        sampler=make_sampler(config.sampler, len(goals), run_seed(config, scenario) + worker),
        pruner=pruner or optuna.pruners.NopPruner(),
        directions=[direction for _, direction in goals],
        load_if_exists=True,
    )
    wanted = [optuna.study.StudyDirection[d.upper()] for _, d in goals]
    if list(study.directions) != wanted:
        raise ValueError(
            f"study '{config.study_name}' in {config.storage} has other objectives; "
            "use another --study name or storage"
        )
    study.set_user_attr("objective", [f"{d} {k}" for k, d in goals])
    return study


def finished(study: optuna.Study) -> int:
    """Trials that count towards the target: complete or pruned."""
    return len(study.get_trials(deepcopy=False, states=DONE))


# --- the objective --------------------------------------------------------------------------


def kpi_means(results: Sequence[ReplicationResult]) -> dict[str, float]:
    """Each KPI's mean over replications (NaN left out; infinity kept: payback never)."""
    names = results[0].kpis
    out = {}
    for name in names:
        values = np.array([r.kpis[name] for r in results], dtype=float)
        values = values[~np.isnan(values)]
        out[name] = float(values.mean()) if values.size else math.nan
    return out


def rungs(n: int) -> list[int]:
    """Replication counts at which a trial reports: a quarter, then all.

    One look only: every look costs the pruner a read of all trials, which at a few
    replications per trial costs more than a second look saves.
    """
    return sorted({min(n, max(2, n // 4)), n})


class Objective:
    """Evaluates one trial: its design on the run's replication seeds."""

    def __init__(
        self, config: StudyConfig, space: SearchSpace, scenario: Scenario, worker: int
    ) -> None:
        self.space, self.worker = space, worker
        self.seed, self.n = run_seed(config, scenario), replications(config, scenario)
        self.goals = scenario.objective.goals
        self.constraints = scenario.objective.constraints
        self.prune = config.prune and len(self.goals) == 1

    def __call__(self, trial: optuna.Trial) -> float | list[float]:
        """Run the design; report at each rung; return the objective(s)."""
        params = self.space.suggest(trial)
        trial.set_user_attr("worker", f"{os.uname().nodename}:{os.getpid()}")
        try:
            scenario = self.space.design(params)
        except ScenarioError as exc:  # values that clash with each other (not with the format)
            trial.set_user_attr("invalid", str(exc))
            raise optuna.TrialPruned(f"invalid design: {exc}") from None
        compiled = compile_scenario(scenario)
        results: list[ReplicationResult] = []
        for rung in rungs(self.n):
            results += [run_replication(compiled, self.seed, r) for r in range(len(results), rung)]
            if self.prune and rung < self.n:
                trial.report(kpi_means(results)[self.goals[0][0]], step=rung)
                if trial.should_prune():
                    raise optuna.TrialPruned()
        means = kpi_means(results)
        trial.set_user_attr("kpis", {k: _jsonable(v) for k, v in means.items()})
        for kpi, bound in self.constraints.items():
            if bound.max is not None:
                trial.set_constraint(f"{kpi}<={bound.max:g}", _finite(means[kpi] - bound.max))
            if bound.min is not None:
                trial.set_constraint(f"{kpi}>={bound.min:g}", _finite(bound.min - means[kpi]))
        values = [means[kpi] for kpi, _ in self.goals]
        return values[0] if len(values) == 1 else values


def _finite(x: float) -> float:
    """Constraint values must be numbers: an undefined KPI violates its bound."""
    if math.isnan(x) or x == math.inf:
        return 1e12
    return max(x, -1e12)


def _jsonable(x: float) -> float | None:
    return x if math.isfinite(x) else None


# --- workers -------------------------------------------------------------------------------


def work(
    config: StudyConfig,
    worker: int = 0,
    progress: Progress | None = None,
    study: optuna.Study | None = None,
) -> None:
    """Run trials of the study until it has ``config.trials`` finished ones (or time is up).

    A top-level function, so worker processes can run it; several workers, on this machine
    or others, may run it against the same storage at once. ``study`` reuses an open study
    (needed for in-memory storage) instead of joining by name.
    """
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    space, scenario = load_space(config)
    study = study or open_study(config, scenario, worker=worker)
    remaining = config.trials - finished(study)
    if remaining <= 0:
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        study.optimize(
            Objective(config, space, scenario, worker),
            n_trials=remaining,
            timeout=config.timeout,
            callbacks=[_StopAtTarget(study, config.trials, progress)],
            catch=(),
        )


class _StopAtTarget:
    """Stops the study once it holds ``target`` finished trials, and reports progress.

    Other workers (processes or machines) add trials too, so the count is read from the
    storage, once per trial: each read costs about as much as a short simulation.
    """

    def __init__(self, study: optuna.Study, target: int, progress: Progress | None) -> None:
        self.target, self.progress = target, progress
        self.best = _best_value(study)
        self.sign = 1.0 if study.directions[0] == optuna.study.StudyDirection.MAXIMIZE else -1.0
        self.single = len(study.directions) == 1

    def __call__(self, study: optuna.Study, trial: FrozenTrial) -> None:
        done = finished(study)
        if done >= self.target:
            study.stop()
        if self.single and trial.state == TrialState.COMPLETE and self._improves(trial.value):
            self.best = float(trial.value)
        if self.progress is not None:
            self.progress(min(done, self.target), self.target, self.best)

    def _improves(self, value: float | None) -> bool:
        if value is None:
            return False
        return self.best is None or self.sign * value > self.sign * self.best


def _best_value(study: optuna.Study) -> float | None:
    if len(study.directions) != 1:
        return None
    try:
        return float(study.best_value)
    except ValueError:  # no complete trial yet
        return None


def run_workers(config: StudyConfig, progress: Progress | None = None) -> optuna.Study:
    """Run the study with ``config.jobs`` workers.

    This process is worker 0 and starts at once; the other ``jobs - 1`` workers are
    processes of their own, which take a couple of seconds to start.
    """
    _, scenario = load_space(config)
    study = open_study(config, scenario)  # create it once, before workers race to
    context = multiprocessing.get_context("spawn")
    helpers = [context.Process(target=work, args=(config, i)) for i in range(1, config.jobs)]
    for proc in helpers:
        proc.start()
    try:
        work(config, 0, progress, study)
        while any(p.is_alive() for p in helpers):  # their last trials
            if progress is not None:
                progress(finished(study), config.trials, _best_value(study))
            time.sleep(0.2)
    finally:
        for proc in helpers:
            proc.join(timeout=5)
            if proc.is_alive():
                proc.terminate()
    failed = [p.exitcode for p in helpers if p.exitcode]
    if failed:
        raise RuntimeError(f"{len(failed)} worker process(es) failed (exit codes {failed})")
    return study


def default_storage(out_dir: Path) -> str:
    """The default storage: a SQLite file in the output folder."""
    out_dir.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{(out_dir / 'study.db').resolve()}"
