"""The stored study and the in-memory copy the sampler reads.

Samplers and pruners read every trial of the study once or more per trial. Read from a
database, that costs more than a short simulation (each read reloads the running trials
with all their attributes). So the study process keeps the study in memory, where those
reads are free, and writes each trial to the storage once, whole, when it finishes:
one transaction per trial. The storage holds every finished trial as it goes, which is
what resuming needs; a trial still running when the process dies is simply not there.

Other processes (other machines) may write to the same stored study. Their finished
trials are copied into memory, so the sampler learns from them and the study stops when
the stored study, theirs and ours together, reaches its target. Alone, a process looks
for them every few trials or once a second, whichever comes first (a look reads back its
own new trials too, unless a count of the database's finished trials shows nothing new);
once it has seen another process's trial, it looks before every trial it starts, so that
together they stop near the target, not well past it.

On a database (``optuna.storages.RDBStorage``) a trial is written as Optuna's own
``add_trial`` writes it, row for row, but as a few plain inserts in one transaction
(:class:`TrialWriter`): the ORM's per-value reads and bookkeeping cost the study
process about ten times as much, on the core the simulation needs.
"""

from __future__ import annotations

import datetime
import json
import math
import time
from typing import Any

import optuna
import sqlalchemy
from optuna.distributions import distribution_to_json
from optuna.storages._rdb import models
from optuna.trial import FrozenTrial, TrialState

DONE = (TrialState.COMPLETE, TrialState.PRUNED)
# The versions of Optuna's database schema that TrialWriter writes row for row as Optuna
# does (tests/test_optimize_storage.py compares the two). A database of any other
# version (a newer Optuna's) is written through Optuna's own add_trial.
WRITER_SCHEMAS = frozenset({"v3.2.0.a"})
# How often a process alone looks for other processes' trials.
_SYNC_SECONDS = 1.0
_SYNC_TRIALS = 4


class Mirror:
    """Keeps a stored study and its in-memory copy in step."""

    def __init__(
        self,
        stored: optuna.Study,
        memory: optuna.Study,
        worker: str,
        storage: optuna.storages.BaseStorage | None = None,
    ) -> None:
        """Copy the stored study's finished trials into memory (this is how a run resumes).

        Args:
            stored: the study in its storage.
            memory: an empty in-memory study with the same directions.
            worker: the ``worker`` user attribute of the trials this process writes.
            storage: the storage ``stored`` was opened on; a database of a schema in
                :data:`WRITER_SCHEMAS` is written to by a :class:`TrialWriter`, any other
                through Optuna.
        """
        self.stored, self.memory, self.worker = stored, memory, worker
        self._writer: TrialWriter | None = None
        if isinstance(storage, optuna.storages.RDBStorage) and stored is not memory:
            self._writer = _writer_for(storage, stored.study_name)
        self._known: set[int] = set()  # stored trial numbers already in memory
        self._synced = -math.inf  # the first look is never too soon
        self._shared = False  # another process has written to the study
        self._stored = 0  # trials stored since the last look
        self._done = -1  # on a database: its finished trials, as far as this process knows
        self.sync(force=True)

    @property
    def writes_rows(self) -> bool:
        """Whether trials are stored by a :class:`TrialWriter` (else by Optuna)."""
        return self._writer is not None

    def store(self, trial: FrozenTrial) -> None:
        """Write a finished trial to the storage, in one transaction."""
        if self.stored is self.memory:
            return
        if self._writer is not None:
            self._writer.write(trial)
            self._done += trial.state in DONE
        else:
            self.stored.add_trial(trial)
        self._stored += 1

    def sync(self, *, force: bool = False) -> None:
        """Copy into memory the finished trials other processes stored since the last look."""
        if self.stored is self.memory:
            return
        now = time.monotonic()
        due = now - self._synced >= _SYNC_SECONDS or self._stored >= _SYNC_TRIALS
        if not (force or self._shared or due):
            return
        self._synced, self._stored = now, 0
        if self._writer is not None:
            # counting is cheap; reading every new trial back (ours too) is not. Counted
            # before the read: a trial stored in between is read again next time.
            done = self._writer.finished()
            if done == self._done:
                return
            self._done = done
        for trial in self.stored.get_trials(deepcopy=False, states=DONE):
            if trial.number in self._known:
                continue
            self._known.add(trial.number)
            if force or trial.user_attrs.get("worker") != self.worker:
                self.memory.add_trial(trial)
                self._shared = self._shared or not force


def _writer_for(storage: optuna.storages.RDBStorage, study: str) -> TrialWriter | None:
    """A writer for the study, if the database's schema is one it was checked against."""
    if storage.get_current_version() not in WRITER_SCHEMAS:
        return None
    return TrialWriter(storage, storage.get_study_id_from_name(study))


class TrialWriter:
    """Writes finished trials to an Optuna database as ``Study.add_trial`` does, but cheaply.

    The same rows with the same values (tests compare the two databases), in one
    transaction per trial: the trial (numbered by the trials before it, the study's row
    locked meanwhile as Optuna locks it), then its values, parameters, attributes and
    intermediate values, each table in one insert. The tables are Optuna's own
    definitions, so the columns are those of the installed version's schema.
    """

    def __init__(self, storage: optuna.storages.RDBStorage, study_id: int) -> None:
        """Args: the database, and the id of the study the trials belong to."""
        self.engine, self.study_id = storage.engine, study_id
        self._studies = models.StudyModel.__table__
        self._trials = models.TrialModel.__table__
        self._values = models.TrialValueModel.__table__
        self._params = models.TrialParamModel.__table__
        self._user = models.TrialUserAttributeModel.__table__
        self._system = models.TrialSystemAttributeModel.__table__
        self._steps = models.TrialIntermediateValueModel.__table__

    def write(self, trial: FrozenTrial) -> None:
        """Store a finished trial, whole, in one transaction."""
        trials = self._trials
        with self.engine.begin() as conn:
            study = self._studies.c.study_id == self.study_id
            conn.execute(sqlalchemy.select(self._studies.c.study_id).where(study).with_for_update())
            row = {
                "number": None,
                "study_id": self.study_id,
                "state": trial.state,
                "datetime_start": _utc(trial.datetime_start),
                "datetime_complete": _utc(trial.datetime_complete),
            }
            inserted = conn.execute(trials.insert(), row).inserted_primary_key
            assert inserted is not None  # an insert of one row has its key
            trial_id = inserted[0]
            before = sqlalchemy.select(sqlalchemy.func.count(trials.c.trial_id)).where(
                trials.c.study_id == self.study_id, trials.c.trial_id < trial_id
            )
            number = before.scalar_subquery()
            conn.execute(trials.update().where(trials.c.trial_id == trial_id).values(number=number))
            for table, rows in self._rows(trial, trial_id):
                if rows:
                    conn.execute(table.insert(), rows)

    def finished(self) -> int:
        """How many of the study's trials are finished (complete or pruned)."""
        trials = self._trials
        count = sqlalchemy.select(sqlalchemy.func.count(trials.c.trial_id)).where(
            trials.c.study_id == self.study_id, trials.c.state.in_(DONE)
        )
        with self.engine.connect() as conn:
            return int(conn.execute(count).scalar_one())

    def _rows(self, trial: FrozenTrial, trial_id: int) -> list[tuple[Any, list[dict[str, Any]]]]:
        value_repr = models.TrialValueModel.value_to_stored_repr
        step_repr = models.TrialIntermediateValueModel.intermediate_value_to_stored_repr
        values = []
        for objective, value in enumerate(trial.values or ()):
            stored, kind = value_repr(value)
            values.append({"objective": objective, "value": stored, "value_type": kind})
        params = [
            {
                "param_name": name,
                "param_value": trial.distributions[name].to_internal_repr(value),
                "distribution_json": distribution_to_json(trial.distributions[name]),
            }
            for name, value in trial.params.items()
        ]
        steps = []
        for step, value in trial.intermediate_values.items():
            kept, step_kind = step_repr(value)
            steps.append(
                {"step": step, "intermediate_value": kept, "intermediate_value_type": step_kind}
            )
        tables: list[tuple[Any, list[dict[str, Any]]]] = [
            (self._values, values),
            (self._params, params),
            (self._user, _attrs(trial.user_attrs)),
            (self._system, _attrs(trial.system_attrs)),
            (self._steps, steps),
        ]
        return [(table, [{"trial_id": trial_id, **r} for r in rows]) for table, rows in tables]


def _attrs(attrs: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"key": key, "value_json": json.dumps(value)} for key, value in attrs.items()]


def _utc(moment: datetime.datetime | None) -> datetime.datetime | None:
    """A local time as the database keeps it: naive UTC."""
    if moment is None:
        return None
    return moment.astimezone(datetime.UTC).replace(tzinfo=None)
