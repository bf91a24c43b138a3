"""Every op's gradient against central finite differences; graph structure; the functional API."""
import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import minicell as mc
from minicell import ops
from tests.bad_inputs import house
from tests.gradcheck import assert_grads_match

finite = st.floats(-2.0, 2.0, allow_nan=False, width=64)
positive = st.floats(0.3, 2.0, width=64)


def arrays(shape, elements=finite):
    return hnp.arrays(np.float64, shape, elements=elements)


binary_shapes = hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, min_side=0, max_side=3)

BINARY = {
    "add": (lambda a, b: a + b, finite, finite),
    "sub": (lambda a, b: a - b, finite, finite),
    "mul": (lambda a, b: a * b, finite, finite),
    "div": (lambda a, b: a / b, finite, positive),
    "pow": (lambda a, b: a ** b, positive, finite),
    "maximum": (ops.maximum, finite, finite),
    "minimum": (ops.minimum, finite, finite),
}


@pytest.mark.parametrize("name", sorted(BINARY))
@given(data=st.data(), shapes=binary_shapes)
def test_binary_op_gradients_with_broadcasting(name, data, shapes):
    fn, dom_a, dom_b = BINARY[name]
    a = data.draw(arrays(shapes.input_shapes[0], dom_a))
    b = data.draw(arrays(shapes.input_shapes[1], dom_b))
    if name in ("maximum", "minimum"):  # the derivative jumps at ties: keep a margin
        gap = np.abs(np.subtract(a, b))
        assume(not gap.size or gap.min() >= 1e-3)  # a draw with a tie is replaced, not passed untested
    assert_grads_match(fn, a, b)


UNARY = {
    "neg": (lambda a: -a, finite), "abs": (abs, st.floats(0.1, 2.0) | st.floats(-2.0, -0.1)),
    "exp": (ops.exp, finite), "log": (ops.log, positive), "sqrt": (ops.sqrt, positive),
    "tanh": (ops.tanh, finite), "sigmoid": (ops.sigmoid, finite),
    "relu": (ops.relu, st.floats(0.1, 2.0) | st.floats(-2.0, -0.1)),
    "gelu": (ops.gelu, finite), "gelu_tanh": (lambda a: ops.gelu(a, approximate="tanh"), finite),
    "clip": (lambda a: ops.clip(a, -0.5, 0.5), st.floats(-0.45, 0.45) | st.floats(0.55, 2.0)),
    "softmax": (lambda a: ops.softmax(a, axis=-1), finite),
    "log_softmax": (lambda a: ops.log_softmax(a, axis=0), finite),
    "sum_axis": (lambda a: a.sum(axis=-1, keepdims=True), finite),
    "sum_all": (lambda a: a.sum(), finite),
    "mean_axis": (lambda a: a.mean(axis=-1), finite),
    "transpose": (lambda a: a.transpose(), finite),
    "flatten": (lambda a: a.flatten(), finite),
    "reshape": (lambda a: a.reshape(-1, 1), finite),
    "unsqueeze": (lambda a: a.unsqueeze(0), finite),
}


NEEDS_ELEMENTS = {"softmax", "log_softmax"}  # a softmax over an empty axis is undefined


@pytest.mark.filterwarnings("ignore:Mean of empty slice", "ignore:invalid value encountered")  # NumPy's nan
@pytest.mark.parametrize("name", sorted(UNARY))
@given(data=st.data())
def test_unary_op_gradients(name, data):
    fn, dom = UNARY[name]
    min_side = 1 if name in NEEDS_ELEMENTS else 0
    shape = data.draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=min_side, max_side=3))
    assert_grads_match(fn, data.draw(arrays(shape, dom)))


distinct = hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=3)


@given(shape=distinct, data=st.data())
def test_reduction_and_axis_op_gradients_over_drawn_shapes(shape, data):
    size = int(np.prod(shape))
    x = np.array(data.draw(st.permutations(list(range(size)))), dtype=np.float64).reshape(shape) / 7.0  # no ties
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    keep = data.draw(st.booleans())
    assert_grads_match(lambda a: a.max(axis=axis, keepdims=keep), x)
    assert_grads_match(lambda a: a.min(axis=axis, keepdims=keep), x)
    assert_grads_match(lambda a: a.sum(axis=axis, keepdims=keep), x)
    assert_grads_match(lambda a: a.mean(axis=(axis,), keepdims=keep), x)
    other = data.draw(st.integers(-len(shape), len(shape) - 1))
    assert_grads_match(lambda a: a.swapaxes(axis, other), x)
    assert_grads_match(lambda a: ops.concat([a, a * 2], axis=axis), x)
    new_axis = data.draw(st.integers(0, len(shape)))
    assert_grads_match(lambda a: ops.stack([a, -a], axis=new_axis), x)
    assert_grads_match(lambda a: ops.where(x > x.mean(), a, a * a), x)


@given(st.integers(1, 4), st.integers(1, 4), st.integers(1, 4), st.integers(0, 2))
def test_matmul_gradients_2d_batched_and_vectors(n, k, m, batch):
    rng = np.random.default_rng(n * 100 + k * 10 + m)
    a_shape = (batch, n, k) if batch else (n, k)
    assert_grads_match(lambda a, b: a @ b, rng.standard_normal(a_shape), rng.standard_normal((k, m)))
    assert_grads_match(lambda a, b: a @ b, rng.standard_normal(k), rng.standard_normal((k, m)))
    assert_grads_match(lambda a, b: a @ b, rng.standard_normal((n, k)), rng.standard_normal(k))
    assert_grads_match(lambda a, b: ops.matmul(a, b), rng.standard_normal(k), rng.standard_normal(k))


def test_max_min_swapaxes_squeeze_indexing_concat_stack_where():
    rng = np.random.default_rng(1)
    x = rng.permutation(24).reshape(2, 3, 4).astype(np.float64)  # distinct values: no ties
    y = rng.standard_normal((2, 3, 4))
    assert_grads_match(lambda a: a.max(axis=1), x)
    assert_grads_match(lambda a: a.min(axis=(0, 2), keepdims=True), x)
    assert_grads_match(lambda a: a.max(), x)
    assert_grads_match(lambda a: a.swapaxes(0, 2), y)
    assert_grads_match(lambda a: a[:, :1].squeeze(1), y)
    assert_grads_match(lambda a: a[1, ::2, 1:3], y)
    assert_grads_match(lambda a: a[np.array([0, 0, 1])], y)  # repeated integer index accumulates
    assert_grads_match(lambda a: a[a > 0], y)
    assert_grads_match(lambda a, b: ops.concat([a, b], axis=1), y, y[:, :2])
    assert_grads_match(lambda a, b: ops.stack([a, b], axis=-1), y, 2 * y)
    assert_grads_match(lambda a, b: ops.where(y > 0, a, b), y, rng.standard_normal((3, 4)))


def test_ties_split_the_gradient_evenly():
    x = mc.Tensor([1.0, 3.0, 3.0], requires_grad=True)
    x.max().backward()
    assert x.grad.asnumpy().tolist() == [0.0, 0.5, 0.5]


def test_size_zero_dimensions_flow_through():
    x = mc.Tensor(np.zeros((0, 3)), requires_grad=True)
    (x * 2).sum().backward()
    assert x.grad.shape == (0, 3)


def test_two_layer_mlp_matches_hand_derived_gradients():
    rng = np.random.default_rng(3)
    xv, w1v = rng.standard_normal((5, 4)), rng.standard_normal((4, 6))
    b1v, w2v = rng.standard_normal(6), rng.standard_normal((6, 1))
    x = mc.Tensor(xv)
    w1, b1, w2 = (mc.Tensor(v, requires_grad=True) for v in (w1v, b1v, w2v))
    loss = (ops.tanh(x @ w1 + b1) @ w2).sum()
    loss.backward()
    h = np.tanh(xv @ w1v + b1v)
    dh = np.ones((5, 1)) @ w2v.T * (1 - h ** 2)
    np.testing.assert_allclose(w2.grad.asnumpy(), h.T @ np.ones((5, 1)))
    np.testing.assert_allclose(w1.grad.asnumpy(), xv.T @ dh)
    np.testing.assert_allclose(b1.grad.asnumpy(), dh.sum(0))


def test_diamond_graph_accumulates():
    x = mc.Tensor(2.0, requires_grad=True)
    a = x * 3
    b = x * x
    (a * b + a).backward()  # d/dx (3x^3 + 3x) = 9x^2 + 3
    assert float(x.grad) == pytest.approx(39.0)


def test_backward_accumulates_across_calls_like_pytorch():
    x = mc.Tensor([1.0], requires_grad=True)
    (x * 2).sum().backward()
    (x * 3).sum().backward()
    assert x.grad.asnumpy().tolist() == [5.0]


def test_deep_chain_has_no_recursion_error():
    x = mc.Tensor(1.0, requires_grad=True)
    y = x
    for _ in range(10_000):
        y = y * 1.0 + 0.0
    y.backward()
    assert float(x.grad) == 1.0


def test_float32_stays_float32():
    x = mc.Tensor(np.ones(3, np.float32), requires_grad=True)
    (x * 2.0).exp().sum().backward()
    assert x.grad.dtype == np.float32


def test_grad_and_value_and_grad_follow_mindspore():
    w = mc.Tensor([2.0], requires_grad=True)

    def fn(x, y):
        return (x * y * w).sum()

    x, y = mc.Tensor([3.0]), mc.Tensor([4.0])
    assert mc.grad(fn)(x, y).asnumpy().tolist() == [8.0]
    gx, gy = mc.grad(fn, grad_position=(0, 1))(x, y)
    assert gy.asnumpy().tolist() == [6.0]
    (gx,), (gw,) = mc.grad(fn, grad_position=(0,), weights=[w])(x, y)
    assert gw.asnumpy().tolist() == [12.0] and w.grad is None
    assert mc.grad(fn, None, w)(x, y).asnumpy().tolist() == [12.0]
    value, grads = mc.value_and_grad(fn, None, [w])(x, y)
    assert float(value) == 24.0 and grads[0].asnumpy().tolist() == [12.0]
    (out, aux), g = mc.value_and_grad(lambda x: ((x * x).sum(), x + 1), has_aux=True)(x)
    assert float(out) == 9.0 and float(aux) == 4.0 and g.asnumpy().tolist() == [6.0]
    g, aux = mc.grad(lambda x: ((x * x).sum(), x + 1), has_aux=True)(x)
    assert g.asnumpy().tolist() == [6.0] and float(aux) == 4.0
    unused = mc.grad(lambda a, b: (a * 2).sum(), 1)(x, y)
    assert unused.asnumpy().tolist() == [0.0]


def test_no_grad_and_stop_gradient():
    x = mc.Tensor([1.0], requires_grad=True)
    with mc.no_grad():
        assert not (x * 2).requires_grad
    assert mc.grad(lambda a: (mc.stop_gradient(a * a) + a).sum())(x).asnumpy().tolist() == [1.0]


def test_autograd_errors():
    with pytest.raises(ValueError, match=house("grad", "fn", "a function returning a one-element Tensor",
                                               "one returning shape [2]")):
        mc.grad(lambda a: a * 2)(mc.Tensor([1.0, 2.0]))
    with pytest.raises(TypeError, match=house("grad", "args[0]", "a floating-point Tensor to be differentiated",
                                              "dtype int64")):
        mc.grad(lambda a: a.sum())(mc.Tensor([1, 2]))
    with pytest.raises(ValueError, match=house("Tensor.backward", "gradient", "given when the output is not a scalar",
                                               "None for an output of shape [2]")):
        (mc.Tensor([1.0, 2.0], requires_grad=True) * 2).backward()
    with pytest.raises(ValueError, match=house("Tensor.backward", "self", "a tensor that requires grad (mark an input "
                                               "with requires_grad=True before computing it)",
                                               "a tensor with no graph")):
        mc.Tensor([1.0]).sum().backward()
    with pytest.raises(ValueError, match=house("grad", "grad_position", "positions in [0, 1) for 1 positional input(s)",
                                               "3")):
        mc.grad(lambda a: a.sum(), 3)(mc.Tensor([1.0]))
    expected = house("grad", "grad_position", "None, an int or a non-empty tuple of ints", "'0'")
    with pytest.raises(TypeError, match=expected):
        mc.grad(lambda a: a.sum(), "0")(mc.Tensor([1.0]))
    with pytest.raises(ValueError, match=house("grad", "weights", "Tensors with requires_grad=True",
                                               "a tensor with requires_grad=False at index 0")):
        mc.grad(lambda a: a.sum(), None, [mc.Tensor([1.0])])
    with pytest.raises(TypeError, match=house("grad", "fn", "a function returning one Tensor (pass has_aux=True to "
                                              "differentiate the first element of a tuple)",
                                              "one returning a tuple of 2")):
        mc.grad(lambda a: (a.sum(), a))(mc.Tensor([1.0]))


def test_a_leaf_reached_directly_and_through_an_intermediate_gets_both_gradients():
    # regression: the topological order once put the leaf before a node that depends on it
    a = mc.Tensor(np.array([1.0]), requires_grad=True)
    (ops.concat([a, a * 2]) * np.array([1.0, 10.0])).sum().backward()
    assert a.grad.asnumpy().tolist() == [21.0]
    b = mc.Tensor(np.array([1.0]), requires_grad=True)
    c = b * 3
    (ops.stack([b, c, c * c]) * np.array([[1.0], [2.0], [1.0]])).sum().backward()
    assert b.grad.asnumpy().tolist() == [1.0 + 6.0 + 18.0]
