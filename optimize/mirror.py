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
own new trials too); once it has seen another process's trial, it looks before every
trial it starts, so that together they stop near the target, not well past it.
"""

from __future__ import annotations

import math
import time

import optuna
from optuna.trial import FrozenTrial, TrialState

DONE = (TrialState.COMPLETE, TrialState.PRUNED)
# How often a process alone looks for other processes' trials.
_SYNC_SECONDS = 1.0
_SYNC_TRIALS = 4


class Mirror:
    """Keeps a stored study and its in-memory copy in step."""

    def __init__(self, stored: optuna.Study, memory: optuna.Study, worker: str) -> None:
        """Copy the stored study's finished trials into memory (this is how a run resumes).

        Args:
            stored: the study in its storage.
            memory: an empty in-memory study with the same directions.
            worker: the ``worker`` user attribute of the trials this process writes.
        """
        self.stored, self.memory, self.worker = stored, memory, worker
        self._known: set[int] = set()  # stored trial numbers already in memory
        self._synced = -math.inf  # the first look is never too soon
        self._shared = False  # another process has written to the study
        self._stored = 0  # trials stored since the last look
        self.sync(force=True)

    def store(self, trial: FrozenTrial) -> None:
        """Write a finished trial to the storage, in one transaction."""
        if self.stored is not self.memory:
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
        for trial in self.stored.get_trials(deepcopy=False, states=DONE):
            if trial.number in self._known:
                continue
            self._known.add(trial.number)
            if force or trial.user_attrs.get("worker") != self.worker:
                self.memory.add_trial(trial)
                self._shared = self._shared or not force
