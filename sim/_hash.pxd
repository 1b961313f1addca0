# The hash of sim/luck.py in C, shared by the compiled modules that draw.
from libc.stdint cimport uint64_t


cdef inline uint64_t mix(uint64_t x) noexcept nogil:
    # the splitmix64 finalizer (sim.luck.mix); unsigned arithmetic wraps modulo 2**64
    x ^= x >> 30
    x *= <uint64_t>0xBF58476D1CE4E5B9
    x ^= x >> 27
    x *= <uint64_t>0x94D049BB133111EB
    return x ^ (x >> 31)


cdef inline double uniform(uint64_t h) noexcept nogil:
    # sim.luck.to_uniform of mix(h): the top 53 bits and a half, over 2**53 (each step exact)
    return (<double>(mix(h) >> 11) + 0.5) * 1.1102230246251565e-16
