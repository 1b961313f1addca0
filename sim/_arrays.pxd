# The arrays the compiled loops read and write, checked with numpy's C API.
#
# A batch calls the loops a few thousand times, mostly on a few dozen visitors each; a
# typed memoryview costs some 150 ns to take from an array, several per call, more than
# the loop itself. These checks cost a few nanoseconds: the type, the dimensions, and that
# the data lies in one C-ordered block the loop can walk with a pointer.
cimport numpy as cnp


cdef inline cnp.ndarray _typed(object a, int typenum, int ndim, str name, Py_ssize_t at_least):
    if not cnp.PyArray_Check(a):
        raise TypeError(f"{name}: expected a numpy array, not {type(a).__name__}")
    cdef cnp.ndarray arr = <cnp.ndarray>a
    if not cnp.PyArray_EquivTypenums(cnp.PyArray_TYPE(arr), typenum):
        raise ValueError(f"{name}: expected {cnp.PyArray_DescrFromType(typenum)}, not {arr.dtype}")
    if cnp.PyArray_NDIM(arr) != ndim:
        raise ValueError(f"{name}: expected {ndim} dimension(s), not {cnp.PyArray_NDIM(arr)}")
    if cnp.PyArray_DIM(arr, 0) < at_least:
        raise ValueError(f"{name}: {cnp.PyArray_DIM(arr, 0)} entries, fewer than {at_least}")
    return arr


cdef inline cnp.ndarray reading(
    object a, int typenum, int ndim, str name, Py_ssize_t at_least=0
):
    # ``a`` to read: of that type and dimensions, in one C-ordered block (a copy if strided);
    # ``at_least``: the entries it must have along its first axis (a population's column)
    cdef cnp.ndarray arr = _typed(a, typenum, ndim, name, at_least)
    if not cnp.PyArray_IS_C_CONTIGUOUS(arr):
        arr = cnp.PyArray_GETCONTIGUOUS(arr)
    return arr


cdef inline cnp.ndarray writing(
    object a, int typenum, int ndim, str name, Py_ssize_t at_least=0
):
    # ``a`` to write in place: of that type and dimensions, in one C-ordered block, writeable
    cdef cnp.ndarray arr = _typed(a, typenum, ndim, name, at_least)
    if not cnp.PyArray_IS_C_CONTIGUOUS(arr):
        raise ValueError(f"{name}: an array written in place must be C-contiguous")
    if not cnp.PyArray_ISWRITEABLE(arr):
        raise ValueError(f"{name}: the array is read-only")
    return arr


cdef inline cnp.ndarray fresh(Py_ssize_t n, int typenum):
    # a new 1-D array of ``n`` entries, not initialised
    cdef cnp.npy_intp size = n
    return cnp.PyArray_EMPTY(1, &size, typenum, 0)


cdef inline cnp.ndarray zeroed(Py_ssize_t n, int typenum):
    # a new 1-D array of ``n`` zeros
    cdef cnp.npy_intp size = n
    return cnp.PyArray_ZEROS(1, &size, typenum, 0)
