"""Types of the compiled counts (sim/_books.pyx)."""

import numpy as np
from numpy.typing import NDArray

def count_into(
    table: NDArray[np.float64], column: int, rep_of: NDArray[np.intp], who: NDArray[np.int64]
) -> None: ...
def count_by(
    rep_of: NDArray[np.intp], who: NDArray[np.int64], replications: int
) -> NDArray[np.int64]: ...
