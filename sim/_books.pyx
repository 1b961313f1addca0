# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False
"""A batch's bookings by replication in one compiled pass each (for sim/ledger.py).

The books of a batch have a row per replication; counting the visitors a step books, or
booking a payment into four daily series and the step's revenue, takes numpy a gather, a
count and an addition per series, each with its fixed cost, on every step of every day.
These do it in one loop, with the same integers and the same float operations. Every
index is checked: a visitor, replication, day or column out of range raises IndexError.
"""

cimport numpy as cnp
from libc.stdint cimport int64_t
from libc.stdlib cimport calloc, free

from sim._arrays cimport reading, writing, zeroed

cnp.import_array()


cdef struct Books:
    # a 2-D float table (replications × columns) written in place
    double* data
    Py_ssize_t rows, columns


cdef Books _books(object table, str name, Py_ssize_t rows=-1) except *:
    cdef cnp.ndarray arr = writing(table, cnp.NPY_DOUBLE, 2, name)
    cdef Books books
    books.data = <double*>cnp.PyArray_DATA(arr)
    books.rows = cnp.PyArray_DIM(arr, 0)
    books.columns = cnp.PyArray_DIM(arr, 1)
    if rows >= 0 and books.rows != rows:
        raise ValueError(f"{name}: {books.rows} rows, the books have {rows} replications")
    return books


cdef inline int _column(Books books, Py_ssize_t column) except -1:
    if <size_t>column >= <size_t>books.columns:
        raise IndexError(f"column {column} is not among the {books.columns}")
    return 0


cdef cnp.ndarray _counts(object counts, Py_ssize_t rows):
    # the counts per replication, one per row of the books
    cdef cnp.ndarray arr = reading(counts, cnp.NPY_INT64, 1, "counts")
    if cnp.PyArray_DIM(arr, 0) != rows:
        raise ValueError(f"{cnp.PyArray_DIM(arr, 0)} counts for {rows} replications")
    return arr


def count_into(object table, Py_ssize_t column, object rep_of, object who):
    """``table[rep_of[w], column] += 1`` for each visitor ``w`` of ``who``.

    Counts are whole numbers far below 2**53: the float sums are exact in any order.
    """
    cdef Books books = _books(table, "table")
    _column(books, column)
    cdef cnp.ndarray reps = reading(rep_of, cnp.NPY_INT64, 1, "rep_of")
    cdef cnp.ndarray ids = reading(who, cnp.NPY_INT64, 1, "who")
    cdef Py_ssize_t r
    cdef int64_t* runs = <int64_t*>calloc(max(books.rows, 1), sizeof(int64_t))
    if runs == NULL:
        raise MemoryError()
    try:
        _runs(reps, ids, runs, books.rows)
        for r in range(books.rows):
            if runs[r]:
                books.data[r * books.columns + column] += runs[r]
    finally:
        free(runs)


def count_by(object rep_of, object who, Py_ssize_t replications):
    """How many of ``who`` belong to each replication (``bincount(rep_of[who])``)."""
    cdef cnp.ndarray reps = reading(rep_of, cnp.NPY_INT64, 1, "rep_of")
    cdef cnp.ndarray ids = reading(who, cnp.NPY_INT64, 1, "who")
    cdef cnp.ndarray out = zeroed(max(replications, 0), cnp.NPY_INT64)
    _runs(reps, ids, <int64_t*>cnp.PyArray_DATA(out), replications)
    return out


cdef int _runs(cnp.ndarray reps, cnp.ndarray ids, int64_t* out, Py_ssize_t replications) except -1:
    # Visitors come in runs of one replication (a day's arrivals are every replication's in
    # turn, and a step keeps their order): counting a run in a register, not in memory,
    # spares each visitor a read and a write of its replication's count.
    cdef const int64_t* rep_of = <const int64_t*>cnp.PyArray_DATA(reps)
    cdef const int64_t* who = <const int64_t*>cnp.PyArray_DATA(ids)
    cdef Py_ssize_t i, n = cnp.PyArray_DIM(ids, 0), people = cnp.PyArray_DIM(reps, 0)
    cdef int64_t visitor, rep, current = -1, run = 0
    for i in range(n):
        visitor = who[i]
        if <size_t>visitor >= <size_t>people:  # a negative id wraps to a huge one
            raise IndexError(f"visitor {visitor} is not among the {people}")
        rep = rep_of[visitor]
        if rep != current:
            if <size_t>rep >= <size_t>replications:
                raise IndexError(f"replication {rep} is not among the {replications}")
            if run:
                out[current] += run
            current, run = rep, 0
        run += 1
    if run:
        out[current] += run
    return 0


def add_scaled(object table, Py_ssize_t column, object counts, double each, object also=None):
    """``table[:, column] += counts * each`` (and the same into ``also``, if given).

    A cost per visitor: each replication's count of visitors times the amount each, as
    numpy's ``rows += counts * each`` computes it (the count made a float, then the product).
    """
    cdef Books books = _books(table, "table"), more
    _column(books, column)
    cdef cnp.ndarray counted = _counts(counts, books.rows)
    cdef const int64_t* n = <const int64_t*>cnp.PyArray_DATA(counted)
    cdef bint both = also is not None
    if both:
        more = _books(also, "also", books.rows)
        _column(more, column)
    cdef Py_ssize_t r
    cdef double amount
    for r in range(books.rows):
        amount = <double>n[r] * each
        books.data[r * books.columns + column] += amount
        if both:
            more.data[r * more.columns + column] += amount


def booked_sale(object revenue, object fees, object cogs_books, object orders,
                object step_revenue, Py_ssize_t day, Py_ssize_t step, object counts,
                double price, double fee, double cogs):
    """Book ``counts[r]`` payments of ``price`` on ``day`` in each replication r's books.

    The float operations of ``Ledger.sale`` with one price and one day: the total is the
    count made a float times the price; its fee is the total times the fee; its cost of
    goods is the unit cost times the count; ``orders`` (None for an order bump) gains the
    count, and the step's revenue the total.
    """
    cdef Books rev = _books(revenue, "revenue")
    cdef Books fee_books = _books(fees, "fees", rev.rows)
    cdef Books cogs_t = _books(cogs_books, "cogs", rev.rows)
    cdef Books by_step = _books(step_revenue, "step revenue", rev.rows)
    cdef Books order_books
    cdef bint new_orders = orders is not None
    if new_orders:
        order_books = _books(orders, "orders", rev.rows)
        _column(order_books, day)
    _column(rev, day)
    _column(fee_books, day)
    _column(cogs_t, day)
    _column(by_step, step)
    cdef cnp.ndarray counts_array = _counts(counts, rev.rows)
    cdef const int64_t* counted = <const int64_t*>cnp.PyArray_DATA(counts_array)
    cdef Py_ssize_t r
    cdef double n, total
    for r in range(rev.rows):
        n = <double>counted[r]
        total = n * price
        rev.data[r * rev.columns + day] += total
        fee_books.data[r * fee_books.columns + day] += total * fee
        cogs_t.data[r * cogs_t.columns + day] += cogs * n
        if new_orders:
            order_books.data[r * order_books.columns + day] += n
        by_step.data[r * by_step.columns + step] += total


def booked_renewals(object revenue, object fees, object cogs_books, object orders,
                    object step_revenue, Py_ssize_t step, object rep_of, object who,
                    object renewals, Py_ssize_t day, Py_ssize_t period, double price,
                    double fee, double cogs):
    """Book the renewals of subscribers who joined on ``day``, counted by renewal.

    ``who[i]`` pays ``price`` on days ``day + k · period``, k = 1 … ``renewals[i]``. How
    many of each replication pay the k-th renewal is a whole number; each day's books gain
    it as ``Ledger.renewals`` adds it with numpy: the value (the count made a float times
    the price), its fee, the unit cost times the count, the count; the step's revenue gains
    the replication's number of renewals times the price.
    """
    cdef Books rev = _books(revenue, "revenue")
    cdef Books fee_books = _books(fees, "fees", rev.rows)
    cdef Books cogs_t = _books(cogs_books, "cogs", rev.rows)
    cdef Books order_books = _books(orders, "orders", rev.rows)
    cdef Books by_step = _books(step_revenue, "step revenue", rev.rows)
    _column(by_step, step)
    cdef cnp.ndarray reps = reading(rep_of, cnp.NPY_INT64, 1, "rep_of")
    cdef cnp.ndarray ids = reading(who, cnp.NPY_INT64, 1, "who")
    cdef cnp.ndarray times = reading(renewals, cnp.NPY_INT64, 1, "renewals")
    cdef const int64_t* rep_at = <const int64_t*>cnp.PyArray_DATA(reps)
    cdef const int64_t* visitors = <const int64_t*>cnp.PyArray_DATA(ids)
    cdef const int64_t* paid_by = <const int64_t*>cnp.PyArray_DATA(times)
    cdef Py_ssize_t i, k, r, cell, replications = rev.rows, n = cnp.PyArray_DIM(ids, 0)
    cdef Py_ssize_t people = cnp.PyArray_DIM(reps, 0)
    cdef int64_t most = 0, visitor, rep, paid, paying
    cdef double value, count
    if cnp.PyArray_DIM(times, 0) != n:
        raise ValueError("one number of renewals per subscriber")
    for i in range(n):
        if paid_by[i] < 0:
            raise ValueError("a number of renewals is negative")
        if paid_by[i] > most:
            most = paid_by[i]
    if most == 0:
        return
    for cell in (day + period, day + period * most):  # the first renewal's day, the last's
        _column(rev, cell)
        _column(fee_books, cell)
        _column(cogs_t, cell)
        _column(order_books, cell)
    # ending[r * (most + 1) + k]: subscribers of replication r who renew exactly k times
    cdef int64_t* ending = <int64_t*>calloc(replications * (most + 1), sizeof(int64_t))
    if ending == NULL:
        raise MemoryError()
    try:
        for i in range(n):
            visitor = visitors[i]
            if <size_t>visitor >= <size_t>people:
                raise IndexError(f"visitor {visitor} is not among the {people}")
            rep = rep_at[visitor]
            if <size_t>rep >= <size_t>replications:
                raise IndexError(f"replication {rep} is not among the {replications}")
            ending[rep * (most + 1) + paid_by[i]] += 1
        for r in range(replications):
            paid = 0
            paying = 0  # how many of the replication renew k times or more
            for k in range(most, 0, -1):
                paying += ending[r * (most + 1) + k]
                count = <double>paying
                value = count * price
                cell = day + k * period
                rev.data[r * rev.columns + cell] += value
                fee_books.data[r * fee_books.columns + cell] += value * fee
                cogs_t.data[r * cogs_t.columns + cell] += cogs * count
                order_books.data[r * order_books.columns + cell] += count
                paid += paying
            by_step.data[r * by_step.columns + step] += <double>paid * price
    finally:
        free(ending)
