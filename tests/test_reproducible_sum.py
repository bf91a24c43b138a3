"""reproducible_sum: correctly rounded (checked against Fraction), identical for any world size,
order and spread over ranks, deterministic inf/NaN; ranks simulated by threads in-process."""
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minicell._exact import exact_sum as _exact_sum
from minicell._exact import superaccumulator as sa
from minicell.communication import reproducible_sum
from tests.simulated_world import run_ranks

LIMITS = {np.float32: (2 ** 128, 24, -149), np.float64: (2 ** 1024, 53, -1074)}


def correctly_rounded(exact: Fraction, dtype) -> float:
    """Round a rational to the nearest float of ``dtype`` (ties to even), from its definition."""
    top, precision, tiny = LIMITS[dtype]
    if exact == 0:
        return 0.0
    sign, magnitude = (-1 if exact < 0 else 1), abs(exact)
    exponent = max(magnitude.numerator.bit_length() - magnitude.denominator.bit_length(), tiny + precision - 1)
    while Fraction(2) ** exponent > magnitude and exponent > tiny + precision - 1:
        exponent -= 1
    while Fraction(2) ** (exponent + 1) <= magnitude:
        exponent += 1
    unit = Fraction(2) ** max(exponent - precision + 1, tiny)   # spacing of floats there
    q, rest = divmod(magnitude, unit)
    if rest > unit / 2 or (rest == unit / 2 and q % 2 == 1):
        q += 1
    value = q * unit
    if value >= top:
        return sign * float("inf")
    return sign * float(value)


def exact_sum(columns: list) -> list[Fraction]:
    return [sum((Fraction(float(v)) for v in col), Fraction(0)) for col in columns]


def expected(contributions: list[np.ndarray], dtype) -> np.ndarray:
    rows = np.stack(contributions)
    out = []
    for col in rows.T:
        if np.isnan(col).any() or (np.isposinf(col).any() and np.isneginf(col).any()):
            out.append(np.nan)
        elif np.isinf(col).any():
            out.append(col[np.isinf(col)][0])
        elif (col == 0).all() and np.signbit(col).all():
            out.append(-0.0)  # IEEE: a sum is -0.0 only when every term is -0.0
        else:
            out.append(correctly_rounded(exact_sum([col])[0], dtype))
    return np.array(out, dtype)


def spread_sum(contributions: list[np.ndarray], owners: list[int], size: int) -> list[np.ndarray]:
    shape, dtype = contributions[0].shape, contributions[0].dtype
    return run_ranks(size, lambda world: _exact_sum.reproducible_sum(
        [c for c, o in zip(contributions, owners) if o == world.rank], world, shape, dtype))


def same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    return a.dtype == b.dtype and a.tobytes() == b.tobytes()


@st.composite
def problems(draw, dtype=None):
    dtype = dtype or draw(st.sampled_from([np.float32, np.float64]))
    width = 32 if dtype == np.float32 else 64
    length = draw(st.integers(1, 4))
    count = draw(st.integers(1, 7))
    finite = st.floats(width=width, allow_nan=False, allow_infinity=False)
    wide = st.builds(lambda m, e, s: s * m * 2.0 ** e, st.floats(1, 2), st.integers(-149, 127),
                     st.sampled_from([1, -1]))
    values = st.one_of(finite, wide.filter(lambda v: abs(v) < 3.4e38), st.just(0.0), st.just(1e-45), st.just(3e38))
    contributions = [np.array(draw(st.lists(values, min_size=length, max_size=length)), dtype) for _ in range(count)]
    if draw(st.booleans()):  # catastrophic cancellation: the last contributions undo the first ones
        contributions += [-c for c in contributions[: draw(st.integers(1, count))]]
    size = draw(st.integers(1, 4))
    owners = [draw(st.integers(0, size - 1)) for _ in contributions]
    return contributions, owners, size


@settings(max_examples=60)
@given(problems(), st.randoms(use_true_random=False))
def test_correctly_rounded_and_identical_for_any_spread_and_order(problem, random):
    contributions, owners, size = problem
    dtype = contributions[0].dtype.type
    want = expected(contributions, dtype)
    alone = _exact_sum.exact_sum_rows(np.stack(contributions))
    assert same_bits(alone, want), (alone, want)
    shuffled = list(zip(contributions, owners))
    random.shuffle(shuffled)
    for result in spread_sum([c for c, _ in shuffled], [o for _, o in shuffled], size):
        assert same_bits(result, want)


def test_cancellation_across_the_whole_float32_range_is_exact():
    big, small = np.float32(3e38), np.float32(1e-45)
    parts = [np.array([big, small, 1.0], np.float32), np.array([small, -big, 2 ** -24], np.float32),
             np.array([-big, big, -1.0], np.float32), np.array([big, small, 0.0], np.float32)]
    for size in (1, 2, 3):
        for result in spread_sum(parts, [i % size for i in range(4)], size):
            assert same_bits(result, expected(parts, np.float32))
    assert float(expected(parts, np.float32)[1]) == pytest.approx(2e-45, rel=0.5)


@pytest.mark.parametrize("values,want", [
    ([1.0, np.inf, 2.0], np.inf), ([np.inf, -np.inf], np.nan), ([-np.inf, -1.0], -np.inf),
    ([np.nan, np.inf], np.nan), ([3e38, 3e38], np.inf), ([-3e38, -3e38, 3e38], -3e38),
])
def test_infinities_and_nan_propagate_the_same_way_everywhere(values, want):
    parts = [np.array([v], np.float32) for v in values]
    for size in (1, 2, 3):
        for result in spread_sum(parts, [i % size for i in range(len(parts))], size):
            assert same_bits(result, np.array([want], np.float32)), result


def test_nan_result_has_one_bit_pattern_whatever_the_input_nan():
    quiet = np.array([np.nan], np.float32)
    other = np.array([0x7FC00001], np.uint32).view(np.float32)
    negative = -quiet
    results = [reproducible_sum(c) for c in ([quiet, other], [negative, quiet], [other])]
    assert all(same_bits(r, results[0]) for r in results)


def test_float32_fast_path_and_integer_fallback_agree_to_the_bit():
    rng = np.random.default_rng(1)
    rows = (rng.standard_normal((5, 3000)) * np.exp2(rng.integers(-40, 40, (5, 3000)))).astype(np.float32)
    fast = _exact_sum.exact_sum_rows(rows)
    slow = _exact_sum._fallback(rows, sa.FORMATS[np.dtype(np.float32)])
    assert same_bits(fast, slow)


def test_float64_subnormal_and_overflow_results_are_correctly_rounded():
    tiny = 5e-324
    parts = [np.array([tiny, 1.7e308, 2.5 * tiny], np.float64), np.array([tiny, 1.7e308, -tiny], np.float64)]
    got = reproducible_sum(parts)
    assert got[0] == 2 * tiny and got[1] == np.inf
    assert got[2] == correctly_rounded(Fraction(2.5 * tiny) - Fraction(tiny), np.float64)


def test_empty_ranks_and_empty_arrays():
    parts = [np.ones((2, 3), np.float32)]
    results = run_ranks(3, lambda world: _exact_sum.reproducible_sum(parts if world.rank == 1 else [], world,
                                                                     (2, 3), np.float32))
    assert all(same_bits(r, np.ones((2, 3), np.float32)) for r in results)
    assert reproducible_sum([np.zeros(0, np.float64)]).shape == (0,)
    assert same_bits(reproducible_sum([], shape=(2,), dtype=np.float32), np.zeros(2, np.float32))


@pytest.mark.parametrize("args,kwargs,error,match", [
    ((np.ones(3),), {}, TypeError, "'contributions' must be a list of arrays"),
    (([],), {}, ValueError, "non-empty unless 'shape' and 'dtype' are given"),
    (([np.ones(3, np.int32)],), {}, TypeError, "must be float32 or float64 arrays, but got dtype int32"),
    (([np.ones(3, np.float32), np.ones(4, np.float32)],), {}, ValueError, r"contributions\[1\] has shape \[4\]"),
    (([np.ones(3, np.float32), np.ones(3, np.float64)],), {}, ValueError, "and dtype float64"),
])
def test_bad_contributions(args, kwargs, error, match):
    with pytest.raises(error, match=match):
        reproducible_sum(*args, **kwargs)


def test_ranks_that_disagree_on_the_shape_all_get_the_same_error():
    def body(world):
        try:
            _exact_sum.reproducible_sum([np.ones(3 + world.rank, np.float32)], world)
        except ValueError as error:
            return str(error)
    messages = run_ranks(2, body)
    assert messages[0] == messages[1] and "same size and dtype" in messages[0]


@settings(max_examples=40)
@given(st.integers(1, 9), st.integers(-149, 100), st.integers(0, 33), st.randoms(use_true_random=False))
def test_narrow_span_columns_are_summed_exactly_by_float64_and_the_bound_is_tight(count, low, span, random):
    """``narrow_span`` accepts a column iff its exponent span is at most 29 - ceil(log2 n), and a
    float64 running sum of an accepted column equals the exact (Fraction) sum: the worst case,
    all significand bits set and every value at the edge of the span, included."""
    limit = 29 - (count - 1).bit_length()
    high = min(low + span, 127)
    top, bottom = np.float32(2.0 ** high * (2 - 2.0 ** -23)), np.float32(2.0 ** max(low, -126) * (1 + 2.0 ** -23))
    if low < -126:  # a subnormal bottom: field 1's unit, like 2**-126
        bottom = np.float32(2.0 ** low)
    signs = [random.choice([1, -1]) for _ in range(count)]
    column = [np.float32(s * (top if i % 2 == 0 else bottom)) for i, s in enumerate(signs)]
    rows = [np.array([v, v * 0, random.choice([top, bottom])], np.float32) for v in column]
    mask = _exact_sum.narrow_span(rows)
    def field(v: float) -> int:
        return max(int(np.float32(abs(v)).view(np.uint32)) >> 23, 1)

    fields = [field(v) for v in column if v != 0]
    assert bool(mask[0]) == (max(fields) - min(fields) <= limit)
    assert mask[1]  # all zeros
    for j in np.flatnonzero(mask):
        total = np.float64(0)
        for r in rows:
            total += np.float64(r[j])
        assert Fraction(float(total)) == exact_sum([[r[j] for r in rows]])[0]


def test_inf_and_nan_columns_are_never_narrow():
    rows = [np.array([np.inf, np.nan, 3e38, 1.0], np.float32), np.array([1e38, 1.0, np.inf, 1.0], np.float32)]
    assert _exact_sum.narrow_span(rows).tolist() == [False, False, False, True]


def test_weighted_rows_give_the_bits_of_whole_weighted_arrays():
    """Weighting chunk by chunk (pieces crossing chunk boundaries) is the whole-array product."""
    rng = np.random.default_rng(3)
    sizes = [_exact_sum.CHUNK + 5, 3, 2 * _exact_sum.CHUNK - 1, 1]
    weights = [0.25, 1 / 3, 0.1]
    sources = [[(rng.standard_normal(n) * np.exp2(rng.integers(-60, 20, n))).astype(np.float32) for n in sizes]
               for _ in weights]
    whole = [np.concatenate([a * np.float32(w) for a in source]) for source, w in zip(sources, weights)]
    rows = _exact_sum.WeightedRows(sources, weights, np.float32, sizes)
    bounds = [(0, 7), (7, 2 * _exact_sum.CHUNK), (2 * _exact_sum.CHUNK, rows.width)]  # slices for 3 ranks
    want = np.concatenate([w[lo:hi] for lo, hi in bounds for w in whole])
    assert same_bits(rows.send_buffer(bounds), want)
    fused = _exact_sum.exact_sum_rows(rows)
    assert same_bits(fused, _exact_sum._fallback(np.stack(whole), sa.FORMATS[np.dtype(np.float32)]))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("count", [1, 2, 5])
def test_a_sum_of_negative_zeros_is_negative_zero_on_every_path(dtype, count):
    """-0.0 only when every contribution is -0.0, whether the chunk is narrow, wide or weighted."""
    wide = np.float32(3e30) if dtype == np.float32 else 1e300
    rows = np.zeros((count, 2 * _exact_sum.CHUNK + 3), dtype)
    rows[:, : _exact_sum.CHUNK] = -0.0          # a chunk of -0.0 only
    rows[:, _exact_sum.CHUNK:] = -0.0
    rows[0, _exact_sum.CHUNK + 1] = wide        # a chunk with a wide span: per-column checks
    rows[0, _exact_sum.CHUNK + 2] = 1e-30
    rows[-1, -1] = 0.0                         # one +0.0: the sum is +0.0
    want = np.full(rows.shape[1], -0.0, dtype)
    for k in (_exact_sum.CHUNK + 1, _exact_sum.CHUNK + 2):
        want[k] = rows[0, k]
    want[-1] = 0.0
    weighted = _exact_sum.WeightedRows([[r] for r in rows], [1.0] * count, dtype, [rows.shape[1]])
    for got in (_exact_sum.exact_sum_rows(rows), _exact_sum.exact_sum_rows(list(rows)),
                _exact_sum.exact_sum_rows(weighted)):
        assert same_bits(got, want)
