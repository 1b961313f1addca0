# cython: language_level=3, boundscheck=True, wraparound=False, initializedcheck=False
"""Counting a batch's visitors by replication in one compiled pass (for sim/ledger.py).

The books of a batch have a row per replication; counting the visitors a step books takes
numpy a gather of their replications, a count and an addition, each with its fixed cost,
on every step of every day. These do it in one loop, with the same integers.
"""

cimport cython
from libc.stdint cimport int64_t
from libc.stdlib cimport calloc, free

import numpy as np


def count_into(double[:, :] table, Py_ssize_t column, const int64_t[:] rep_of,
               const int64_t[:] who):
    """``table[rep_of[w], column] += 1`` for each visitor ``w`` of ``who``.

    Counts are whole numbers far below 2**53: the float sums are exact in any order.
    """
    cdef Py_ssize_t r, replications = table.shape[0]
    cdef int64_t* runs = <int64_t*>calloc(max(replications, 1), sizeof(int64_t))
    if runs == NULL:
        raise MemoryError()
    try:
        _runs(rep_of, who, runs, replications)
        for r in range(replications):
            if runs[r]:
                table[r, column] += runs[r]
    finally:
        free(runs)


def count_by(const int64_t[:] rep_of, const int64_t[:] who, Py_ssize_t replications):
    """How many of ``who`` belong to each replication (``bincount(rep_of[who])``)."""
    out = np.zeros(max(replications, 1), dtype=np.int64)
    cdef int64_t[::1] counts = out
    _runs(rep_of, who, &counts[0], replications)
    return out[:replications]


@cython.boundscheck(False)
cdef int _runs(
    const int64_t[:] rep_of, const int64_t[:] who, int64_t* out, Py_ssize_t replications
) except -1:
    # Visitors come in runs of one replication (a day's arrivals are every replication's in
    # turn, and a step keeps their order): counting a run in a register, not in memory,
    # spares each visitor a read and a write of its replication's count.
    cdef Py_ssize_t i, n = who.shape[0], people = rep_of.shape[0]
    cdef int64_t visitor, rep, current = -1, run = 0
    with nogil:
        for i in range(n):
            visitor = who[i]
            if <size_t>visitor >= <size_t>people:  # a negative id wraps to a huge one
                with gil:
                    raise IndexError(f"visitor {visitor} is not among the {people}")
            rep = rep_of[visitor]
            if rep != current:
                if <size_t>rep >= <size_t>replications:
                    with gil:
                        raise IndexError(f"replication {rep} is not among the {replications}")
                if run:
                    out[current] += run
                current, run = rep, 0
            run += 1
        if run:
            out[current] += run
    return 0
