# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False
"""The dice of :mod:`sim.luck` in one compiled pass over the visitors.

Each function gives exactly the values of its numpy counterpart in :mod:`sim.luck` (the
same integers, the same float): numpy takes a dozen passes over a draw's arrays, each with
its own fixed cost, this one loop. :mod:`sim.luck` uses these when the package was built
with them and numpy otherwise; ``tests/test_compiled.py`` compares the two.
"""

cimport numpy as cnp
from libc.stdint cimport int64_t, uint64_t

from sim._arrays cimport fresh, reading
from sim._hash cimport mix as _mix
from sim._hash cimport uniform as _uniform

cnp.import_array()


cdef inline int _check(const int64_t* who, Py_ssize_t n, Py_ssize_t people) except -1:
    cdef Py_ssize_t i
    for i in range(n):
        if <size_t>who[i] >= <size_t>people:  # a negative id wraps to a huge one
            raise IndexError(f"visitor {who[i]} is not among the {people}")
    return 0


def gathered(object luck, object who, object salts):
    """``out[k, i] = U(mix(luck[who[i]] ^ salts[k]))``: several draws of the visitors ``who``."""
    cdef cnp.ndarray luck_a = reading(luck, cnp.NPY_UINT64, 1, "luck")
    cdef cnp.ndarray ids = reading(who, cnp.NPY_INT64, 1, "who")
    cdef cnp.ndarray salt_a = reading(salts, cnp.NPY_UINT64, 1, "salts")
    cdef Py_ssize_t n = cnp.PyArray_DIM(ids, 0), m = cnp.PyArray_DIM(salt_a, 0), i, k
    cdef const uint64_t* luck_of = <const uint64_t*>cnp.PyArray_DATA(luck_a)
    cdef const int64_t* visitors = <const int64_t*>cnp.PyArray_DATA(ids)
    cdef const uint64_t* salt_of = <const uint64_t*>cnp.PyArray_DATA(salt_a)
    _check(visitors, n, cnp.PyArray_DIM(luck_a, 0))
    cdef cnp.npy_intp shape[2]
    shape[0], shape[1] = m, n
    out = cnp.PyArray_EMPTY(2, shape, cnp.NPY_DOUBLE, 0)
    cdef double* o = <double*>cnp.PyArray_DATA(out)
    cdef uint64_t v
    with nogil:
        for i in range(n):
            v = luck_of[visitors[i]]
            for k in range(m):
                o[k * n + i] = _uniform(v ^ salt_of[k])
    return out


def gathered_each(object luck, object who, uint64_t key, object draw):
    """``out[i] = U(mix(luck[who[i]] ^ mix(key ^ draw[i])))``: one numbered draw each."""
    cdef cnp.ndarray luck_a = reading(luck, cnp.NPY_UINT64, 1, "luck")
    cdef cnp.ndarray ids = reading(who, cnp.NPY_INT64, 1, "who")
    cdef cnp.ndarray draws = reading(draw, cnp.NPY_INT64, 1, "draw")
    cdef Py_ssize_t n = cnp.PyArray_DIM(ids, 0), i
    if cnp.PyArray_DIM(draws, 0) != n:
        raise ValueError("one draw number per visitor")
    cdef const uint64_t* luck_of = <const uint64_t*>cnp.PyArray_DATA(luck_a)
    cdef const int64_t* visitors = <const int64_t*>cnp.PyArray_DATA(ids)
    cdef const int64_t* number = <const int64_t*>cnp.PyArray_DATA(draws)
    _check(visitors, n, cnp.PyArray_DIM(luck_a, 0))
    out = fresh(n, cnp.NPY_DOUBLE)
    cdef double* o = <double*>cnp.PyArray_DATA(out)
    with nogil:
        for i in range(n):
            o[i] = _uniform(luck_of[visitors[i]] ^ _mix(key ^ <uint64_t>number[i]))
    return out


def folded(object keys, object parts):
    """``out[i] = mix(keys[i] ^ parts[i])`` (:func:`sim.luck.fold` of two arrays)."""
    cdef cnp.ndarray key_a = reading(keys, cnp.NPY_UINT64, 1, "keys")
    cdef cnp.ndarray part_a = reading(parts, cnp.NPY_UINT64, 1, "parts")
    cdef Py_ssize_t n = cnp.PyArray_DIM(part_a, 0), i
    if cnp.PyArray_DIM(key_a, 0) != n:
        raise ValueError("one key per part")
    cdef const uint64_t* k = <const uint64_t*>cnp.PyArray_DATA(key_a)
    cdef const uint64_t* p = <const uint64_t*>cnp.PyArray_DATA(part_a)
    out = fresh(n, cnp.NPY_UINT64)
    cdef uint64_t* o = <uint64_t*>cnp.PyArray_DATA(out)
    with nogil:
        for i in range(n):
            o[i] = _mix(k[i] ^ p[i])
    return out
