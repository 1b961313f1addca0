"""The visitors' columns: what a new visitor's entries start at."""

from __future__ import annotations

import numpy as np

from sim.population import ARRIVAL_TRAITS, COLUMNS, Population


def test_a_trait_not_given_starts_at_zero_even_where_memory_was_used_before() -> None:
    """Arrival traits are not zeroed in advance (arrivals write them); one not given is."""
    people = Population(capacity=16)
    for name in COLUMNS:  # what reused memory might hold
        getattr(people, name)[:] = 1
    people.add(segment=np.full(4, 2, dtype=np.int16))
    for name in ARRIVAL_TRAITS - {"segment"}:
        assert not people.column(name).any(), name
    assert people.column("segment").tolist() == [2, 2, 2, 2]
