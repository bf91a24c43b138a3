"""MaxPool2d / AvgPool2d: forward against a naive loop, gradients, MindSpore's modes, errors."""
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minicell as mc
from minicell import nn, ops
from tests.gradcheck import assert_grads_match


def naive_pool(x, k, s, mode, kind):
    """One output at a time; 'same' pads (odd element after) and averages over inside taps only."""
    n, c, h, w = x.shape
    if mode == "same":
        ho, wo = math.ceil(h / s[0]), math.ceil(w / s[1])
        top = max((ho - 1) * s[0] + k[0] - h, 0) // 2
        left = max((wo - 1) * s[1] + k[1] - w, 0) // 2
    else:
        ho, wo, top, left = (h - k[0]) // s[0] + 1, (w - k[1]) // s[1] + 1, 0, 0
    out = np.zeros((n, c, ho, wo))
    for y in range(ho):
        for x_ in range(wo):
            r0, c0 = y * s[0] - top, x_ * s[1] - left
            window = x[:, :, max(r0, 0):min(r0 + k[0], h), max(c0, 0):min(c0 + k[1], w)]
            out[:, :, y, x_] = window.max(axis=(2, 3)) if kind == "max" else window.mean(axis=(2, 3))
    return out


cases = st.fixed_dictionaries({
    "shape": st.tuples(st.integers(1, 2), st.integers(1, 2), st.integers(1, 6), st.integers(1, 6)),
    "k": st.tuples(st.integers(1, 3), st.integers(1, 3)), "s": st.tuples(st.integers(1, 3), st.integers(1, 3)),
    "mode": st.sampled_from(["same", "valid"]), "kind": st.sampled_from(["max", "avg"]),
    "seed": st.integers(0, 2**32 - 1),
})


def layer(case):
    cls = nn.MaxPool2d if case["kind"] == "max" else nn.AvgPool2d
    return cls(case["k"], case["s"], case["mode"])


@settings(max_examples=40)
@given(case=cases)
def test_forward_matches_the_direct_definition_and_gradients_match_finite_differences(case):
    x = np.random.default_rng(case["seed"]).standard_normal(case["shape"])  # distinct values: max is unique
    h, w = case["shape"][2:]
    if case["mode"] == "valid" and (h < case["k"][0] or w < case["k"][1]):
        with pytest.raises(ValueError, match="does not fit"):
            layer(case)(mc.Tensor(x))
        return
    got = layer(case)(mc.Tensor(x)).asnumpy()
    np.testing.assert_allclose(got, naive_pool(x, case["k"], case["s"], case["mode"], case["kind"]), rtol=1e-12)
    assert_grads_match(layer(case), x)


def test_defaults_and_known_answers():
    pool = nn.MaxPool2d()
    assert pool.kernel_size == (1, 1) and pool.stride == (1, 1) and pool.pad_mode == "valid"
    x = mc.Tensor(np.arange(16.0, dtype=np.float32).reshape(1, 1, 4, 4))
    assert nn.MaxPool2d(2, 2)(x).asnumpy()[0, 0].tolist() == [[5, 7], [13, 15]]
    assert nn.AvgPool2d(2, 2)(x).asnumpy()[0, 0].tolist() == [[2.5, 4.5], [10.5, 12.5]]
    # 'same' with kernel 3 on 4x4: one padding element each side; the corner averages 4 taps, not 9
    assert nn.AvgPool2d(3, 1, "SAME")(x).asnumpy()[0, 0, 0, 0] == pytest.approx((0 + 1 + 4 + 5) / 4)
    assert ops.max_pool2d(x, 3, pad_mode="same").shape == (1, 1, 2, 2)  # stride None means kernel_size
    assert nn.MaxPool2d(2, 2)(x).dtype == np.float32 and nn.AvgPool2d(2, 2)(x).dtype == np.float32


def test_max_pool_gradient_goes_to_the_first_maximum_only():
    x = mc.Tensor(np.ones((1, 1, 2, 2), np.float32), requires_grad=True)
    nn.MaxPool2d(2, 2)(x).sum().backward()
    assert x.grad.asnumpy()[0, 0].tolist() == [[1, 0], [0, 0]] and x.grad.dtype == np.float32


@pytest.mark.parametrize("make,error,match", [
    (lambda: nn.MaxPool2d(0), ValueError,
         r"For 'MaxPool2d', 'kernel_size' must be an int or a tuple of 2 ints >= 1, but got 0"),
    (lambda: nn.AvgPool2d(2, (1, 2, 3)), TypeError, r"For 'AvgPool2d', 'stride' must be an int or a tuple of 2 ints"),
    (lambda: nn.MaxPool2d(2, 2, "pad"), ValueError,
         r"'pad_mode' must be one of \['valid', 'same'\] \(case-insensitive\), but got 'pad'"),
    (lambda: nn.MaxPool2d(2, 2, None), TypeError, r"'pad_mode' must be one of \['valid', 'same'\], but got None"),
    (lambda: nn.MaxPool2d(2)(mc.Tensor(np.zeros((2, 4, 4)))), ValueError,
         r"'x' must be a Tensor of shape \(N, C, H, W\)"),
    (lambda: nn.AvgPool2d(2)(mc.Tensor(np.zeros((1, 1, 4, 4), np.int64))), TypeError,
         r"'x' must be a floating-point Tensor"),
    (lambda: ops.max_pool2d(mc.Tensor(np.zeros((1, 1, 2, 2))), 3), ValueError,
         r"^For 'max_pool2d', 'kernel_size' must be a \(dilated\) kernel that fits the input of spatial size "
     r"\[2, 2\] \(padding \[\[0, 0\], \[0, 0\]\]\), but got \[3, 3\], whose dilated size 3 does not fit\.$"),
])
def test_bad_arguments_are_clear_errors(make, error, match):
    with pytest.raises(error, match=match):
        make()


def test_pooling_matches_torch_convention_by_an_independent_loop_reference():
    """torch's max_pool2d((3, 2), stride (2, 2)) and avg_pool2d(2, stride 1) without padding:
    output size floor((H - k) / s) + 1, each output the max or mean of its window, element by element."""
    x = np.random.default_rng(0).standard_normal((2, 3, 7, 6))

    def reference(k, s, reduce):
        ho, wo = (7 - k[0]) // s[0] + 1, (6 - k[1]) // s[1] + 1
        out = np.empty((2, 3, ho, wo))
        for n in range(2):
            for c in range(3):
                for y in range(ho):
                    for q in range(wo):
                        taps = [x[n, c, y * s[0] + i, q * s[1] + j] for i in range(k[0]) for j in range(k[1])]
                        out[n, c, y, q] = reduce(taps)
        return out
    got = ops.max_pool2d(mc.Tensor(x), (3, 2), (2, 2)).asnumpy()
    assert got.shape == (2, 3, 3, 3)
    np.testing.assert_array_equal(got, reference((3, 2), (2, 2), max))
    got = ops.avg_pool2d(mc.Tensor(x), 2, 1).asnumpy()
    assert got.shape == (2, 3, 6, 5)
    np.testing.assert_allclose(got, reference((2, 2), (1, 1), lambda taps: sum(taps) / len(taps)), rtol=1e-12)


def test_pooling_known_answers_by_hand():
    x = np.array([[[[1.0, 5.0, 2.0], [3.0, 4.0, 9.0], [0.0, 8.0, 7.0]]]])
    assert ops.max_pool2d(mc.Tensor(x), 2, 1).asnumpy().tolist() == [[[[5.0, 9.0], [8.0, 9.0]]]]
    assert ops.avg_pool2d(mc.Tensor(x), 2, 1).asnumpy().tolist() == [[[[3.25, 5.0], [3.75, 7.0]]]]
    assert ops.max_pool2d(mc.Tensor(x), (3, 2), (2, 2)).asnumpy().tolist() == [[[[8.0]]]]


def test_matches_torch_when_installed():
    """An extra, when torch is installed (it is not a test dependency): the loop reference above is the check."""
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(0).standard_normal((2, 3, 7, 6))
    got = ops.max_pool2d(mc.Tensor(x), (3, 2), (2, 2)).asnumpy()
    np.testing.assert_array_equal(got, torch.nn.functional.max_pool2d(torch.tensor(x), (3, 2), (2, 2)).numpy())
    got = ops.avg_pool2d(mc.Tensor(x), 2, 1).asnumpy()
    np.testing.assert_allclose(got, torch.nn.functional.avg_pool2d(torch.tensor(x), 2, 1).numpy(), rtol=1e-12)


def test_functional_errors_name_the_functional_argument():
    with pytest.raises(TypeError, match=r"For 'avg_pool2d', 'input' must be a Tensor, but got"):
        ops.avg_pool2d(np.zeros((1, 1, 2, 2)), 2)
    with pytest.raises(TypeError, match=r"For 'batch_norm', 'input_x' must be a floating-point Tensor"):
        v = mc.Tensor(np.zeros(1))
        ops.batch_norm(mc.Tensor(np.zeros((2, 1), np.int64)), v, v, v, v)
    with pytest.raises(ValueError, match=r"For 'embedding', 'input' must be ids in \[0, 1\), but got 1"):
        ops.embedding(mc.Tensor([1]), mc.Tensor(np.zeros((1, 2))))
