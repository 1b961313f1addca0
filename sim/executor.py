"""Where many engine evaluations run: here, in local processes, or on a Dask cluster.

The one place that chooses. An :class:`Executor` maps a picklable function over work
items and returns the results in the items' order, so a result never depends on where
it ran. It keeps at most two items per worker in flight (workers never idle, and the
memory of the work under way stays bounded), and it is opened once per command: a
command that runs several designs reuses its processes, or its connection to the cluster.

Examples:
    >>> with Executor() as here:
    ...     here.map(pow, [(2, 3), (3, 2)])
    [8, 9]
"""

from __future__ import annotations

import itertools
import multiprocessing
import socket
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from typing import Any, TypeVar

T = TypeVar("T")

# how long to wait for a scheduler to answer before saying it cannot be reached
CONNECT_SECONDS = 10.0
# work items in flight per worker: the next is there when one finishes, and no more
IN_FLIGHT_PER_WORKER = 2


class ClusterError(ValueError):
    """The cluster named cannot be used: a bad address, no scheduler there, no Dask."""


class Executor:
    """Runs work items in this process, in ``jobs`` local processes, or on a Dask cluster.

    Use it as a context manager (or call :meth:`close`): local processes start at the
    first map that needs them and stop at the end; a cluster is connected at once, so a
    bad address fails before any work.
    """

    def __init__(self, jobs: int = 1, cluster: str | None = None) -> None:
        """Args: local worker processes (1: this one), or a Dask scheduler's address.

        Raises:
            ClusterError: the address is malformed, nothing answers there, or Dask's
                distributed is not installed (``pip install 'funnelsim[cluster]'``).
            ValueError: ``jobs`` below 1.
        """
        if jobs < 1:
            raise ValueError(f"jobs must be >= 1, got {jobs}")
        self.jobs, self.cluster = jobs, cluster
        self._pool: ProcessPoolExecutor | None = None
        self.client: Any = None if cluster is None else connect(cluster)

    @property
    def workers(self) -> int:
        """How many items run at once: the local processes, or the cluster's threads."""
        if self.client is None:
            return self.jobs
        threads: dict[str, int] = self.client.nthreads()
        return max(1, sum(threads.values()))

    @property
    def local_processes(self) -> int:
        """Processes of this machine that simulate (for the memory budget)."""
        return 1 if self.client is not None else self.jobs

    def map(
        self,
        fn: Callable[..., T],
        items: Sequence[tuple[Any, ...]],
        finished: Callable[[int], None] | None = None,
    ) -> list[T]:
        """``[fn(*item) for item in items]``, wherever this executor runs work.

        Args:
            fn: a module-level (picklable) function.
            items: the arguments of each call.
            finished: called with an item's index as it finishes (in any order).
        """
        tick = finished or (lambda _i: None)
        if self.client is None and (self.jobs == 1 or len(items) <= 1):
            results = []
            for i, item in enumerate(items):
                results.append(fn(*item))
                tick(i)
            return results
        window = IN_FLIGHT_PER_WORKER * self.workers
        if self.client is not None:
            return _remote_windowed(self.client, fn, items, window, tick)
        return _windowed(self._local, fn, items, window, tick)

    def submit(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Start ``fn(*args)`` on the cluster; a Dask future (cluster executors only)."""
        if self.client is None:
            raise RuntimeError("submit needs a cluster; map runs work locally")
        return self.client.submit(fn, *args, pure=False)

    def close(self) -> None:
        """Stop the local processes, or leave the cluster (its workers stay)."""
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)  # after an error, queued work is moot
            self._pool = None
        if self.client is not None:
            self.client.close()
            self.client = None

    def __enter__(self) -> Executor:
        """The executor itself; closed at the end of the ``with`` block."""
        return self

    def __exit__(self, *_: object) -> None:
        """Close the executor."""
        self.close()

    def _local(self, fn: Callable[..., Any], *args: Any) -> Future[Any]:
        if self._pool is None:
            # spawn, set here rather than at import, so workers start clean on every platform
            context = multiprocessing.get_context("spawn")
            self._pool = ProcessPoolExecutor(max_workers=self.jobs, mp_context=context)
        return self._pool.submit(fn, *args)


def _windowed(
    submit: Callable[..., Future[Any]],
    fn: Callable[..., T],
    items: Sequence[tuple[Any, ...]],
    window: int,
    tick: Callable[[int], None],
) -> list[T]:
    """Results in item order, with at most ``window`` items submitted and not yet done."""
    slots: list[Any] = [None] * len(items)
    waiting = iter(enumerate(items))
    running: dict[Future[Any], int] = {}
    while True:
        for i, item in itertools.islice(waiting, window - len(running)):
            running[submit(fn, *item)] = i
        if not running:
            return slots
        done, _ = wait(running, return_when=FIRST_COMPLETED)
        for future in done:
            i = running.pop(future)
            slots[i] = future.result()
            tick(i)


def _remote_windowed(
    client: Any,
    fn: Callable[..., T],
    items: Sequence[tuple[Any, ...]],
    window: int,
    tick: Callable[[int], None],
) -> list[T]:
    """As :func:`_windowed`, on a Dask cluster: a new item starts as each one finishes."""
    from distributed import as_completed

    slots: list[Any] = [None] * len(items)
    waiting = iter(enumerate(items))
    index: dict[str, int] = {}

    def start(count: int) -> list[Any]:
        futures = []
        for i, item in itertools.islice(waiting, count):
            future = client.submit(fn, *item, pure=False)
            index[future.key] = i
            futures.append(future)
        return futures

    arrived = as_completed(start(window), loop=client.loop)  # type: ignore[no-untyped-call]
    for future in arrived:
        i = index.pop(future.key)
        slots[i] = future.result()
        tick(i)
        for new in start(1):
            arrived.add(new)  # type: ignore[no-untyped-call]
    return slots


def connect(address: str) -> Any:
    """A Dask client of the scheduler at ``address`` (``tcp://host:port``).

    Raises:
        ClusterError: the address is malformed, nothing answers there in
            :data:`CONNECT_SECONDS`, or Dask's distributed is not installed.
    """
    try:
        from distributed import Client
        from distributed.comm.addressing import get_address_host_port
    except ImportError:
        raise ClusterError(
            "--cluster needs Dask's distributed: pip install 'funnelsim[cluster]'"
        ) from None
    try:
        host, port = get_address_host_port(address)
    except ValueError as exc:
        raise ClusterError(
            f"'{address}' is not a scheduler address ({exc}); write it as tcp://HOST:PORT"
        ) from None
    # ask the port first: Dask would retry a refused connection until its timeout
    try:
        socket.create_connection((host, port), timeout=CONNECT_SECONDS).close()
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise ClusterError(f"cannot reach a Dask scheduler at {address}: {reason}") from None
    try:
        return Client(address, timeout=CONNECT_SECONDS, set_as_default=False)  # type: ignore[no-untyped-call]
    except (OSError, TimeoutError) as exc:
        raise ClusterError(f"no Dask scheduler answers at {address}: {exc}") from None


def run_all(
    fn: Callable[..., T],
    items: Sequence[tuple[Any, ...]],
    cluster: str | None = None,
    finished: Callable[[], None] | None = None,
    jobs: int = 1,
) -> list[T]:
    """``[fn(*item) for item in items]``, here, in ``jobs`` processes, or on ``cluster``.

    One :class:`Executor` for one batch of work (see it for the arguments); ``finished``
    is called once as each call finishes, for a progress bar.

    Raises:
        ClusterError: the cluster cannot be used.
    """
    if not items:
        return []
    tick = finished or (lambda: None)
    with Executor(jobs, cluster) as executor:
        return executor.map(fn, items, lambda _i: tick())
