"""Stateless distributions: known answers from words, the slice property, statistics, errors."""
import math
from statistics import NormalDist

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minicell as mc
from minicell import random as R
from minicell._special import ndtri
from minicell.testing import assert_bitwise_equal, assert_slice_invariant, fingerprint
from tests.bad_inputs import house
from tests.stats import binomial_bounds, chi2_pvalue, ks_pvalue, normal_cdf

U64 = st.integers(0, 2**64 - 1)
SEED, OFFSET = 0x0123456789ABCDEF, 42


def words(n, start=0):
    return [int(w) for w in R.random_words(SEED, OFFSET, n, start=start)]


def u32(w):
    return (w & 0x7FFFFF) * 2.0**-23


def u64(w0, w1):
    return (((w0 & 0xFFFFF) << 32) | w1) * 2.0**-52


# ----- known answers, hand-computed from the words ---------------------------------------------
def test_uniform_known_answers():
    w = words(8)
    assert R.uniform(SEED, OFFSET, 4).tolist() == [np.float32(u32(x)) for x in w[:4]]
    assert R.uniform(SEED, OFFSET, 3, dtype=np.float64).tolist() == [u64(w[2 * i], w[2 * i + 1]) for i in range(3)]
    scaled = R.uniform(SEED, OFFSET, 4, low=-3.0, high=5.0)
    expected = [np.float32(-3.0) + np.float32(8.0) * np.float32(u32(x)) for x in w[:4]]
    assert np.allclose(scaled, expected, rtol=0, atol=1e-6)


def test_normal_known_answers():
    w = words(16)
    expected32 = []
    for k in range(4):
        u1, v = max(u32(w[2 * k]), 1e-7), 2 * math.pi * u32(w[2 * k + 1])
        r = math.sqrt(-2 * math.log(u1))
        expected32 += [r * math.sin(v), r * math.cos(v)]
    np.testing.assert_allclose(R.normal(SEED, OFFSET, 8), expected32, rtol=2e-6, atol=2e-6)
    expected64 = []
    for k in range(2):
        u1, v = max(u64(w[4 * k], w[4 * k + 1]), 1e-7), 2 * math.pi * u64(w[4 * k + 2], w[4 * k + 3])
        r = math.sqrt(-2 * math.log(u1))
        expected64 += [r * math.sin(v), r * math.cos(v)]
    np.testing.assert_allclose(R.normal(SEED, OFFSET, 4, dtype=np.float64), expected64, rtol=1e-13)
    np.testing.assert_allclose(R.normal(SEED, OFFSET, 2, mean=3.0, std=2.0), 3.0 + 2.0 * np.array(expected32[:2]),
                               rtol=1e-5)


def test_truncated_normal_known_answer():
    w = words(4)
    dist = NormalDist()
    lo, hi = dist.cdf(-1.0), dist.cdf(2.0)
    expected = [dist.inv_cdf(lo + (u64(w[2 * i], w[2 * i + 1]) + 2.0**-53) * (hi - lo)) for i in range(2)]
    got = R.truncated_normal(SEED, OFFSET, 2, a=-1.0, b=2.0, dtype=np.float64)
    np.testing.assert_allclose(got, expected, rtol=2e-9)


def test_ndtri_matches_the_standard_library():
    p = np.concatenate([np.logspace(-300, -1, 200), np.linspace(0.01, 0.99, 199), 1 - np.logspace(-16, -2, 50)])
    expected = np.array([NormalDist().inv_cdf(v) for v in p])
    np.testing.assert_allclose(ndtri(p), expected, rtol=1.2e-9)


def test_randint_known_answers():
    w = words(16)
    small = [3 + ((w[2 * i] << 32 | w[2 * i + 1]) * 10 >> 64) for i in range(4)]
    assert R.randint(SEED, OFFSET, 3, 13, 4).tolist() == small
    n = 3 * 2**40 + 7
    x = [(w[4 * i] << 96) | (w[4 * i + 1] << 64) | (w[4 * i + 2] << 32) | w[4 * i + 3] for i in range(2)]
    assert R.randint(SEED, OFFSET, -5, n - 5, 2).tolist() == [-5 + (v * n >> 128) for v in x]
    full = R.randint(SEED, OFFSET, 0, 2**64, 2, dtype=np.uint64)
    assert full.tolist() == [(v * 2**64) >> 128 for v in x]


def test_keep_mask_and_bernoulli_known_answers():
    w = words(4)
    lanes = [half for x in w for half in (x & 0xFFFF, x >> 16)]
    t = round(0.3 * 65536)
    assert R.keep_mask(SEED, OFFSET, 8, 0.3).tolist() == [lane >= t for lane in lanes]
    assert R.keep_mask(SEED, OFFSET, 3, 0.3, start=5).tolist() == [lane >= t for lane in lanes[5:8]]
    assert R.bernoulli(SEED, OFFSET, 4, 0.25).tolist() == [float(x < 2**30) for x in w]
    assert not R.keep_mask(SEED, OFFSET, 100, 1.0).any() and R.keep_mask(SEED, OFFSET, 100, 0.0).all()
    assert not R.keep_mask(SEED, OFFSET, 100_000, 1 - 2**-18).any()  # t rounds to 65536: nothing kept
    assert R.keep_mask(SEED, OFFSET, 200_000, 1 - 2**-16).sum() > 0  # t = 65535: lanes equal to 65535 kept


def test_permutation_known_answer():
    w = words(20)
    keys = [(w[4 * i] << 96) | (w[4 * i + 1] << 64) | (w[4 * i + 2] << 32) | w[4 * i + 3] for i in range(5)]
    assert R.permutation(SEED, OFFSET, 5).tolist() == sorted(range(5), key=lambda i: keys[i])


# ----- the slice property, determinism, streams ------------------------------------------------
DRAWS = {
    "uniform32": lambda s, o, n, start: R.uniform(s, o, n, start=start),
    "uniform64": lambda s, o, n, start: R.uniform(s, o, n, low=-2.0, high=3.0, dtype=np.float64, start=start),
    "normal32": lambda s, o, n, start: R.normal(s, o, n, start=start),
    "normal64": lambda s, o, n, start: R.normal(s, o, n, mean=1.0, std=2.0, dtype=np.float64, start=start),
    "truncated": lambda s, o, n, start: R.truncated_normal(s, o, n, a=-0.5, b=3.0, start=start),
    "randint": lambda s, o, n, start: R.randint(s, o, -7, 100, n, start=start),
    "randint_wide": lambda s, o, n, start: R.randint(s, o, -2**62, 2**62, n, start=start),
    "keep_mask": lambda s, o, n, start: R.keep_mask(s, o, n, 0.37, start=start),
    "bernoulli": lambda s, o, n, start: R.bernoulli(s, o, n, 0.6, start=start),
}


@pytest.mark.parametrize("name", sorted(DRAWS))
@given(seed=U64, offset=U64, a=st.integers(0, 300), b=st.integers(0, 300))
def test_slice_of_whole_equals_draw_with_start(name, seed, offset, a, b):
    draw = DRAWS[name]
    a, b = min(a, b), max(a, b)
    assert_slice_invariant(lambda start, count: draw(seed, offset, count, start), 300, [a, b - a, 300 - b])


@pytest.mark.parametrize("name", sorted(DRAWS))
@given(seed=U64, offset=U64)
def test_different_offsets_or_seeds_differ(name, seed, offset):
    draw = DRAWS[name]
    base = draw(seed, offset, 64, 0)
    assert not np.array_equal(base, draw(seed, offset ^ 1, 64, 0))
    assert not np.array_equal(base, draw(seed ^ (1 << 40), offset, 64, 0))


def test_large_draws_split_across_threads_equal_the_serial_ones():
    previous = mc.get_num_threads()
    try:
        mc.set_num_threads(1)
        serial = {name: draw(5, 6, 2**19 + 3, 7) for name, draw in DRAWS.items()}
        mc.set_num_threads(2)
        assert_bitwise_equal({name: draw(5, 6, 2**19 + 3, 7) for name, draw in DRAWS.items()}, serial)
    finally:
        mc.set_num_threads(previous)


@given(seed=U64, offset=U64)
def test_values_in_range(seed, offset):
    assert ((u := R.uniform(seed, offset, 500, low=2.0, high=2.5)) >= 2.0).all() and (u < 2.5).all()
    t = R.truncated_normal(seed, offset, 500, mean=1.0, std=3.0, a=0.5, b=0.7)
    assert (t >= 0.5).all() and (t <= 0.7).all()
    r = R.randint(seed, offset, -3, 4, 500, dtype=np.int8)
    assert r.dtype == np.int8 and r.min() >= -3 and r.max() <= 3
    assert sorted(R.permutation(seed, offset, 50).tolist()) == list(range(50))


# ----- statistics (fixed seeds, loose thresholds) ----------------------------------------------
N = 20_000


def test_uniform_statistics():
    for dtype in (np.float32, np.float64):
        assert ks_pvalue(R.uniform(1, 2, N, dtype=dtype), lambda x: x) > 1e-4


def test_normal_statistics():
    for dtype in (np.float32, np.float64):
        assert ks_pvalue(R.normal(3, 4, N, dtype=dtype), normal_cdf) > 1e-4
    assert ks_pvalue(R.normal(3, 4, N, mean=-1.0, std=0.5), lambda x: normal_cdf(x, -1.0, 0.5)) > 1e-4


@pytest.mark.parametrize("a,b", [(-2.0, 2.0), (0.5, 3.0), (3.0, 4.0), (-6.0, -5.5)])
def test_truncated_normal_statistics(a, b):
    dist = NormalDist(0.5, 1.5)
    lo, hi = dist.cdf(a), dist.cdf(b)
    samples = R.truncated_normal(5, 6, N, mean=0.5, std=1.5, a=a, b=b, dtype=np.float64)
    assert samples.min() >= a and samples.max() <= b
    cdf = lambda x: (np.array([dist.cdf(v) for v in x]) - lo) / (hi - lo)  # noqa: E731
    assert ks_pvalue(samples, cdf) > 1e-4


@pytest.mark.parametrize("low,high", [(0, 7), (-50, 50), (0, 3 * 2**40 + 1)])
def test_randint_statistics(low, high):
    values = R.randint(7, 8, low, high, N)
    bins = 10 if high - low > 100 else high - low
    counts = np.bincount(((values - low) * bins // (high - low)).astype(np.int64), minlength=bins)
    edges = [low + (i * (high - low) + bins - 1) // bins for i in range(bins + 1)]
    expected = np.diff(edges) / (high - low) * N
    assert chi2_pvalue(counts, expected) > 1e-4


def test_keep_rate_and_bernoulli_rate():
    for p in (0.1, 0.5, 0.9):
        kept = R.keep_mask(9, 10, N, p).sum()
        lo, hi = binomial_bounds(N, 1 - p)
        assert lo <= kept <= hi
        ones = R.bernoulli(9, 10, N, p).sum()
        lo, hi = binomial_bounds(N, p)
        assert lo <= ones <= hi


def test_permutation_positions_are_uniform():
    n, trials = 6, 3000
    counts = np.zeros((n, n))
    for offset in range(trials):
        counts[np.arange(n), R.permutation(11, offset, n)] += 1
    assert chi2_pvalue(counts.reshape(-1), np.full(n * n, trials / n)) > 1e-4


# ----- invalid arguments -----------------------------------------------------------------------
U64_RANGE = "an int in [0, 18446744073709551616)"
FLOATS = "one of ['float32', 'float64']"
INVALID = [
    (R.uniform, dict(seed=-1), ValueError, "seed", U64_RANGE, "-1"),
    (R.uniform, dict(offset=2**64), ValueError, "offset", U64_RANGE, "an int of 65 bits"),
    (R.uniform, dict(shape=(-1,)), ValueError, "shape", "a tuple of non-negative ints", "(-1,)"),
    (R.uniform, dict(shape=(2.0,)), TypeError, "shape", "a tuple of ints", "(2.0,)"),
    (R.uniform, dict(low=1.0, high=0.0), ValueError, "low", "at most 'high' (0.0)", "1.0"),
    (R.uniform, dict(dtype=np.int32), TypeError, "dtype", FLOATS, "int32"),
    (R.uniform, dict(low=float("nan")), ValueError, "low", "a finite float", "nan"),
    (R.uniform, dict(start=-1), ValueError, "start", "an int in [0, inf)", "-1"),
    (R.normal, dict(std=-1.0), ValueError, "std", "a float >= 0", "-1.0"),
    (R.normal, dict(dtype=np.float16), TypeError, "dtype", FLOATS, "float16"),
    (R.normal, dict(mean=float("inf")), ValueError, "mean", "a finite float", "inf"),
    (R.truncated_normal, dict(a=1.0, b=0.0), ValueError, "a", "at most 'b' (0.0)", "1.0"),
    (R.truncated_normal, dict(std=0.0), ValueError, "std", "a float > 0", "0.0"),
    (R.truncated_normal, dict(a=float("nan")), ValueError, "a", "a finite float", "nan"),
    (R.truncated_normal, dict(a=100.0, b=101.0), ValueError, "[a, b]",
     "an interval with float64 probability mass under Normal(0.0, 1.0)", "[100.0, 101.0]"),
    (R.keep_mask, dict(p=1.5), ValueError, "p", "a float in [0, 1]", "1.5"),
    (R.keep_mask, dict(p=float("nan")), ValueError, "p", "a float in [0, 1]", "nan"),
    (R.keep_mask, dict(p=True), TypeError, "p", "a real number", "True"),
    (R.keep_mask, dict(p="0.5"), TypeError, "p", "a real number", "'0.5'"),
    (R.bernoulli, dict(p=-0.1), ValueError, "p", "a float in [0, 1]", "-0.1"),
    (R.bernoulli, dict(p=np.array([0.5, 2.0])), ValueError, "p", "probabilities in [0, 1]", "values in [0.5, 2.0]"),
]


@pytest.mark.parametrize("fn,bad,error,arg,expected,got", INVALID, ids=lambda v: getattr(v, "__name__", str(v)))
def test_invalid_arguments_raise(fn, bad, error, arg, expected, got):
    args = dict(seed=1, offset=2, shape=(3,))
    if fn in (R.keep_mask, R.bernoulli):
        args["p"] = 0.5
    args.update(bad)
    with pytest.raises(error, match=house(fn.__name__, arg, expected, got)):
        fn(**args)


@pytest.mark.parametrize("bad,error,arg,expected,got", [
    (dict(low=5, high=5), ValueError, "high", "greater than 'low' (5)", "5"),
    (dict(low=0, high=300, dtype=np.int8), ValueError, "[low, high)", "inside the range of int8 [-128, "
                                                                      "127]", "[0, 300)"),
    (dict(low=0.5, high=3), TypeError, "low", "an int", "0.5"),
    (dict(dtype=np.float32), TypeError, "dtype",
     "one of ['int8', 'int16', 'int32', 'int64', 'uint8', 'uint16', 'uint32', 'uint64']", "float32"),
    (dict(low=-1, high=3, dtype=np.uint8), ValueError, "[low, high)", "inside the range of uint8 [0, 255]", "[-1, 3)"),
])
def test_invalid_randint_arguments(bad, error, arg, expected, got):
    args = dict(seed=1, offset=2, low=0, high=10, shape=(3,))
    args.update(bad)
    with pytest.raises(error, match=house("randint", arg, expected, got)):
        R.randint(**args)


@pytest.mark.parametrize("bad,error,expected", [(-1, ValueError, "an int in [0, 4611686018427387904)"),
                                                (2.0, TypeError, "an int"), (True, TypeError, "an int")])
def test_invalid_permutation_arguments(bad, error, expected):
    with pytest.raises(error, match=house("permutation", "n", expected, repr(bad))):
        R.permutation(1, 2, bad)


def test_forked_child_draws_the_same_large_values():
    import multiprocessing
    import os
    if not hasattr(os, "fork"):
        pytest.skip("no fork on this platform")
    expected = R.uniform(3, 4, 2**20)  # starts the thread pool in the parent
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(1) as pool:
        digest = pool.apply(_digest_of_large_draw)
    assert digest == fingerprint(expected)


def _digest_of_large_draw():
    return fingerprint(R.uniform(3, 4, 2**20))
