"""Types of the compiled dice (sim/_dice.pyx)."""

import numpy as np
from numpy.typing import NDArray

def gathered(
    luck: NDArray[np.uint64], who: NDArray[np.int64], salts: NDArray[np.uint64]
) -> NDArray[np.float64]: ...
def gathered_each(
    luck: NDArray[np.uint64], who: NDArray[np.int64], key: np.uint64, draw: NDArray[np.int64]
) -> NDArray[np.float64]: ...
def folded(keys: NDArray[np.uint64], parts: NDArray[np.uint64]) -> NDArray[np.uint64]: ...
