"""Types of the compiled counts (sim/_books.pyx)."""

import numpy as np
from numpy.typing import NDArray

def count_into(
    table: NDArray[np.float64], column: int, rep_of: NDArray[np.intp], who: NDArray[np.int64]
) -> None: ...
def count_by(
    rep_of: NDArray[np.intp], who: NDArray[np.int64], replications: int
) -> NDArray[np.int64]: ...
def add_scaled(
    table: NDArray[np.float64],
    column: int,
    counts: NDArray[np.integer],
    each: float,
    also: NDArray[np.float64] | None = None,
) -> None: ...
def booked_sale(
    revenue: NDArray[np.float64],
    fees: NDArray[np.float64],
    cogs_books: NDArray[np.float64],
    orders: NDArray[np.float64] | None,
    step_revenue: NDArray[np.float64],
    day: int,
    step: int,
    counts: NDArray[np.integer],
    price: float,
    fee: float,
    cogs: float,
) -> None: ...
def booked_renewals(
    revenue: NDArray[np.float64],
    fees: NDArray[np.float64],
    cogs_books: NDArray[np.float64],
    orders: NDArray[np.float64],
    step_revenue: NDArray[np.float64],
    step: int,
    rep_of: NDArray[np.intp],
    who: NDArray[np.int64],
    renewals: NDArray[np.int64],
    day: int,
    period: int,
    price: float,
    fee: float,
    cogs: float,
) -> None: ...
