"""Types of the compiled sale decision (sim/_sale.pyx)."""

import numpy as np
from numpy.typing import NDArray

def decided(
    shown: NDArray[np.int64],
    segment: NDArray[np.int16],
    luck: NDArray[np.uint64],
    trust: NDArray[np.float64],
    wtp_scale: NDArray[np.float64],
    junk: NDArray[np.bool_],
    take: NDArray[np.float64],
    value: NDArray[np.float64],
    price: float,
    salt: np.uint64,
    rep_of: NDArray[np.intp] | None = None,
    replications: int = 0,
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64] | None]: ...
