"""Types of the compiled email (sim/_mail.pyx)."""

import numpy as np
from numpy.typing import NDArray

def emailed(
    who: NDArray[np.int64],
    subscribed: NDArray[np.bool_],
    segment: NDArray[np.int16],
    luck: NDArray[np.uint64],
    trust: NDArray[np.float64],
    open_rate: NDArray[np.float64],
    unsubscribe_rate: NDArray[np.float64],
    trust_per_open: NDArray[np.float64],
    salts: NDArray[np.uint64],
    rep_of: NDArray[np.intp] | None = None,
    replications: int = 0,
) -> tuple[
    NDArray[np.int64],
    NDArray[np.bool_],
    NDArray[np.int64],
    NDArray[np.int64],
    NDArray[np.int64],
    NDArray[np.int64] | None,
    NDArray[np.int64] | None,
]: ...
