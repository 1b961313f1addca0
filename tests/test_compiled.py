"""The compiled dice and counts give exactly numpy's numbers, draw by draw and run by run.

The package builds them when a C compiler is at hand (setup.py); without one, numpy
computes the same. Each test compares the two on the same input.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import sim._compiled as kernels
import sim.luck as luck
from conftest import SCENARIOS
from sim import load_scenario, prepare
from sim.luck import mix_int
from sim.runner import ReplicationResult, run_batch

compiled = pytest.mark.skipif(not kernels.ENABLED, reason="built without the compiled kernels")
u64 = st.integers(min_value=0, max_value=2**64 - 1)


@pytest.fixture
def with_numpy(monkeypatch: pytest.MonkeyPatch) -> None:
    """Draw and count with numpy alone, as a package built without a C compiler does."""
    monkeypatch.setattr(kernels, "ENABLED", False)


def both(fn: object, *args: object) -> tuple[np.ndarray, np.ndarray]:
    """``fn(*args)`` with the compiled dice, then with numpy's."""
    fast = fn(*args)  # type: ignore[operator]
    kernels.ENABLED = False
    try:
        slow = fn(*args)  # type: ignore[operator]
    finally:
        kernels.ENABLED = True
    return fast, slow


def visitors(seed: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Every visitor's luck, and the ids of some of them (in any order, repeats allowed)."""
    rng = np.random.default_rng(seed)
    values = rng.integers(0, 2**64, size=n, dtype=np.uint64, endpoint=False)
    return values, rng.integers(0, n, size=n // 2 + 1)


@compiled
@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32), n=st.integers(1, 300), salts=st.lists(u64, max_size=4))
def test_compiled_draws_are_numpys_bit_for_bit(seed: int, n: int, salts: list[int]) -> None:
    values, who = visitors(seed, n)
    salt_array = np.array(salts, dtype=np.uint64)
    fast, slow = both(luck.drawn, values, who, salt_array)
    assert fast.shape == slow.shape == (len(salts), who.size)
    assert np.array_equal(fast, slow)
    fast, slow = both(luck.salted_uniforms, values, salt_array)
    assert np.array_equal(fast, slow)


@compiled
@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32), n=st.integers(1, 300), key=u64)
def test_compiled_numbered_draws_and_folds_are_numpys(seed: int, n: int, key: int) -> None:
    values, who = visitors(seed, n)
    draw = np.arange(who.size, dtype=np.int64) * 7 - 3  # negative numbers wrap as numpy's
    fast, slow = both(luck.drawn_each, values, who, key, draw)
    assert np.array_equal(fast, slow)
    fast, slow = both(luck.fold, values[who], who)
    assert fast.dtype == slow.dtype == np.uint64
    assert np.array_equal(fast, slow)


@compiled
def test_a_draw_of_a_visitor_not_in_the_population_is_refused() -> None:
    values, _ = visitors(1, 10)
    with pytest.raises(IndexError):
        luck.drawn(values, np.array([3, 10]), np.array([1], dtype=np.uint64))


@pytest.mark.usefixtures("with_numpy")
def test_the_numpy_draw_is_the_formula() -> None:
    values, who = visitors(2, 50)
    u = luck.drawn(values, who, np.array([mix_int(7)], dtype=np.uint64))[0]
    h = values[who] ^ np.uint64(mix_int(7))
    expected = [(mix_int(int(x)) >> 11) / 2.0**53 + 2.0**-54 for x in h]
    assert np.array_equal(u, np.array(expected))


@compiled
def test_a_visitor_or_replication_out_of_range_is_refused_when_counted() -> None:
    rep_of = np.repeat(np.arange(3), 4)
    with pytest.raises(IndexError):
        kernels.count_by(rep_of, np.array([0, 12]), 3)
    with pytest.raises(IndexError):
        kernels.count_by(rep_of, np.array([-1]), 3)
    with pytest.raises(IndexError):
        kernels.count_by(rep_of, np.array([0, 11]), 2)  # replication 2 of a batch of 2


@compiled
@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32), n=st.integers(0, 200), reps=st.integers(1, 9))
def test_compiled_counts_are_bincounts(seed: int, n: int, reps: int) -> None:
    rng = np.random.default_rng(seed)
    rep_of = np.sort(rng.integers(0, reps, size=n + 1))  # a population, by replication
    who = rng.integers(0, n + 1, size=n)  # runs, repeats and any order
    expected = np.bincount(rep_of[who], minlength=reps)
    assert np.array_equal(kernels.count_by(rep_of, who, reps), expected)
    table = rng.integers(0, 50, size=(reps, 4)).astype(np.float64)
    before = table.copy()
    kernels.count_into(table, 2, rep_of, who)
    before[:, 2] += expected
    assert np.array_equal(table, before)


def _batch(path: object) -> list[ReplicationResult]:
    prepared = prepare(load_scenario(path))  # type: ignore[arg-type]
    return run_batch(prepared.compiled, 7, range(3))


@compiled
@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_every_scenario_runs_the_same_with_or_without_them(
    path: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    fast = _batch(path)
    monkeypatch.setattr(kernels, "ENABLED", False)
    for ours, numpys in zip(fast, _batch(path), strict=True):
        # repr: every float to its last bit, and NaN equal to NaN
        assert repr((ours.kpis, ours.steps, ours.layers)) == repr(
            (numpys.kpis, numpys.steps, numpys.layers)
        )
        for name, series in numpys.daily.items():
            assert np.array_equal(ours.daily[name], series, equal_nan=True)
