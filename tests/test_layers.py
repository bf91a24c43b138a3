"""Dense and activation layers; reproducible construction."""
import math

import numpy as np
import pytest

import minicell as mc
from minicell import nn
from minicell.initializer import HeUniform, Uniform, initializer
from minicell.testing import assert_bitwise_equal, assert_cells_equal
from tests.bad_inputs import house
from tests.gradcheck import assert_grads_match


def build(width, seed=5):
    gen = mc.Generator().manual_seed(seed)
    return nn.SequentialCell(nn.Dense(3, width, generator=gen), nn.ReLU(), nn.Dense(width, 2, generator=gen),
                             nn.Dense(2, 4, generator=gen))


def test_dense_defaults_are_pytorch_linear_drawn_from_the_generator():
    gen = mc.Generator().manual_seed(1)
    layer = nn.Dense(16, 8, generator=gen)
    assert layer.weight.shape == (8, 16) and layer.bias.shape == (8,) and int(gen.get_state()[1]) == 2
    w = initializer(HeUniform(negative_slope=math.sqrt(5)), (8, 16), generator=mc.Generator().manual_seed(1))
    assert_bitwise_equal(layer.weight, w)
    assert np.abs(layer.weight.asnumpy()).max() <= 0.25 and np.abs(layer.bias.asnumpy()).max() <= 0.25
    b = initializer(Uniform(0.25), (8,), generator=mc.Generator().manual_seed(1).set_state(1, 1))
    assert_bitwise_equal(layer.bias, b)


def test_dense_forward_and_gradients():
    layer = nn.Dense(3, 2, weight_init="ones", bias_init="zeros", dtype=np.float64, activation="tanh")
    x = np.arange(6.0).reshape(2, 3)
    assert np.allclose(layer(mc.Tensor(x)).asnumpy(), np.tanh(x.sum(1, keepdims=True) * np.ones((1, 2))))
    w, b = layer.weight.asnumpy(), layer.bias.asnumpy()
    assert_grads_match(lambda t: t @ mc.Tensor(w).T + mc.Tensor(b), x)
    no_bias = nn.Dense(3, 2, has_bias=False)
    assert no_bias.bias is None and [n for n, _ in no_bias.parameters_and_names()] == ["weight"]


def test_same_seed_same_model_and_width_change_leaves_other_layers():
    a, b = build(5), build(5)
    assert_cells_equal(a, b)
    wide = build(9)
    assert_cells_equal(a[3], wide[3])
    assert_bitwise_equal(a[0].weight, wide[0].weight.asnumpy()[:5])  # rows are index-stable too


def test_activations():
    x = mc.Tensor(np.array([[-1.0, 0.5, 2.0]]))
    v = x.asnumpy()
    assert np.allclose(nn.ReLU()(x).asnumpy(), np.maximum(v, 0))
    assert np.allclose(nn.Tanh()(x).asnumpy(), np.tanh(v))
    assert np.allclose(nn.Sigmoid()(x).asnumpy(), 1 / (1 + np.exp(-v)))
    erf = np.vectorize(math.erf)
    assert np.allclose(nn.GELU()(x).asnumpy(), 0.5 * v * (1 + erf(v / math.sqrt(2))))
    assert np.allclose(nn.GELU(approximate=True)(x).asnumpy(), nn.GELU()(x).asnumpy(), atol=1e-3)
    assert np.allclose(nn.Softmax()(x).asnumpy().sum(), 1.0)
    assert np.allclose(np.exp(nn.LogSoftmax()(x).asnumpy()), nn.Softmax()(x).asnumpy())
    assert nn.Flatten()(mc.Tensor(np.zeros((2, 3, 4)))).shape == (2, 12)
    big = mc.Tensor(np.array([1000.0, 0.0]))
    assert np.isfinite(nn.LogSoftmax()(big).asnumpy()).all() and np.isfinite(nn.Sigmoid()(-big).asnumpy()).all()


@pytest.mark.parametrize("make,error,who,arg,expected,got", [
    (lambda: nn.Dense(0, 2), ValueError, "Dense", "in_channels", "an int in [1, inf)", "0"),
    (lambda: nn.Dense(2.0, 2), TypeError, "Dense", "in_channels", "an int", "2.0"),
    (lambda: nn.Dense(2, 2, activation="swish"), ValueError, "Dense", "activation",
     "one of ['relu', 'tanh', 'sigmoid', 'gelu', 'softmax', 'log_softmax', 'logsoftmax']", "'swish'"),
    (lambda: nn.Dense(2, 2, has_bias=1), TypeError, "Dense", "has_bias", "a bool", "1"),
    (lambda: nn.Dense(2, 2)(mc.Tensor(np.zeros((1, 3)))), ValueError, "Dense", "x",
     "a Tensor whose last dimension is in_channels=2", "shape [1, 3]"),
    (lambda: nn.GELU(approximate="fast"), ValueError, "GELU", "approximate", "one of ['none', 'tanh']", "'fast'"),
])
def test_layer_errors(make, error, who, arg, expected, got):
    with pytest.raises(error, match=house(who, arg, expected, got)):
        make()
