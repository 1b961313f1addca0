"""Where many engine evaluations run: here, in local processes, or on a Dask cluster.

The one place that chooses. :func:`run_all` maps a picklable function over work items and
returns the results in the items' order, so a result never depends on where it ran.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Any, TypeVar

T = TypeVar("T")


def run_all(
    fn: Callable[..., T],
    items: Sequence[tuple[Any, ...]],
    cluster: str | None = None,
    finished: Callable[[], None] | None = None,
    jobs: int = 1,
) -> list[T]:
    """``[fn(*item) for item in items]``, here or on the cluster at ``cluster``.

    Args:
        fn: a module-level (picklable) function.
        items: the arguments of each call.
        cluster: a Dask scheduler's address (``tcp://host:port``); None runs here.
        finished: called once as each call finishes (in any order): for a progress bar.
        jobs: local worker processes when no cluster is named (1: this process).

    Raises:
        ImportError: a cluster is named but Dask's distributed is not installed
            (``pip install 'funnelsim[cluster]'``).
    """
    tick = finished or (lambda: None)
    if not items:
        return []
    if cluster is None and (jobs <= 1 or len(items) == 1):
        results = []
        for item in items:
            results.append(fn(*item))
            tick()
        return results
    if cluster is None:
        return _processes(fn, items, jobs, tick)
    from distributed import Client
    from distributed import as_completed as arrived

    with Client(cluster) as client:  # type: ignore[no-untyped-call]
        futures = client.map(fn, *zip(*items, strict=True), pure=False)
        for _ in arrived(futures):  # type: ignore[no-untyped-call]
            tick()
        return list(client.gather(futures))


def _processes(
    fn: Callable[..., T], items: Sequence[tuple[Any, ...]], jobs: int, tick: Callable[[], None]
) -> list[T]:
    # spawn, set here rather than at import, so workers start clean on every platform
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=min(jobs, len(items)), mp_context=context) as pool:
        futures = [pool.submit(fn, *item) for item in items]
        for _ in as_completed(futures):
            tick()
        return [f.result() for f in futures]
