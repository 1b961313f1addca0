# cython: language_level=3, boundscheck=True, wraparound=False, initializedcheck=False
"""The dice of :mod:`sim.luck` in one compiled pass over the visitors.

Each function gives exactly the values of its numpy counterpart in :mod:`sim.luck` (the
same integers, the same float): numpy takes a dozen passes over a draw's arrays, each with
its own fixed cost, this one loop. :mod:`sim.luck` uses these when the package was built
with them and numpy otherwise; ``tests/test_compiled.py`` compares the two.
"""

from libc.stdint cimport int64_t, uint64_t

from sim._hash cimport mix as _mix
from sim._hash cimport uniform as _uniform

import numpy as np


def gathered(const uint64_t[::1] luck, const int64_t[:] who, const uint64_t[::1] salts):
    """``out[k, i] = U(mix(luck[who[i]] ^ salts[k]))``: several draws of the visitors ``who``."""
    cdef Py_ssize_t n = who.shape[0], m = salts.shape[0], i, k
    cdef uint64_t v
    out = np.empty((m, n), dtype=np.float64)
    cdef double[:, ::1] o = out
    with nogil:
        for i in range(n):
            v = luck[who[i]]
            for k in range(m):
                o[k, i] = _uniform(v ^ salts[k])
    return out


def gathered_each(
    const uint64_t[::1] luck, const int64_t[:] who, uint64_t key, const int64_t[:] draw
):
    """``out[i] = U(mix(luck[who[i]] ^ mix(key ^ draw[i])))``: one numbered draw each."""
    cdef Py_ssize_t n = who.shape[0], i
    out = np.empty(n, dtype=np.float64)
    cdef double[::1] o = out
    with nogil:
        for i in range(n):
            o[i] = _uniform(luck[who[i]] ^ _mix(key ^ <uint64_t>draw[i]))
    return out


def folded(const uint64_t[:] keys, const uint64_t[:] parts):
    """``out[i] = mix(keys[i] ^ parts[i])`` (:func:`sim.luck.fold` of two arrays)."""
    cdef Py_ssize_t n = parts.shape[0], i
    out = np.empty(n, dtype=np.uint64)
    cdef uint64_t[::1] o = out
    with nogil:
        for i in range(n):
            o[i] = _mix(keys[i] ^ parts[i])
    return out
