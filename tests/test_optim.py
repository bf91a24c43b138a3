"""Optimizers: each update against a hand-computed step, state Parameters, errors."""

import numpy as np
import pytest

import minicell as mc
from minicell import nn
from tests.bad_inputs import house

W0 = np.array([1.0, -2.0, 0.5])
G1 = np.array([0.1, 0.2, -0.3])
G2 = np.array([-0.4, 0.0, 0.25])


def param(name="w"):
    return mc.Parameter(W0.copy(), name=name)


def run(opt_factory, grads=(G1, G2)):
    p = param()
    opt = opt_factory([p])
    for g in grads:
        opt((mc.Tensor(g),))
    return p.asnumpy(), opt


def test_sgd_plain_momentum_nesterov_and_weight_decay():
    w, _ = run(lambda ps: nn.SGD(ps, 0.1))
    assert np.allclose(w, W0 - 0.1 * G1 - 0.1 * G2)
    w, opt = run(lambda ps: nn.SGD(ps, 0.1, momentum=0.9))
    v1 = G1
    v2 = 0.9 * v1 + G2
    assert np.allclose(w, W0 - 0.1 * v1 - 0.1 * v2)
    assert np.allclose(opt.moments._params["w"].asnumpy(), v2)
    w, _ = run(lambda ps: nn.SGD(ps, 0.1, momentum=0.9, nesterov=True))
    w1 = W0 - 0.1 * (G1 + 0.9 * v1)
    assert np.allclose(w, w1 - 0.1 * (G2 + 0.9 * v2))
    w, _ = run(lambda ps: nn.SGD(ps, 0.1, weight_decay=0.01), grads=(G1,))
    assert np.allclose(w, W0 - 0.1 * (G1 + 0.01 * W0))
    w, _ = run(lambda ps: nn.Momentum(ps, 0.1, 0.9))
    assert np.allclose(w, W0 - 0.1 * v1 - 0.1 * v2)


def adam_reference(grads, lr, b1, b2, eps, wd=0.0, decoupled=False):
    w, m, v = W0.copy(), np.zeros(3), np.zeros(3)
    for t, g in enumerate(grads, start=1):
        if decoupled:
            w = w * (1 - lr * wd)
        else:
            g = g + wd * w
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        w = w - lr * (m / (1 - b1 ** t)) / (np.sqrt(v / (1 - b2 ** t)) + eps)
    return w, m, v


def test_adam_and_adamw_match_hand_computed_steps_and_keep_named_state():
    w, opt = run(lambda ps: nn.Adam(ps, 0.01, 0.8, 0.9, 1e-6))
    ref, m, v = adam_reference((G1, G2), 0.01, 0.8, 0.9, 1e-6)
    assert np.allclose(w, ref, rtol=1e-12)
    names = [n for n, _ in opt.parameters_and_names()]
    assert names == ["global_step", "moment1.w", "moment2.w"] and int(opt.global_step.asnumpy()) == 2
    assert np.allclose(opt.moment1._params["w"].asnumpy(), m) and np.allclose(opt.moment2._params["w"].asnumpy(), v)
    w, _ = run(lambda ps: nn.Adam(ps, 0.01, weight_decay=0.1))
    assert np.allclose(w, adam_reference((G1, G2), 0.01, 0.9, 0.999, 1e-8, 0.1)[0], rtol=1e-12)
    w, _ = run(lambda ps: nn.AdamW(ps, 0.01, weight_decay=0.1))
    assert np.allclose(w, adam_reference((G1, G2), 0.01, 0.9, 0.999, 1e-8, 0.1, decoupled=True)[0], rtol=1e-12)


def test_first_adam_step_is_lr_times_sign():
    w, _ = run(lambda ps: nn.Adam(ps, 0.01, eps=1e-12), grads=(G1,))
    assert np.allclose(W0 - w, 0.01 * np.sign(G1))


def test_optimizer_state_names_in_a_training_cell_and_mindspore_idiom():
    net = nn.Dense(3, 2, generator=mc.Generator())
    opt = nn.Adam(net.trainable_params(), 1e-3)
    train = nn.TrainOneStepCell(nn.WithLossCell(net, nn.MSELoss()), opt)
    names = [n for n, _ in train.parameters_and_names()]
    assert names[:2] == ["network.backbone.weight", "network.backbone.bias"]
    assert "optimizer.moment1.weight" in names and "optimizer.moment2.bias" in names
    assert "optimizer.global_step" in names and len(names) == len(set(names))
    x, y = mc.Tensor(np.ones((4, 3), np.float32)), mc.Tensor(np.zeros((4, 2), np.float32))
    grad_fn = mc.value_and_grad(lambda a, b: nn.MSELoss()(net(a), b), None, opt.parameters)
    loss, grads = grad_fn(x, y)
    before = net.weight.asnumpy()
    opt(grads)
    assert not np.array_equal(before, net.weight.asnumpy()) and float(loss) > 0
    assert float(train(x, y)) < float(loss)


@pytest.mark.parametrize("make,error,who,arg,expected,got", [
    (lambda ps: nn.SGD(ps, -0.1), ValueError, "SGD", "learning_rate", "a float in [0, inf)", "-0.1"),
    (lambda ps: nn.SGD(ps, 0.1, momentum=-1.0), ValueError, "SGD", "momentum", "a float in [0, inf)", "-1.0"),
    (lambda ps: nn.SGD(ps, 0.1, nesterov=True), ValueError, "SGD", "momentum", "> 0 with Nesterov momentum", "0.0"),
    (lambda ps: nn.Adam(ps, beta1=1.0), ValueError, "Adam", "beta1", "a float in [0, 1)", "1.0"),
    (lambda ps: nn.Adam(ps, eps=0.0), ValueError, "Adam", "eps", "a float > 0", "0.0"),
    (lambda ps: nn.Adam(ps, weight_decay=-1.0), ValueError, "Adam", "weight_decay", "a float in [0, inf)", "-1.0"),
    (lambda ps: nn.Momentum(ps, 0.1, 0.0), ValueError, "Momentum", "momentum",
     "a float > 0 (use SGD for plain gradient descent)", "0.0"),
    (lambda ps: nn.SGD([], 0.1), ValueError, "SGD", "params", "a non-empty iterable of Parameters", "an empty one"),
    (lambda ps: nn.SGD([1.0], 0.1), TypeError, "SGD", "params", "an iterable of Parameters", "1.0 at index 0"),
    (lambda ps: nn.SGD(ps[0], 0.1), TypeError, "SGD", "params", "an iterable of Parameters (e.g. "
                                                                "net.trainable_params())",
     "an object of type Parameter"),
    (lambda ps: nn.SGD([mc.Parameter(1.0, requires_grad=False, name="f")], 0.1), ValueError, "SGD", "params",
     "trainable float Parameters", "'f' (dtype float32, requires_grad=False) at index 0"),
    (lambda ps: nn.Adam(ps, learning_rate="fast"), TypeError, "Adam", "learning_rate", "a real number", "'fast'"),
    (lambda ps: nn.SGD(ps, float("inf")), ValueError, "SGD", "learning_rate", "a float in [0, inf)", "inf"),
    (lambda ps: nn.Adam(ps, eps=float("inf")), ValueError, "Adam", "eps", "a float in [0, inf)", "inf"),
])
def test_bad_hyper_parameters(make, error, who, arg, expected, got):
    with pytest.raises(error, match=house(who, arg, expected, got)):
        make([param()])


def test_bad_gradients_change_nothing():
    a, b = param("a"), param("b")
    opt = nn.Adam([a, b], 0.1)
    for grads, error, expected, got in (
            ((G1,), ValueError, "a tuple of 2 gradients", "1"),
            ((G1, np.zeros(2)), ValueError, "gradients of their parameters' shapes ([3] for 'b')", "shape [2] for 'b'"),
            ((G1, np.array([1, 2, 3])), TypeError, "float gradients (the one of 'b' too)", "dtype Int64 for 'b'"),
            (G1, TypeError, "a tuple of gradients, one per parameter", "an object of type ndarray"),
            ((G1, np.array([0.0, np.nan, 0.0])), ValueError, "finite gradients (the one of 'b' too)",
             "NaN or inf in the gradient of 'b'")):
        with pytest.raises(error, match=house("Adam", "grads", expected, got)):
            opt(grads)
    assert np.array_equal(a.asnumpy(), W0) and int(opt.global_step.asnumpy()) == 0
    assert not opt.moment1._params["a"].asnumpy().any()
