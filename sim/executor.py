"""Where many engine evaluations run: here, or on a Dask distributed cluster.

The one place that chooses. :func:`run_all` maps a picklable function over work items and
returns the results in the items' order, so a result never depends on where it ran.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

T = TypeVar("T")


def run_all(
    fn: Callable[..., T],
    items: Sequence[tuple[Any, ...]],
    cluster: str | None = None,
    finished: Callable[[], None] | None = None,
) -> list[T]:
    """``[fn(*item) for item in items]``, here or on the cluster at ``cluster``.

    Args:
        fn: a module-level (picklable) function.
        items: the arguments of each call.
        cluster: a Dask scheduler's address (``tcp://host:port``); None runs here.
        finished: called once as each call finishes (in any order): for a progress bar.

    Raises:
        ImportError: a cluster is named but Dask's distributed is not installed
            (``pip install 'funnelsim[cluster]'``).
    """
    tick = finished or (lambda: None)
    if cluster is None:
        results = []
        for item in items:
            results.append(fn(*item))
            tick()
        return results
    if not items:
        return []
    from distributed import Client, as_completed

    with Client(cluster) as client:  # type: ignore[no-untyped-call]
        futures = client.map(fn, *zip(*items, strict=True), pure=False)
        for _ in as_completed(futures):  # type: ignore[no-untyped-call]
            tick()
        return list(client.gather(futures))
