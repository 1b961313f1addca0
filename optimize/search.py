"""The search loop: one process asks Optuna for designs and tells it how they did.

The study process is the only one that talks to Optuna. It keeps ``IN_FLIGHT`` trials
running, hands their replications to the simulation pool, and handles each trial's
rungs strictly in the order it started them, waiting if a later one is ready first. So
the sequence of asks, reports and tells — and with it every design the sampler proposes
and every figure of the study — is the same with one simulation process or many.

Every trial runs its design on the same replication seeds (common random numbers). With
pruning, a trial reports its objective over the first quarter of its replications; the
pruner stops it if it is clearly worse than the trials before it at that point. All of a
trial's replications run as one batch from the start, which costs less than a batch per
look even counting the replications of pruned trials, thrown away; the looks, and every
ask, report and tell, come in the same order as if the rest had waited for the look.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import optuna
from optuna.trial import FrozenTrial, TrialState

from optimize.mirror import DONE, Mirror
from optimize.pool import KPIs, Pool, batch_kpis
from optimize.space import SearchSpace
from sim import PreparedScenario, Scenario, ScenarioError, measures, prepare

Progress = Callable[[int, int, float | None], None]

# Trials running at once. Fixed, not the number of processes, so that results do not
# depend on --jobs. 4 trials hold enough replications to keep a few processes busy; TPE's
# constant liar keeps their designs apart, and a sampler that does not yet know the last
# 3 results loses little over a study of many trials.
IN_FLIGHT = 4


def kpi_means(results: Sequence[KPIs]) -> dict[str, float]:
    """Each KPI's mean over replications (NaN left out; infinity kept: payback never)."""
    out = {}
    for name in results[0]:
        values = np.array([r[name] for r in results], dtype=float)
        values = values[~np.isnan(values)]
        out[name] = float(values.mean()) if values.size else math.nan
    return out


def rungs(n: int) -> list[int]:
    """Replication counts at which a trial reports: a quarter, then all.

    One look only: each look waits for the trial's first replications before the rest
    are queued, and at a few replications per trial a second look saves little.
    """
    return sorted({min(n, max(2, n // 4)), n})


@dataclass
class Flight:
    """A trial in flight: its design, the replications done, those it waits for."""

    trial: optuna.Trial
    design: PreparedScenario
    kpis: list[KPIs] = field(default_factory=list)
    tickets: list[int] = field(default_factory=list)  # one per batch of replications
    pending: int = 0  # replications queued and not yet collected
    looks: int = 0  # the looks (rungs before the last) the trial has passed


def measured(kpis: Sequence[KPIs], measure: measures.Measure) -> float:
    """A measure (a KPI's mean, or a percentile) over a trial's replications."""
    return measure.of([r[measure.kpi] for r in kpis])


@dataclass
class Plan:
    """What every trial of a study runs: the seed, the rungs, the objective."""

    seed: int
    stages: list[int]  # replication counts at which the trial is looked at; the last is all
    goals: list[tuple[str, str]]  # (measure as written, direction)
    constraints: dict[str, tuple[float | None, float | None]]  # measure -> (min, max)
    worker: str  # recorded with every trial: which study process ran it

    def value(self, kpis: Sequence[KPIs], text: str) -> float:
        """A goal's or constraint's measure over these replications."""
        return measured(kpis, measures.parse(text))

    @classmethod
    def of(cls, scenario: Scenario, seed: int, n: int, prune: bool, worker: str) -> Plan:
        """The plan for a scenario's objective; pruning only for a single objective."""
        goals = scenario.objective.goals
        stages = rungs(n) if prune and len(goals) == 1 else [n]
        bounds = {k: (b.min, b.max) for k, b in scenario.objective.constraints.items()}
        return cls(seed, stages, goals, bounds, worker)


class Search:
    """Runs trials of the in-memory study until the stored study reaches its target."""

    def __init__(
        self,
        mirror: Mirror | Callable[[], Mirror],
        space: SearchSpace,
        plan: Plan,
        pool: Pool,
        progress: Progress | None,
        memory: optuna.Study | None = None,
    ) -> None:
        """Args: the studies, what to search, how to evaluate, where to simulate, progress.

        ``mirror`` may be a call that opens the stored study, made once the first trials
        are queued, for a stored study known to be empty and new: the in-memory study
        ``memory`` then asks for them while nothing is stored, as it would after the
        opening, and the simulation processes run them while this one opens it.
        """
        self._opening: Callable[[], Mirror] | None = None
        if isinstance(mirror, Mirror):
            self._mirror: Mirror | None = mirror
            memory = mirror.memory
        else:
            self._mirror, self._opening = None, mirror
        assert memory is not None, "an in-memory study, or a mirror that has it"
        self.study = memory
        self.space, self.plan, self.pool, self.progress = space, plan, pool, progress
        self.best = _best_value(self.study)
        self.target = 0
        maximize = self.study.directions[0] == optuna.study.StudyDirection.MAXIMIZE
        self.sign = 1.0 if maximize else -1.0

    @property
    def mirror(self) -> Mirror:
        """The stored study and the in-memory one (opened when first needed)."""
        if self._mirror is None:
            assert self._opening is not None
            self._mirror = self._opening()
        return self._mirror

    def run(self, target: int, timeout: float | None) -> None:
        """Run trials until ``target`` are finished, or ``timeout`` seconds stop new ones."""
        self.target = target
        deadline = math.inf if timeout is None else time.monotonic() + timeout
        flights: deque[Flight] = deque()
        while True:
            while len(flights) < IN_FLIGHT and time.monotonic() < deadline:
                if self._mirror is not None:  # nothing to look for before the opening
                    self._mirror.sync()
                if _finished(self.study) + len(flights) >= target:
                    break
                flight = self._start()
                if flight is not None:
                    flights.append(flight)
            self.mirror  # noqa: B018  (open the stored study, if not yet: trials are queued)
            if not flights:
                return
            flight = flights.popleft()
            if self._advance(flight):
                flights.append(flight)

    def _start(self) -> Flight | None:
        """Ask for a design and queue its first rung; None if the design is invalid."""
        trial = self.study.ask(dict(self.space.distributions))
        trial.set_user_attr("worker", self.plan.worker)
        try:
            scenario = self.space.design(trial.params)
        except ScenarioError as exc:  # values that clash with each other (not with the format)
            trial.set_user_attr("invalid", str(exc))
            self._record(self.study.tell(trial, state=TrialState.PRUNED))
            return None
        flight = Flight(trial, prepare(scenario))
        self._queue(flight, self.plan.stages[-1])
        return flight

    def _queue(self, flight: Flight, upto: int) -> None:
        first = len(flight.kpis) + flight.pending
        seed = self.plan.seed
        design = (flight.trial.number, flight.design)
        # one batch locally; on a cluster, pieces that keep its workers busy
        cuts = np.linspace(first, upto, min(self.pool.pieces, upto - first) + 1).round()
        for lo, hi in zip(cuts[:-1].astype(int), cuts[1:].astype(int), strict=True):
            flight.tickets.append(self.pool.submit(batch_kpis, seed, lo, hi, design=design))
        flight.pending += upto - first

    def _advance(self, flight: Flight) -> bool:
        """Take the trial's current rung; True if it runs on to the next one."""
        try:
            flight.kpis += [k for batch in self.pool.collect(flight.tickets) for k in batch]
        except Exception:
            self._record(self.study.tell(flight.trial, state=TrialState.FAIL))
            raise
        flight.tickets, flight.pending = [], 0
        stages = self.plan.stages
        if flight.looks < len(stages) - 1:
            upto = stages[flight.looks]
            flight.looks += 1
            flight.trial.report(
                self.plan.value(flight.kpis[:upto], self.plan.goals[0][0]), step=upto
            )
            if flight.trial.should_prune():
                self._record(self.study.tell(flight.trial, state=TrialState.PRUNED))
                return False
            return True  # finished on its next turn, where it would have had the rest
        self._finish(flight)
        return False

    def _finish(self, flight: Flight) -> None:
        trial, means = flight.trial, kpi_means(flight.kpis)
        trial.set_user_attr("kpis", {k: _jsonable(v) for k, v in means.items()})
        for text, (low, high) in self.plan.constraints.items():
            value = self.plan.value(flight.kpis, text)
            if high is not None:
                trial.set_constraint(f"{text}<={high:g}", _finite(value - high))
            if low is not None:
                trial.set_constraint(f"{text}>={low:g}", _finite(low - value))
        values = [self.plan.value(flight.kpis, text) for text, _ in self.plan.goals]
        self._record(self.study.tell(trial, values[0] if len(values) == 1 else values))

    def _record(self, trial: FrozenTrial) -> None:
        """Store a finished trial and show progress."""
        self.mirror.store(trial)
        single = len(self.study.directions) == 1
        if single and trial.state == TrialState.COMPLETE and self._improves(trial.value):
            self.best = float(trial.value)  # type: ignore[arg-type]
        if self.progress is not None:
            self.progress(min(_finished(self.study), self.target), self.target, self.best)

    def _improves(self, value: float | None) -> bool:
        if value is None:
            return False
        return self.best is None or self.sign * value > self.sign * self.best


def _finished(study: optuna.Study) -> int:
    return len(study.get_trials(deepcopy=False, states=DONE))


def _best_value(study: optuna.Study) -> float | None:
    if len(study.directions) != 1:
        return None
    try:
        return float(study.best_value)
    except ValueError:  # no complete trial yet
        return None


def _finite(x: float) -> float:
    """Constraint values must be numbers: an undefined KPI violates its bound."""
    if math.isnan(x) or x == math.inf:
        return 1e12
    return max(x, -1e12)


def _jsonable(x: float) -> float | None:
    return x if math.isfinite(x) else None
