"""Memory reuse between replications: glibc's allocator told to keep what is freed.

A replication allocates and frees the same large arrays day after day. By default glibc
serves an array over 128 KiB (a threshold that grows to at most 32 MiB as such arrays are
freed) with a fresh ``mmap`` and gives it back on free, so every new array costs a page
fault per 4 KiB page touched: at 20,000 visitors, about a tenth of a replication's
processor time. Served from the heap, and the heap not trimmed back below the working
set, freed memory is used again without faults. Elsewhere than glibc, nothing changes.
"""

from __future__ import annotations

import ctypes
import functools

# mallopt parameters (malloc.h)
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_MMAP_THRESHOLD = 32 << 20  # glibc's largest: arrays of up to 4 million float64s
_TRIM_THRESHOLD = 256 << 20  # free memory kept at the heap's top before giving it back


@functools.cache
def reuse_freed_memory() -> bool:
    """Keep freed arrays' memory for the next ones (once per process); whether it applied."""
    try:
        mallopt = ctypes.CDLL(None).mallopt  # the C library the interpreter runs on
    except (OSError, TypeError, AttributeError):  # no mallopt: not glibc (macOS, Windows)
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(
        mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD) and mallopt(_M_TRIM_THRESHOLD, _TRIM_THRESHOLD)
    )
