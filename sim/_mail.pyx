# cython: language_level=3, boundscheck=True, wraparound=False, initializedcheck=False
"""One email to a day's recipients in one compiled pass (for sim/steps/_email.py).

Who is still subscribed, who opens, who unsubscribes, and the readers' new trust: the
numbers of ``send_email``'s numpy code (the same draws, comparisons and sums, the same
order of the visitors), which takes some twenty array operations, each with its fixed cost,
on every email of every day.
"""

from libc.stdint cimport int16_t, int64_t, uint8_t, uint64_t

from sim._hash cimport uniform

import numpy as np


def emailed(
    const int64_t[:] who,
    uint8_t[::1] subscribed,
    const int16_t[::1] segment,
    const uint64_t[::1] luck,
    double[::1] trust,
    const double[::1] open_rate,
    const double[::1] unsubscribe_rate,
    const double[::1] trust_per_open,
    const uint64_t[::1] salts,
):
    """Send an email to those of ``who`` still subscribed; warm its readers, drop its leavers.

    ``salts``: what a visitor's luck is xored with for the open and the unsubscribe draw.
    Returns the recipients, which of them opened (bools), the readers, the readers'
    segments and those who unsubscribed. Every visitor is read as they were before this
    email (a visitor listed twice is treated twice alike, as numpy's indexing does).
    """
    cdef Py_ssize_t n = who.shape[0], people = luck.shape[0], i, j
    cdef Py_ssize_t sent = 0, read = 0, left = 0
    cdef int64_t visitor
    cdef int16_t seg
    cdef uint64_t h, open_salt = salts[0], leave_salt = salts[1]
    recipients = np.empty(n, dtype=np.int64)
    opened = np.empty(n, dtype=np.uint8)
    readers = np.empty(n, dtype=np.int64)
    read_segments = np.empty(n, dtype=np.int64)
    gone = np.empty(n, dtype=np.int64)
    warmed = np.empty(n, dtype=np.float64)
    cdef int64_t[::1] rec = recipients, rd = readers, rs = read_segments, gn = gone
    cdef uint8_t[::1] op = opened
    cdef double[::1] wm = warmed
    with nogil:
        for i in range(n):
            visitor = who[i]
            if <size_t>visitor >= <size_t>people:
                with gil:
                    raise IndexError(f"visitor {visitor} is not among the {people}")
            if not subscribed[visitor]:
                continue
            seg = segment[visitor]
            h = luck[visitor]
            rec[sent] = visitor
            op[sent] = uniform(h ^ open_salt) < open_rate[seg]
            if op[sent]:
                rd[read] = visitor
                rs[read] = seg
                read += 1
            if uniform(h ^ leave_salt) < unsubscribe_rate[seg]:
                gn[left] = visitor
                left += 1
            sent += 1
        # written once all are read (sim.behavior.add_trust: min(trust + gain, 1))
        for j in range(read):
            wm[j] = trust[rd[j]] + trust_per_open[rs[j]]
            if wm[j] > 1.0:
                wm[j] = 1.0
        for j in range(read):
            trust[rd[j]] = wm[j]
        for j in range(left):
            subscribed[gn[j]] = 0
    return (
        recipients[:sent],
        opened[:sent].view(np.bool_),
        readers[:read],
        read_segments[:read],
        gone[:left],
    )
