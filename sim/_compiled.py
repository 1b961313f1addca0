"""The compiled kernels, when the package was built with a C compiler (setup.py).

Each gives exactly the numbers of the numpy code it stands in for, which stays beside it
(tests/test_compiled.py runs every bundled scenario both ways). Without a compiler the
package installs all the same and numpy computes everything, more slowly.
"""

try:
    from sim._books import add_scaled, booked_renewals, booked_sale, count_by, count_into
    from sim._dice import folded, gathered, gathered_each
    from sim._mail import emailed
    from sim._sale import decided

    ENABLED = True  # whether the engine uses them (the tests switch them off)
except ImportError:  # built without a C compiler
    ENABLED = False

__all__ = [
    "ENABLED",
    "add_scaled",
    "booked_renewals",
    "booked_sale",
    "count_by",
    "count_into",
    "decided",
    "emailed",
    "folded",
    "gathered",
    "gathered_each",
]
