"""The compiled dice and counts give exactly numpy's numbers, draw by draw and run by run.

The package builds them when a C compiler is at hand (setup.py); without one, numpy
computes the same. Each test compares the two on the same input.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import sim._compiled as kernels
import sim.luck as luck
from conftest import SCENARIOS
from sim import load_scenario, prepare
from sim.ledger import Ledger
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


def _books(reps: int, rep_of: np.ndarray) -> Ledger:
    people = SimpleNamespace(replication=rep_of, channel=np.zeros(rep_of.size, dtype=np.int16))
    return Ledger(
        60,
        4,
        payment_fee=0.029,
        commission=np.zeros(1),
        people=people,  # type: ignore[arg-type]
        n_segments=1,
        replications=reps,
    )


def _book_everything(books: Ledger, rng: np.random.Generator, rep_of: np.ndarray) -> None:
    """Bookings of one amount each, on several days, as a batch's steps make them."""
    for day in range(6):
        who = np.sort(rng.integers(0, rep_of.size, size=int(rng.integers(0, 40))))
        books.sale(1, who, 49.5, day, cogs=3.25, new_orders=True)
        books.sale(2, who[::2], 17.0, day, cogs=0.0, new_orders=False)  # an order bump
        renewals = rng.integers(0, 4, size=who.size)
        books.renewals(3, who, renewals, day, 12, 19.99, cogs=1.5)
        books.cost_each("acquisition", day, 0.013, who, step=0)
        books.cost_each("traffic", day, 0.7, who, step=0)
        books.tally_each("revenue", 0, who, 2.5)
        books.tally("reached", 1, who)
        books.known(who, np.bincount(rep_of[who], minlength=books.replications))
        books.tally("converted", 1, who)


@compiled
@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32), reps=st.integers(2, 6))
def test_compiled_bookings_are_numpys_to_the_last_bit(seed: int, reps: int) -> None:
    rep_of = np.sort(np.random.default_rng(seed).integers(0, reps, size=300))
    fast = _books(reps, rep_of)
    _book_everything(fast, np.random.default_rng(seed + 1), rep_of)
    kernels.ENABLED = False
    try:
        slow = _books(reps, rep_of)
        _book_everything(slow, np.random.default_rng(seed + 1), rep_of)
    finally:
        kernels.ENABLED = True
    assert fast._compiled_books  # the kernels booked one, numpy the other
    assert not slow._compiled_books
    for ours, numpys in ((fast._d, slow._d), (fast._s, slow._s), (fast._lines, slow._lines)):
        for name, table in numpys.items():
            assert np.array_equal(ours[name], table), name


@compiled
def test_a_booking_out_of_range_or_into_the_wrong_array_is_refused() -> None:
    rep_of = np.repeat(np.arange(2), 5)
    table = np.zeros((2, 30))
    counts = np.array([1, 2])
    with pytest.raises(IndexError):  # a renewal past the horizon
        kernels.booked_renewals(
            *[np.zeros((2, 30)) for _ in range(5)],
            0,
            rep_of,
            np.array([1]),
            np.array([3]),
            5,
            10,
            9.0,
            0.0,
            0.0,
        )
    with pytest.raises(IndexError):  # a day past the horizon
        kernels.add_scaled(table, 30, counts, 1.0)
    with pytest.raises(ValueError, match="counts"):  # one count per replication
        kernels.add_scaled(table, 0, np.array([1]), 1.0)
    with pytest.raises(ValueError, match="float64"):
        kernels.count_into(table.astype(np.float32), 0, rep_of, np.array([1]))
    frozen = table.copy()
    frozen.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        kernels.count_into(frozen, 0, rep_of, np.array([1]))
    with pytest.raises(ValueError, match="C-contiguous"):
        kernels.count_into(np.zeros((30, 2)).T, 0, rep_of, np.array([1]))
    kernels.count_into(table, 3, rep_of, np.arange(10)[::3])  # strided visitors are read
    assert table[:, 3].tolist() == [2.0, 2.0]  # visitors 0, 3 | 6, 9


@compiled
@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32), reps=st.integers(1, 5))
def test_an_email_and_a_sale_count_what_they_select_by_replication(seed: int, reps: int) -> None:
    rng = np.random.default_rng(seed)
    n = 120
    rep_of = np.sort(rng.integers(0, reps, size=n))
    segment = rng.integers(0, 2, size=n).astype(np.int16)
    luck_ = rng.integers(0, 2**64, size=n, dtype=np.uint64, endpoint=False)
    who = rng.integers(0, n, size=80)
    rates = np.array([0.3, 0.6])
    sent, _, readers, _, _, sent_n, read_n = kernels.emailed(
        who,
        rng.random(n) < 0.8,
        segment,
        luck_,
        rng.random(n),
        rates,
        rates / 10,
        rates / 5,
        np.array([11, 12], dtype=np.uint64),
        rep_of,
        reps,
    )
    assert np.array_equal(sent_n, np.bincount(rep_of[sent], minlength=reps))
    assert np.array_equal(read_n, np.bincount(rep_of[readers], minlength=reps))
    buyers, _, bought_n = kernels.decided(
        who,
        segment,
        luck_,
        rng.random(n),
        rng.random(n) * 2,
        rng.random(n) < 0.1,
        rates,
        np.array([10.0, 20.0]),
        9.0,
        np.uint64(5),
        rep_of,
        reps,
    )
    assert np.array_equal(bought_n, np.bincount(rep_of[buyers], minlength=reps))
    rest = (*[np.ones(n)] * 2, np.zeros(n, bool), rates, rates, 0.0, np.uint64(5))
    with pytest.raises(IndexError):  # a replication beyond the batch
        kernels.decided(who, segment, luck_, *rest, rep_of + 1, reps)
    with pytest.raises(ValueError, match="segment: 5 entries"):  # a column shorter than luck
        kernels.decided(who, segment[:5], luck_, *rest)
