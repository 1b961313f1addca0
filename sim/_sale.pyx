# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False
"""Who of those shown an offer buys, in one compiled pass (for sim/steps/_selling.py).

The numbers of ``decide``'s numpy code (sim.behavior.buys: the same draw, products and
comparisons, the visitors in the same order), which takes some fifteen array operations,
each with its fixed cost, on every offer of every day.
"""

cimport numpy as cnp
from libc.stdint cimport int16_t, int64_t, uint8_t, uint64_t

from sim._arrays cimport fresh, reading, zeroed
from sim._hash cimport uniform

cnp.import_array()


def decided(
    object shown,
    object segment,
    object luck,
    object trust,
    object wtp_scale,
    object junk,
    object take,
    object value,
    double price,
    uint64_t salt,
    object rep_of=None,
    Py_ssize_t replications=0,
):
    """Split ``shown`` into buyers and decliners (each in the order shown).

    A visitor buys if ``u < take · trust`` and ``wtp_scale · value ≥ price``, and is not
    junk; ``u`` is their draw for ``salt`` (the step's ``buy``). The third value: with
    ``rep_of`` (each visitor's replication, of ``replications``), how many buyers each
    replication has; else None. A visitor, segment or replication out of range raises
    IndexError.
    """
    cdef cnp.ndarray ids = reading(shown, cnp.NPY_INT64, 1, "shown")
    cdef cnp.ndarray luck_a = reading(luck, cnp.NPY_UINT64, 1, "luck")
    cdef cnp.ndarray take_a = reading(take, cnp.NPY_DOUBLE, 1, "take")
    cdef Py_ssize_t n = cnp.PyArray_DIM(ids, 0), people = cnp.PyArray_DIM(luck_a, 0)
    cdef Py_ssize_t segments = cnp.PyArray_DIM(take_a, 0)
    # the population's other columns as long as its luck, the values one per segment
    cdef cnp.ndarray seg_a = reading(segment, cnp.NPY_INT16, 1, "segment", people)
    cdef cnp.ndarray trust_a = reading(trust, cnp.NPY_DOUBLE, 1, "trust", people)
    cdef cnp.ndarray wtp_a = reading(wtp_scale, cnp.NPY_DOUBLE, 1, "wtp_scale", people)
    cdef cnp.ndarray junk_a = reading(junk, cnp.NPY_BOOL, 1, "junk", people)
    cdef cnp.ndarray value_a = reading(value, cnp.NPY_DOUBLE, 1, "value", segments)
    cdef const int64_t* visitors = <const int64_t*>cnp.PyArray_DATA(ids)
    cdef const int16_t* segment_of = <const int16_t*>cnp.PyArray_DATA(seg_a)
    cdef const uint64_t* luck_of = <const uint64_t*>cnp.PyArray_DATA(luck_a)
    cdef const double* trust_of = <const double*>cnp.PyArray_DATA(trust_a)
    cdef const double* wtp_of = <const double*>cnp.PyArray_DATA(wtp_a)
    cdef const uint8_t* is_junk = <const uint8_t*>cnp.PyArray_DATA(junk_a)
    cdef const double* takes = <const double*>cnp.PyArray_DATA(take_a)
    cdef const double* values = <const double*>cnp.PyArray_DATA(value_a)
    cdef bint counting = rep_of is not None
    cdef cnp.ndarray reps
    cdef const int64_t* rep_at = NULL
    cdef int64_t* bought_n = NULL
    bought_counts = None
    if counting:
        reps = reading(rep_of, cnp.NPY_INT64, 1, "rep_of", people)
        rep_at = <const int64_t*>cnp.PyArray_DATA(reps)
        bought_counts = zeroed(replications, cnp.NPY_INT64)
        bought_n = <int64_t*>cnp.PyArray_DATA(bought_counts)
    buyers = fresh(n, cnp.NPY_INT64)
    decliners = fresh(n, cnp.NPY_INT64)
    cdef int64_t* b = <int64_t*>cnp.PyArray_DATA(buyers)
    cdef int64_t* d = <int64_t*>cnp.PyArray_DATA(decliners)
    cdef Py_ssize_t i, bought = 0, declined = 0
    cdef int64_t visitor, rep
    cdef int16_t seg
    for i in range(n):
        visitor = visitors[i]
        if <size_t>visitor >= <size_t>people:
            raise IndexError(f"visitor {visitor} is not among the {people}")
        seg = segment_of[visitor]
        if <size_t>seg >= <size_t>segments:
            raise IndexError(f"segment {seg} is not among the {segments}")
        if (
            uniform(luck_of[visitor] ^ salt) < takes[seg] * trust_of[visitor]
            and wtp_of[visitor] * values[seg] >= price
            and not is_junk[visitor]
        ):
            b[bought] = visitor
            bought += 1
            if counting:
                rep = rep_at[visitor]
                if <size_t>rep >= <size_t>replications:
                    raise IndexError(f"replication {rep} is not among the {replications}")
                bought_n[rep] += 1
        else:
            d[declined] = visitor
            declined += 1
    return buyers[:bought], decliners[:declined], bought_counts
