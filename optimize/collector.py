"""The garbage collector while the optimizer's processes load.

Loading the engine, Optuna, SQLAlchemy and Plotly makes a few hundred thousand objects
that live as long as the process, and almost no garbage. Python's cyclic collector runs
all the same, hundreds of times while they load, each full pass going through everything
loaded so far (about 0.4 s of processor time in a process), and once more through all of
it when the process exits (about 0.3 s of waiting after the outputs are written). So a
process pauses the collector while it loads, then sets what it loaded aside
(``gc.freeze``): later passes go through only the objects made after. A finished command
skips the last pass altogether (:func:`skip_last_pass`).
"""

from __future__ import annotations

import atexit
import gc
from collections.abc import Callable, Iterator
from contextlib import contextmanager


@contextmanager
def loading() -> Iterator[None]:
    """Pause the collector inside the block; then keep what exists out of later passes.

    Examples:
        >>> with loading():
        ...     import json
        >>> gc.isenabled(), gc.get_freeze_count() > 0
        (True, True)
        >>> gc.unfreeze()  # (a test process keeps collecting what it loaded)
    """
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if was:
            gc.enable()


def skip_last_pass(*closers: Callable[[], object]) -> None:
    """At this process's exit, call ``closers``, then skip the collector's last full pass.

    The last pass would close what only it can reach (a database's pooled connections, so
    that SQLite folds its write-ahead log back into the file): ``closers`` do that first.
    Called again, it replaces the closers given before.
    """
    for call in (_freeze_all, *_CLOSERS):
        atexit.unregister(call)
    _CLOSERS[:] = closers
    atexit.register(_freeze_all)  # exit handlers run last first: this one after the closers
    for call in closers:
        atexit.register(call)


_CLOSERS: list[Callable[[], object]] = []


def _freeze_all() -> None:
    gc.freeze()
