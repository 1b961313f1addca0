"""Simulation processes: the replications of a study's trials.

The study process queues the replications of a trial's rung as one task (a design, the
run seed and a range of replication indices, run as one batch) and collects their KPIs.
A replication's figures depend on the design, the seed and its index only, so neither
the process that runs it nor the batch it runs in ever changes a result.

``--jobs N`` simulates in N processes: the study process itself and N − 1 spawned ones.
The study process runs queued replications whenever it would otherwise wait for results,
so it is never idle and no core is spent on a process that mostly waits. A thread of the
study process takes each spawned process's answer as it comes and sends it its next task
at once, so a spawned process holds one task at a time and never waits for the study
process to finish a task of its own; the study process keeps the rest to run. Each spawned
process is linked to the study process by a pipe that only the two of them hold: when the
study process ends, however it ends (Ctrl-C, a kill), the pipe closes and the simulation
process leaves.

``--cluster ADDRESS`` sends the tasks to a Dask scheduler instead, through
:class:`sim.executor.Executor`: a design is scattered to the cluster once and every task of
it refers to that copy. The study process then only samples and stores; the search cuts a
trial's rung into :attr:`Pool.pieces` batches, so that the trials in flight keep the
cluster's workers busy (batching never changes a replication's figures).
"""

from __future__ import annotations

import contextlib
import multiprocessing
import signal
import threading
import traceback
from collections import deque
from collections.abc import Callable, Sequence
from multiprocessing.connection import Connection, wait
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sim import PreparedScenario
    from sim.executor import Executor

KPIs = dict[str, float]
Design = tuple[int, "PreparedScenario"]  # a key unique in the study process, and the design
# a top-level function, its arguments, and the design it takes first (if any)
Task = tuple[Callable[..., Any], tuple[Any, ...], "Design | None"]

# Tasks a spawned process holds at once. A thread of the study process hands it the next
# one as soon as it answers, so one is enough; more would hold back tasks the study
# process could run while it waits for that process's answers.
_PREFETCH = 1
# Designs a spawned process keeps. A design crosses the pipe once per process and is
# reused by its later replications. Far more than the trials a study keeps in flight, so
# a design is never dropped while replications of it are still to come.
_DESIGNS = 64


def replication_kpis(design: PreparedScenario, seed: int, index: int) -> KPIs:
    """The KPIs of one replication of a design (all a trial needs of it)."""
    return design.run_replication(seed, index)


def batch_kpis(design: PreparedScenario, seed: int, first: int, upto: int) -> list[KPIs]:
    """The KPIs of replications ``first … upto − 1`` of a design, run as one batch.

    The same as :func:`replication_kpis` for each, bit for bit; a trial's replications
    are small, so one pass over the days for all of them is several times faster.
    """
    return design.run_replications(seed, range(first, upto))


def _run(fn: Callable[..., Any], args: tuple[Any, ...], design: PreparedScenario | None) -> Any:
    return fn(*args) if design is None else fn(design, *args)


class _Designs:
    """The last ``_DESIGNS`` designs sent to one process, dropped oldest first.

    The study process keeps one per spawned process, holding keys only, and the spawned
    process one holding the designs: both add the same keys in the same order, so they
    always agree on which designs the process holds.
    """

    def __init__(self) -> None:
        self.order: deque[int] = deque()
        self.held: dict[int, PreparedScenario | None] = {}

    def add(self, key: int, design: PreparedScenario | None) -> None:
        if len(self.order) == _DESIGNS:
            del self.held[self.order.popleft()]
        self.order.append(key)
        self.held[key] = design


class Pool:
    """Runs replications (and other calls) here and in ``jobs − 1`` spawned processes.

    Or, given a cluster's address, on its workers (see the module's description).
    """

    def __init__(self, jobs: int, cluster: str | None = None) -> None:
        """Start the spawned processes; they import the engine while the study sets up.

        Args:
            jobs: processes that simulate, this one included (1: this one alone).
            cluster: a Dask scheduler's address: simulate there instead (``jobs`` unused).

        Raises:
            sim.executor.ClusterError: the cluster cannot be used.
        """
        # spawn, not fork: the study process holds database connections and threads
        context = multiprocessing.get_context("spawn")
        self._held: dict[Connection, int] = {}  # tasks sent and not yet answered
        self._designs: dict[Connection, _Designs] = {}
        self._remote: _Remote | None = None
        if cluster is not None:
            from sim.executor import Executor

            self._remote, jobs = _Remote(Executor(cluster=cluster)), 1
        for _ in range(jobs - 1):
            ours, theirs = context.Pipe()
            proc = context.Process(target=serve, args=(theirs,), daemon=True)
            proc.start()
            theirs.close()  # only the child keeps its end, so our exit reaches it as EOF
            self._held[ours] = 0
            self._designs[ours] = _Designs()
        self._queue: dict[int, Task] = {}  # by ticket; dicts keep the order of queueing
        self._results: dict[int, Any] = {}
        self._next = 0
        # the queue, results and held tasks are shared with the thread that takes the
        # spawned processes' answers (_listen); _ready guards them and tells of an answer
        self._ready = threading.Condition()
        self._failed: str | None = None  # why the spawned processes cannot go on
        self._closing = False
        if self._held:
            threading.Thread(target=self._listen, name="pool answers", daemon=True).start()

    def submit(self, fn: Callable[..., Any], *args: Any, design: Design | None = None) -> int:
        """Queue the call ``fn(*args)``, or ``fn(design, *args)``; returns its ticket.

        ``fn`` must be a top-level function and its arguments picklable. A design is sent
        to each process once, however many calls take it.
        """
        self._next += 1
        if self._remote is not None:
            self._remote.submit(self._next, fn, args, design)
            return self._next
        with self._ready:
            self._queue[self._next] = (fn, args, design)
            self._dispatch()
        return self._next

    def collect(self, tickets: Sequence[int]) -> list[Any]:
        """Wait for these calls, running queued ones meanwhile; results in ticket order.

        Raises:
            RuntimeError: a call failed in a spawned process, or one died.
            KeyError: a ticket was never queued, or its result was already collected.
        """
        if self._remote is not None:
            return self._remote.collect(tickets)
        missing = list(tickets)
        while True:
            with self._ready:
                if self._failed is not None:
                    raise RuntimeError(self._failed)
                missing = [t for t in missing if t not in self._results]
                if not missing:
                    return [self._results.pop(t) for t in tickets]
                mine = next((t for t in missing if t in self._queue), None)
                if mine is None and self._queue:
                    mine = next(iter(self._queue))  # ours are out: run someone else's
                if mine is None:
                    if not any(self._held.values()):  # nothing queued, nothing out
                        raise KeyError(f"tickets never queued or already collected: {missing}")
                    self._ready.wait()
                    continue
                fn, args, design = self._queue.pop(mine)
            # run outside the lock: meanwhile the thread hands the spawned processes work
            result = _run(fn, args, None if design is None else design[1])
            with self._ready:
                self._results[mine] = result

    def close(self) -> None:
        """Tell the spawned processes to stop, and let them finish on their own.

        Not waiting saves the study process their interpreter shutdown; they are
        daemons, so any still there when the study process exits are ended then.
        """
        with self._ready:
            self._closing = True
            for conn in self._held:
                with contextlib.suppress(OSError):  # already gone
                    conn.send(None)  # its answer thread closes the pipe when it leaves
            self._held.clear()
        if self._remote is not None:
            self._remote.executor.close()

    @property
    def pieces(self) -> int:
        """Into how many batches to cut a trial's replications: the cluster's workers, or 1.

        Locally a rung is one batch (the fastest); on a cluster its replications are spread.
        """
        return 1 if self._remote is None else self._remote.pieces

    def __enter__(self) -> Pool:
        """The pool itself; it is closed at the end of the ``with`` block."""
        return self

    def __exit__(self, *_: object) -> None:
        """Close the pool."""
        self.close()

    def _dispatch(self) -> None:
        """Send queued tasks to the processes that have room (with ``_ready`` held)."""
        while self._queue and self._held:
            conn = min(self._held, key=self._held.__getitem__)  # the least busy process
            if self._held[conn] >= _PREFETCH:
                return
            ticket = next(iter(self._queue))
            fn, args, design = self._queue.pop(ticket)
            key, prepared = design if design is not None else (None, None)
            sent = self._designs[conn]
            if key is not None and key in sent.held:
                prepared = None  # the process has it
            elif key is not None:
                sent.add(key, None)
            conn.send((ticket, fn, args, key, prepared))
            self._held[conn] += 1

    def _listen(self) -> None:
        """The answer thread: take each answer as it comes, and send that process more work.

        So a spawned process waits only for this thread's turn, not for the study
        process to finish what it runs itself. Ends when every process has left.
        """
        try:
            self._answers(list(self._held))
        except BaseException as exc:  # never leave collect() waiting for an answer
            with self._ready:
                self._failed = f"the study process stopped reading answers: {exc!r}"
                self._ready.notify_all()
            raise

    def _answers(self, conns: list[Connection]) -> None:
        while conns:
            # wait() returns some of the objects it was given: our connections
            ready: list[Connection] = wait(conns)  # type: ignore[assignment]
            for conn in ready:
                try:
                    ticket, ok, value = conn.recv()
                except (EOFError, OSError):  # it left: told to, or it died
                    conns.remove(conn)
                    conn.close()
                    with self._ready:
                        if not self._closing:
                            self._failed = "a simulation process died"
                        self._ready.notify_all()
                    continue
                with self._ready:
                    if conn in self._held:
                        self._held[conn] -= 1
                    if ok:
                        self._results[ticket] = value
                    else:
                        self._failed = f"a replication failed in a simulation process:\n{value}"
                    self._dispatch()
                    self._ready.notify_all()


class _Remote:
    """The tasks of a pool on a Dask cluster: each design scattered once, futures by ticket."""

    def __init__(self, executor: Executor) -> None:
        self.executor = executor
        self.pieces = executor.workers  # asked once: a question to the scheduler each time
        self.futures: dict[int, Any] = {}
        self.designs: dict[int, Any] = {}  # key -> the design's future on the cluster

    def submit(
        self, ticket: int, fn: Callable[..., Any], args: tuple[Any, ...], design: Design | None
    ) -> None:
        if design is not None:
            key, prepared = design
            if key not in self.designs:
                if len(self.designs) == _DESIGNS:  # let the cluster drop the oldest
                    del self.designs[next(iter(self.designs))]
                self.designs[key] = self.executor.client.scatter(prepared, hash=False)
            args = (self.designs[key], *args)
        self.futures[ticket] = self.executor.submit(fn, *args)

    def collect(self, tickets: Sequence[int]) -> list[Any]:
        futures = [self.futures.pop(t) for t in tickets]
        return list(self.executor.client.gather(futures))


def serve(conn: Connection) -> None:
    """A spawned simulation process: run the replications sent on ``conn`` until told to stop."""
    # Ctrl-C in a terminal reaches the whole process group; the study process handles it
    # and its exit closes the pipe, which ends this loop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # The engine is imported here, not with this module, so that a pool can be started
    # before the study process imports anything heavy: both import at the same time.
    from optimize.collector import loading

    with loading():
        import sim.runner  # noqa: F401

    designs = _Designs()
    try:
        while (message := conn.recv()) is not None:
            ticket, fn, args, key, design = message
            if design is not None:
                designs.add(key, design)
            try:
                reply = (ticket, True, _run(fn, args, None if key is None else designs.held[key]))
            except Exception:  # reported to the study process, which raises it
                reply = (ticket, False, traceback.format_exc())
            conn.send(reply)
    except (EOFError, OSError):  # the study process is gone: nothing is waiting for us
        pass
