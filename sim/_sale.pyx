# cython: language_level=3, boundscheck=True, wraparound=False, initializedcheck=False
"""Who of those shown an offer buys, in one compiled pass (for sim/steps/_selling.py).

The numbers of ``decide``'s numpy code (sim.behavior.buys: the same draw, products and
comparisons, the visitors in the same order), which takes some fifteen array operations,
each with its fixed cost, on every offer of every day.
"""

from libc.stdint cimport int16_t, int64_t, uint8_t, uint64_t

from sim._hash cimport uniform

import numpy as np


def decided(
    const int64_t[:] shown,
    const int16_t[::1] segment,
    const uint64_t[::1] luck,
    const double[::1] trust,
    const double[::1] wtp_scale,
    const uint8_t[::1] junk,
    const double[::1] take,
    const double[::1] value,
    double price,
    uint64_t salt,
):
    """Split ``shown`` into buyers and decliners (each in the order shown).

    A visitor buys if ``u < take · trust`` and ``wtp_scale · value ≥ price``, and is not
    junk; ``u`` is their draw for ``salt`` (the step's ``buy``).
    """
    cdef Py_ssize_t n = shown.shape[0], people = luck.shape[0], i, bought = 0, declined = 0
    cdef int64_t visitor
    cdef int16_t seg
    buyers = np.empty(n, dtype=np.int64)
    decliners = np.empty(n, dtype=np.int64)
    cdef int64_t[::1] b = buyers, d = decliners
    with nogil:
        for i in range(n):
            visitor = shown[i]
            if <size_t>visitor >= <size_t>people:
                with gil:
                    raise IndexError(f"visitor {visitor} is not among the {people}")
            seg = segment[visitor]
            if (
                uniform(luck[visitor] ^ salt) < take[seg] * trust[visitor]
                and wtp_scale[visitor] * value[seg] >= price
                and not junk[visitor]
            ):
                b[bought] = visitor
                bought += 1
            else:
                d[declined] = visitor
                declined += 1
    return buyers[:bought], decliners[:declined]
