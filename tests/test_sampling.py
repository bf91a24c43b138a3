"""Sampling ops: known answers, one step per call, row independence, statistics, bad inputs."""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minicell as mc
from minicell import ops
from minicell import random as R
from minicell.random.sampling import categorical, multinomial, row_uniforms
from minicell.testing.strategies import seeds
from tests.bad_inputs import house
from tests.stats import chi2_pvalue

W = np.array([[1, 2, 3, 4], [0, 5, 0, 5], [0.5, 0, 0, 0.25]])


# ----- known answers -------------------------------------------------------------------------------
def uniform_by_hand(seed: int, offset: int, r: int, j: int) -> float:
    """u(r, j) from one Philox block built here (block r 2**31 + j // 2, lanes 2 (j % 2), +1)."""
    block = (r << 31) + j // 2
    counter = np.array([block & 0xFFFFFFFF, block >> 32, offset & 0xFFFFFFFF, offset >> 32], np.uint32)
    key = np.array([seed & 0xFFFFFFFF, seed >> 32], np.uint32)
    words = [int(w) for w in R.philox4x32(counter, key)]
    w0, w1 = words[2 * (j % 2)], words[2 * (j % 2) + 1]
    return (((w0 & 0xFFFFF) << 32) | w1) / 2.0 ** 52


def inverse_cdf_by_hand(weights: list[float], u: float) -> int:
    total, running = 0.0, []
    for w in weights:
        total += w
        running.append(total)
    t = u * total
    for i, c in enumerate(running):
        if c > t:
            return i
    return max(i for i, w in enumerate(weights) if w > 0)


@pytest.mark.parametrize("seed,offset,r", [(42, 7, 0), (42, 7, 5), (2 ** 64 - 1, 2 ** 64 - 1, 2 ** 33 - 1),
                                           (0x243F6A8885A308D3, 3, 12345)])
def test_uniforms_are_the_float64_uniform_draw_at_element_r_2_32_plus_j(seed, offset, r):
    got = row_uniforms(seed, offset, np.array([r]), 5)[0]
    for j in range(5):
        assert got[j] == uniform_by_hand(seed, offset, r, j)
        assert got[j] == R.uniform(seed, offset, (1,), dtype=np.float64, start=r * 2 ** 32 + j)[0]


def test_known_answers():
    assert multinomial(42, 7, W, 6).tolist() == [[3, 3, 3, 3, 3, 3], [1, 3, 1, 1, 1, 3], [3, 0, 0, 3, 0, 0]]
    assert multinomial(42, 7, W, 2, replacement=False).tolist() == [[3, 2], [1, 3], [3, 0]]
    assert row_uniforms(42, 7, np.array([1]), 2).tolist() == [[0.18784756843370665, 0.6196486240106114]]
    assert categorical(2 ** 64 - 1, 2 ** 64 - 1, np.array([[0.5, 1.5, -1.0, 2.0]]), 0.7, top_k=2,
                       batch_start=2 ** 33 - 1).tolist() == [3]


@pytest.mark.parametrize("seed,offset,start", [(42, 7, 0), (9, 2 ** 40, 1000), (2 ** 63 + 5, 1, 2 ** 33 - 3)])
def test_multinomial_is_the_inverse_cdf_of_the_uniforms(seed, offset, start):
    weights = np.array([[0.1, 0.0, 0.7, 0.2, 0.0], [3.0, 1.0, 0.0, 0.0, 1e-3], [0.0, 0.0, 0.0, 0.0, 2.5]])
    got = multinomial(seed, offset, weights, 4, batch_start=start)
    for i, row in enumerate(weights.tolist()):
        for j in range(4):
            assert got[i, j] == inverse_cdf_by_hand(row, uniform_by_hand(seed, offset, start + i, j))


def test_without_replacement_is_sequential_inverse_cdf():
    weights = np.array([[0.1, 0.0, 0.7, 0.2, 0.4], [3.0, 1.0, 2.0, 0.5, 1e-3]])
    got = multinomial(5, 6, weights, 4, replacement=False, batch_start=9)
    for i, row in enumerate(weights.tolist()):
        left = list(row)
        for j in range(4):
            pick = inverse_cdf_by_hand(left, uniform_by_hand(5, 6, 9 + i, j))
            assert got[i, j] == pick
            left[pick] = 0.0


def test_categorical_is_multinomial_of_the_tempered_softmax():
    logits = np.array([[0.3, -1.0, 2.0, 0.0, 1.5], [1.0, 1.0, -np.inf, 0.5, 0.2]])
    for temperature, k in [(1.0, None), (0.5, 2), (2.0, 3), (1.0, 99)]:
        x = logits.copy()
        if k is not None and k < 5:
            kth = np.sort(x, axis=1)[:, -k][:, None]
            x[x < kth] = -np.inf
        w = np.exp((x - x.max(axis=1, keepdims=True)) / temperature)
        for offset in range(20):
            expected = multinomial(3, offset, w, 1, batch_start=4)[:, 0]
            assert categorical(3, offset, logits, temperature, k, batch_start=4).tolist() == expected.tolist()
    assert categorical(3, 0, logits, 0.0).tolist() == [2, 0]


# ----- the ops ------------------------------------------------------------------------------------------
def test_each_op_reserves_one_step_and_matches_the_stateless_function():
    gen = mc.Generator().manual_seed(11)
    gen(4)
    got = ops.multinomial(mc.Tensor(W.astype(np.float32)), 3, generator=gen)
    assert int(gen.get_state()[1]) == 5 and got.dtype == np.int64
    assert got.asnumpy().tolist() == multinomial(11, 4, W, 3).tolist()
    got = ops.sample_logits(mc.Tensor(W), 0.9, top_k=2, generator=gen, batch_start=3)
    assert int(gen.get_state()[1]) == 6 and got.shape == (3,)
    assert got.asnumpy().tolist() == categorical(11, 5, W, 0.9, 2, 3).tolist()
    assert ops.multinomial(mc.Tensor(W[0]), 2, False, gen).shape == (2,)
    assert ops.sample_logits(mc.Tensor(W[0]), generator=gen).shape == ()
    assert int(gen.get_state()[1]) == 8


def test_default_generator_is_used_when_none():
    mc.manual_seed(123)
    a = ops.sample_logits(mc.Tensor(W)).asnumpy()
    assert int(mc.get_rng_state()[1]) == 1
    assert a.tolist() == categorical(123, 0, W).tolist()


@st.composite
def batches(draw):
    n = draw(st.integers(1, 7))
    k = draw(st.integers(1, 6))
    w = draw(st.lists(st.lists(st.floats(0, 10, allow_subnormal=False), min_size=k, max_size=k), min_size=n,
                      max_size=n))
    w = np.array(w)
    w[:, draw(st.integers(0, k - 1))] += 1.0  # every row has a positive weight
    cuts = sorted(draw(st.lists(st.integers(0, n), max_size=3)))
    return w, [0] + cuts + [n]


@given(batches(), seeds(), st.integers(0, 2 ** 64 - 1), st.integers(0, 2 ** 20), st.integers(1, 5))
def test_rows_alone_in_shards_or_in_any_batch_give_the_same_samples(batch, seed, offset, start, count):
    w, cuts = batch
    whole = multinomial(seed, offset, w, count, batch_start=start)
    for a, b in zip(cuts[:-1], cuts[1:]):  # shards [a, b) of the batch
        assert np.array_equal(multinomial(seed, offset, w[a:b], count, batch_start=start + a), whole[a:b])
    for i in range(len(w)):  # a row alone, as 1-D weights, and inside a batch of other (reversed) rows
        assert np.array_equal(multinomial(seed, offset, w[i], count, batch_start=start + i), whole[i])
        others = np.concatenate([w[i:i + 1], w[::-1]])  # row i first, then any other rows
        assert np.array_equal(multinomial(seed, offset, others, count, batch_start=start + i)[0], whole[i])
    assert np.array_equal(multinomial(seed, offset, w, count + 2, batch_start=start)[:, :count], whole)
    logits = np.log(w + 1e-3)
    together = categorical(seed, offset, logits, 0.8, 3, batch_start=start)
    for i in range(len(w)):
        assert categorical(seed, offset, logits[i], 0.8, 3, batch_start=start + i) == together[i]


@given(batches(), seeds(), st.integers(0, 2 ** 64 - 1))
def test_without_replacement_rows_are_independent_and_distinct(batch, seed, offset):
    w, cuts = batch
    count = int(np.count_nonzero(w > 0, axis=1).min())
    whole = multinomial(seed, offset, w, count, replacement=False)
    for a, b in zip(cuts[:-1], cuts[1:]):
        assert np.array_equal(multinomial(seed, offset, w[a:b], count, replacement=False, batch_start=a), whole[a:b])
    for i, row in enumerate(whole):
        assert len(set(row.tolist())) == count and (w[i, row] > 0).all()


# ----- statistics (fixed seeds) --------------------------------------------------------------------
def test_with_replacement_follows_the_weights():
    weights = np.array([0.5, 0.0, 3.0, 1.0, 0.25, 2.0])
    draws = multinomial(2024, 0, weights, 60000)
    counts = np.bincount(draws, minlength=6)
    assert counts[1] == 0
    keep = weights > 0
    assert chi2_pvalue(counts[keep], 60000 * weights[keep] / weights.sum()) > 1e-4


def test_without_replacement_follows_sequential_draws():
    weights = np.array([1.0, 2.0, 3.0, 4.0])
    p = weights / weights.sum()
    rows = np.broadcast_to(weights, (20000, 4))
    draws = multinomial(77, 1, rows, 2, replacement=False)
    first = np.bincount(draws[:, 0], minlength=4)
    assert chi2_pvalue(first, 20000 * p) > 1e-4
    second = np.bincount(draws[:, 1], minlength=4)  # P(second = b) = sum_a p_a p_b / (1 - p_a)
    expected = np.array([sum(p[a] * p[b] / (1 - p[a]) for a in range(4) if a != b) for b in range(4)])
    assert chi2_pvalue(second, 20000 * expected) > 1e-4


def test_sample_logits_follows_the_tempered_top_k_softmax():
    logits = np.array([2.0, 1.0, 0.0, -1.0, 0.5])
    rows = np.broadcast_to(logits, (30000, 5))
    draws = categorical(31, 4, rows, 0.5, top_k=3)
    counts = np.bincount(draws, minlength=5)
    assert counts[2] == 0 and counts[3] == 0
    w = np.exp(np.array([2.0, 1.0, 0.5]) / 0.5)
    assert chi2_pvalue(counts[[0, 1, 4]], 30000 * w / w.sum()) > 1e-4


# ----- bad inputs: house errors, nothing reserved -------------------------------------------------------
def _bad_cases():
    t = mc.Tensor
    f = np.float32
    cases = [
        ("multinomial", lambda g: ops.multinomial([1.0, 2.0], 1, generator=g), TypeError,
         house("multinomial", "input", "a float Tensor", "an object of type list")),
        ("multinomial", lambda g: ops.multinomial(t(np.array([1, 2])), 1, generator=g), TypeError,
         house("multinomial", "input", "a float Tensor", "a Tensor of dtype int64")),
        ("multinomial", lambda g: ops.multinomial(t(np.ones((2, 2, 2), f)), 1, generator=g), ValueError,
         house("multinomial", "input", "a 1-D or 2-D Tensor with at least one category (last axis)",
               "shape [2, 2, 2]")),
        ("multinomial", lambda g: ops.multinomial(t(np.ones((2, 0), f)), 1, generator=g), ValueError,
         house("multinomial", "input", "a 1-D or 2-D Tensor with at least one category (last axis)",
               "shape [2, 0]")),
        ("multinomial", lambda g: ops.multinomial(t(np.array([1.0, -0.5], f)), 1, generator=g), ValueError,
         house("multinomial", "input", "finite non-negative weights", "-0.5")),
        ("multinomial", lambda g: ops.multinomial(t(np.array([1.0, np.nan], f)), 1, generator=g), ValueError,
         house("multinomial", "input", "finite non-negative weights", "NaN")),
        ("multinomial", lambda g: ops.multinomial(t(np.array([1.0, np.inf], f)), 1, generator=g), ValueError,
         house("multinomial", "input", "finite non-negative weights", "inf")),
        ("multinomial", lambda g: ops.multinomial(t(np.array([[1.0, 0], [0, 0]], f)), 1, generator=g), ValueError,
         house("multinomial", "input", "rows with a positive sum", "row 1 of zeros")),
        ("multinomial", lambda g: ops.multinomial(t(np.array([1.7e308, 1.7e308])), 1, generator=g), ValueError,
         house("multinomial", "input", "rows whose sum is finite in float64", "row 0 summing to inf")),
        ("multinomial", lambda g: ops.multinomial(t(W), 0, generator=g), ValueError,
         house("multinomial", "num_samples", "an int in [1, 4294967297)", "0")),
        ("multinomial", lambda g: ops.multinomial(t(W), 2.0, generator=g), TypeError,
         house("multinomial", "num_samples", "an int", "2.0")),
        ("multinomial", lambda g: ops.multinomial(t(W), 3, replacement=False, generator=g), ValueError,
         house("multinomial", "num_samples", "at most 2 (the fewest categories of positive weight in a row) "
               "without replacement", "3")),
        ("multinomial", lambda g: ops.multinomial(t(W), 5, replacement=False, generator=g), ValueError,
         house("multinomial", "num_samples", "at most 2 (the fewest categories of positive weight in a row) "
               "without replacement", "5")),
        ("multinomial", lambda g: ops.multinomial(t(W), 1, replacement=1, generator=g), TypeError,
         house("multinomial", "replacement", "a bool", "1")),
        ("multinomial", lambda g: ops.multinomial(t(W), 1, generator=g, batch_start=-1), ValueError,
         house("multinomial", "batch_start", "an int in [0, inf)", "-1")),
        ("multinomial", lambda g: ops.multinomial(t(W), 1, generator=g, batch_start=2 ** 33 - 2), ValueError,
         house("multinomial", "batch_start", "at most 8589934589 for 3 rows (global rows below 2**33)",
               "8589934590")),
        ("multinomial", lambda g: ops.multinomial(t(W), 1, generator="gen"), TypeError,
         house("multinomial", "generator", "a Generator or None", "'gen'")),
        ("sample_logits", lambda g: ops.sample_logits(t(np.array([0.0, np.nan])), generator=g), ValueError,
         house("sample_logits", "logits", "floats below +inf (-inf masks a category)", "NaN")),
        ("sample_logits", lambda g: ops.sample_logits(t(np.array([0.0, np.inf])), generator=g), ValueError,
         house("sample_logits", "logits", "floats below +inf (-inf masks a category)", "inf")),
        ("sample_logits", lambda g: ops.sample_logits(t(np.array([[0.0, 1.0], [-np.inf, -np.inf]])), generator=g),
         ValueError, house("sample_logits", "logits", "rows with a finite value", "row 1 of -inf")),
        ("sample_logits", lambda g: ops.sample_logits(t(W), -1.0, generator=g), ValueError,
         house("sample_logits", "temperature", "a float in [0, inf)", "-1.0")),
        ("sample_logits", lambda g: ops.sample_logits(t(W), math.nan, generator=g), ValueError,
         house("sample_logits", "temperature", "a float in [0, inf)", "nan")),
        ("sample_logits", lambda g: ops.sample_logits(t(W), top_k=0, generator=g), ValueError,
         house("sample_logits", "top_k", "an int in [1, inf)", "0")),
        ("sample_logits", lambda g: ops.sample_logits(t(W), top_k=2.5, generator=g), TypeError,
         house("sample_logits", "top_k", "None or an int", "2.5")),
        ("sample_logits", lambda g: ops.sample_logits(t(np.array([1, 2])), generator=g), TypeError,
         house("sample_logits", "logits", "a float Tensor", "a Tensor of dtype int64")),
    ]
    return [pytest.param(call, kind, message, id=f"{who}-{i}") for i, (who, call, kind, message) in enumerate(cases)]


@pytest.mark.parametrize("call,kind,message", _bad_cases())
def test_bad_inputs_raise_house_errors_and_reserve_nothing(call, kind, message):
    gen = mc.Generator().manual_seed(5)
    gen(2)
    with pytest.raises(kind, match=message):
        call(gen)
    assert int(gen.get_state()[1]) == 2


def test_stateless_functions_check_seed_and_offset():
    with pytest.raises(ValueError, match=house("multinomial", "seed", "an int in [0, 18446744073709551616)", "-1")):
        multinomial(-1, 0, W, 1)
    with pytest.raises(TypeError, match=house("categorical", "offset", "an int", "1.5")):
        categorical(0, 1.5, W)
