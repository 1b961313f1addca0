# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False
"""One email to a day's recipients in one compiled pass (for sim/steps/_email.py).

Who is still subscribed, who opens, who unsubscribes, and the readers' new trust: the
numbers of ``send_email``'s numpy code (the same draws, comparisons and sums, the same
order of the visitors), which takes some twenty array operations, each with its fixed cost,
on every email of every day.
"""

cimport numpy as cnp
from libc.stdint cimport int16_t, int64_t, uint8_t, uint64_t

from sim._arrays cimport fresh, reading, writing, zeroed
from sim._hash cimport uniform

cnp.import_array()


def emailed(
    object who,
    object subscribed,
    object segment,
    object luck,
    object trust,
    object open_rate,
    object unsubscribe_rate,
    object trust_per_open,
    object salts,
    object rep_of=None,
    Py_ssize_t replications=0,
):
    """Send an email to those of ``who`` still subscribed; warm its readers, drop its leavers.

    ``salts``: what a visitor's luck is xored with for the open and the unsubscribe draw.
    Returns the recipients, which of them opened (bools), the readers, the readers'
    segments and those who unsubscribed; with ``rep_of`` (each visitor's replication, of
    ``replications``), also how many recipients and readers each replication has (else
    None twice). Every visitor is read as they were before this email (a visitor listed
    twice is treated twice alike, as numpy's indexing does). A visitor, segment or
    replication out of range raises IndexError.
    """
    cdef cnp.ndarray ids = reading(who, cnp.NPY_INT64, 1, "who")
    cdef cnp.ndarray luck_a = reading(luck, cnp.NPY_UINT64, 1, "luck")
    cdef cnp.ndarray open_a = reading(open_rate, cnp.NPY_DOUBLE, 1, "open_rate")
    cdef Py_ssize_t n = cnp.PyArray_DIM(ids, 0), people = cnp.PyArray_DIM(luck_a, 0)
    cdef Py_ssize_t segments = cnp.PyArray_DIM(open_a, 0)
    # the population's other columns as long as its luck, the other rates one per segment
    cdef cnp.ndarray sub_a = writing(subscribed, cnp.NPY_BOOL, 1, "subscribed", people)
    cdef cnp.ndarray seg_a = reading(segment, cnp.NPY_INT16, 1, "segment", people)
    cdef cnp.ndarray trust_a = writing(trust, cnp.NPY_DOUBLE, 1, "trust", people)
    cdef cnp.ndarray leave_a = reading(
        unsubscribe_rate, cnp.NPY_DOUBLE, 1, "unsubscribe_rate", segments
    )
    cdef cnp.ndarray warm_a = reading(trust_per_open, cnp.NPY_DOUBLE, 1, "trust_per_open", segments)
    cdef cnp.ndarray salt_a = reading(salts, cnp.NPY_UINT64, 1, "salts", 2)  # open, unsubscribe
    cdef const int64_t* visitors = <const int64_t*>cnp.PyArray_DATA(ids)
    cdef uint8_t* is_subscribed = <uint8_t*>cnp.PyArray_DATA(sub_a)
    cdef const int16_t* segment_of = <const int16_t*>cnp.PyArray_DATA(seg_a)
    cdef const uint64_t* luck_of = <const uint64_t*>cnp.PyArray_DATA(luck_a)
    cdef double* trust_of = <double*>cnp.PyArray_DATA(trust_a)
    cdef const double* opens = <const double*>cnp.PyArray_DATA(open_a)
    cdef const double* leaves = <const double*>cnp.PyArray_DATA(leave_a)
    cdef const double* warms = <const double*>cnp.PyArray_DATA(warm_a)
    cdef uint64_t open_salt = (<const uint64_t*>cnp.PyArray_DATA(salt_a))[0]
    cdef uint64_t leave_salt = (<const uint64_t*>cnp.PyArray_DATA(salt_a))[1]
    cdef bint counting = rep_of is not None
    cdef cnp.ndarray reps
    cdef const int64_t* rep_at = NULL
    cdef int64_t* sent_n = NULL
    cdef int64_t* read_n = NULL
    sent_counts = read_counts = None
    if counting:
        reps = reading(rep_of, cnp.NPY_INT64, 1, "rep_of", people)
        rep_at = <const int64_t*>cnp.PyArray_DATA(reps)
        sent_counts = zeroed(replications, cnp.NPY_INT64)
        read_counts = zeroed(replications, cnp.NPY_INT64)
        sent_n = <int64_t*>cnp.PyArray_DATA(sent_counts)
        read_n = <int64_t*>cnp.PyArray_DATA(read_counts)
    recipients = fresh(n, cnp.NPY_INT64)
    opened = fresh(n, cnp.NPY_BOOL)
    readers = fresh(n, cnp.NPY_INT64)
    read_segments = fresh(n, cnp.NPY_INT64)
    gone = fresh(n, cnp.NPY_INT64)
    warmed = fresh(n, cnp.NPY_DOUBLE)
    cdef int64_t* rec = <int64_t*>cnp.PyArray_DATA(recipients)
    cdef uint8_t* op = <uint8_t*>cnp.PyArray_DATA(opened)
    cdef int64_t* rd = <int64_t*>cnp.PyArray_DATA(readers)
    cdef int64_t* rs = <int64_t*>cnp.PyArray_DATA(read_segments)
    cdef int64_t* gn = <int64_t*>cnp.PyArray_DATA(gone)
    cdef double* wm = <double*>cnp.PyArray_DATA(warmed)
    cdef Py_ssize_t i, j, sent = 0, read = 0, left = 0
    cdef int64_t visitor, rep
    cdef int16_t seg
    cdef uint64_t h
    for i in range(n):
        visitor = visitors[i]
        if <size_t>visitor >= <size_t>people:
            raise IndexError(f"visitor {visitor} is not among the {people}")
        if not is_subscribed[visitor]:
            continue
        seg = segment_of[visitor]
        if <size_t>seg >= <size_t>segments:
            raise IndexError(f"segment {seg} is not among the {segments}")
        h = luck_of[visitor]
        rec[sent] = visitor
        op[sent] = uniform(h ^ open_salt) < opens[seg]
        if counting:
            rep = rep_at[visitor]
            if <size_t>rep >= <size_t>replications:
                raise IndexError(f"replication {rep} is not among the {replications}")
            sent_n[rep] += 1
            if op[sent]:
                read_n[rep] += 1
        if op[sent]:
            rd[read] = visitor
            rs[read] = seg
            read += 1
        if uniform(h ^ leave_salt) < leaves[seg]:
            gn[left] = visitor
            left += 1
        sent += 1
    # written once all are read (sim.behavior.add_trust: min(trust + gain, 1))
    for j in range(read):
        wm[j] = trust_of[rd[j]] + warms[rs[j]]
        if wm[j] > 1.0:
            wm[j] = 1.0
    for j in range(read):
        trust_of[rd[j]] = wm[j]
    for j in range(left):
        is_subscribed[gn[j]] = 0
    return (
        recipients[:sent],
        opened[:sent],
        readers[:read],
        read_segments[:read],
        gone[:left],
        sent_counts,
        read_counts,
    )
