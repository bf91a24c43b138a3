"""The exact sum of squares behind global-norm clipping, against an independent rational reference.

``minicell._exact.norms.square_limbs`` must hold ``sum x**2`` exactly and ``round_square_limbs``
must round it once: the reference is Python's ``fractions.Fraction`` (exact rationals; ``float()``
of a Fraction is correctly rounded). float32 and float16 take the binned path, float64 the
extraction levels; both are pinned here, and so is the merge of slices held by several ranks.
"""
from __future__ import annotations

from fractions import Fraction

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from minicell._exact import norms
from tests.simulated_world import run_ranks


def exact_square_sum(arrays: list[np.ndarray]) -> float:
    total = sum((Fraction(float(v)) ** 2 for a in arrays for v in np.asarray(a).ravel()), Fraction(0))
    return float(total)


def rounded(arrays: list[np.ndarray]) -> float:
    return norms.round_square_limbs(*norms.square_limbs(arrays))


def wide_float32(draw: st.DrawFn, size: int) -> np.ndarray:
    """float32 values over the whole exponent range: subnormals, zeros of both signs, the largest."""
    values = draw(st.lists(st.floats(width=32, allow_nan=False, allow_infinity=False), min_size=size,
                           max_size=size))
    return np.array(values, np.float32)


@st.composite
def float32_arrays(draw: st.DrawFn) -> list[np.ndarray]:
    return [wide_float32(draw, draw(st.integers(0, 40))) for _ in range(draw(st.integers(1, 4)))]


@settings(max_examples=150, deadline=None)
@given(float32_arrays())
def test_float32_square_sums_are_correctly_rounded(arrays):
    assert rounded(arrays) == exact_square_sum(arrays)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(width=16, allow_nan=False, allow_infinity=False), min_size=1, max_size=50))
def test_float16_square_sums_are_correctly_rounded(values):
    arrays = [np.array(values, np.float16)]
    assert rounded(arrays) == exact_square_sum(arrays)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.one_of(st.just(0.0), st.floats(min_value=2.0 ** -500, max_value=2.0 ** 500),
                          st.floats(min_value=-(2.0 ** 500), max_value=-(2.0 ** -500))), min_size=1, max_size=40))
def test_float64_square_sums_are_correctly_rounded(values):
    arrays = [np.array(values, np.float64)]
    assert rounded(arrays) == exact_square_sum(arrays)


def test_many_equal_squares_in_one_bin_stay_exact():
    """A bin adds many 27-bit halves: 2**20 squares of one value, plus a tiny one that must count."""
    big = np.full(1 << 20, np.float32(1.0 + 2.0 ** -23))
    tiny = np.array([np.float32(2.0 ** -140)], np.float32)
    want = float(Fraction(float(big[0])) ** 2 * (1 << 20) + Fraction(float(tiny[0])) ** 2)
    assert rounded([big, tiny]) == want


def test_inf_and_nan_are_flagged():
    assert rounded([np.array([1.0, -np.inf], np.float32)]) == float("inf")
    assert np.isnan(rounded([np.array([np.inf, np.nan], np.float32)]))
    assert np.isnan(rounded([np.array([2.0], np.float64), np.array([np.nan], np.float32)]))
    assert rounded([np.zeros(5, np.float32), np.array([], np.float32)]) == 0.0
    with np.errstate(invalid="ignore"):
        negative_nan = np.float32(0) / np.float32(0)  # x86 gives a NaN with the sign bit set
    assert np.isnan(rounded([np.array([negative_nan, -negative_nan, 1.0], np.float32)]))
    assert np.isnan(rounded([np.array([negative_nan], np.float16)]))


def test_slices_merged_across_ranks_give_the_whole_sum():
    rng = np.random.default_rng(4)
    arrays = [(rng.standard_normal(n) * np.exp2(rng.integers(-120, 100, n))).astype(np.float32) for n in (50, 7, 300)]
    whole = rounded(arrays)
    assert whole == exact_square_sum(arrays)
    for size in (2, 3):
        pieces = [[a[r::size] for a in arrays] for r in range(size)]
        assert run_ranks(size, lambda w, pieces=pieces: norms.global_square_sum(pieces[w.rank], w)) == [whole] * size
