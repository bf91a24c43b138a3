"""ops.clip_by_global_norm: values against the formula, gradients against finite differences."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minicell as mc
from minicell import ops
from tests.gradcheck import assert_grads_match


def reference(arrays, clip_norm):
    norm = np.sqrt(sum(float((np.asarray(a, np.float64) ** 2).sum()) for a in arrays))
    return [np.asarray(a, np.float64) * clip_norm / max(norm, clip_norm) for a in arrays]


def test_mindspore_documented_example_and_dtypes():
    x = (mc.Tensor([[2.0, 3.0], [1.0, 2.0]]), mc.Tensor([[1.0, 4.0], [3.0, 1.0]]))
    out = ops.clip_by_global_norm(x, 1.0)
    assert isinstance(out, tuple) and all(t.dtype == np.float32 for t in out)
    for got, want in zip(out, reference([t.asnumpy() for t in x], 1.0)):
        np.testing.assert_allclose(got.asnumpy(), want, rtol=1e-6)
    np.testing.assert_allclose(out[0].asnumpy()[0, 0], 2 / np.sqrt(45), rtol=1e-6)


def test_small_norm_is_unchanged_and_use_norm_is_a_given_constant():
    x = [mc.Tensor(np.array([0.3, -0.4]))]
    assert np.array_equal(ops.clip_by_global_norm(x, 1.0)[0].asnumpy(), x[0].asnumpy())
    np.testing.assert_allclose(ops.clip_by_global_norm(x, 1.0, use_norm=10.0)[0].asnumpy(), [0.03, -0.04])


@given(st.lists(st.integers(1, 4), min_size=1, max_size=3), st.floats(0.1, 3.0), st.integers(0, 100))
def test_gradients_match_finite_differences(sizes, clip_norm, seed):
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal(n) for n in sizes]

    def fn(*ts):
        outs = ops.clip_by_global_norm(list(ts), clip_norm)
        return ops.concat([o for o in outs])
    assert_grads_match(fn, *arrays, rtol=1e-4, atol=1e-6)


def test_norm_is_reproducible_and_independent_of_the_source_layout():
    rng = np.random.default_rng(1)
    a = rng.standard_normal((64, 33)).astype(np.float32)
    first = ops.clip_by_global_norm([mc.Tensor(a)], 0.5)[0].asnumpy()
    again = ops.clip_by_global_norm([mc.Tensor(np.asfortranarray(a))], 0.5)[0].asnumpy()
    assert np.array_equal(first, again)


@pytest.mark.parametrize("args, error, match", [
    ((mc.Tensor([1.0]),), TypeError, r"For 'clip_by_global_norm', 'x' must be a tuple or list of Tensors"),
    (([mc.Tensor([1, 2])],), TypeError, r"'x' must be a tuple or list of floating-point Tensors, but got int64 at "
                                        r"index 0\."),
    (([np.ones(2)],), TypeError, r"but got ndarray at index 0\."),
    (([mc.Tensor([1.0])], 0.0), ValueError, r"'clip_norm' must be a finite float > 0, but got 0.0"),
    (([mc.Tensor([1.0])], 1.0, -1.0), ValueError, r"'use_norm' must be a float in \[0, inf\), but got -1.0"),
])
def test_bad_arguments(args, error, match):
    with pytest.raises(error, match=match):
        ops.clip_by_global_norm(*args)
