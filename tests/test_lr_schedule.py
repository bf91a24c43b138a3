"""Learning-rate schedules: MindSpore's formulas at known steps, use in optimizers, exact resume."""
import math

import numpy as np
import pytest

import minicell as mc
from minicell import nn


def f32(x):
    return float(np.float32(x))


@pytest.mark.parametrize("step", [0, 1, 2, 3, 4, 7])
def test_cosine_decay_known_answers(step):
    lr = nn.CosineDecayLR(0.01, 0.1, 4)(step)
    p = min(step, 4)
    want = 0.01 + 0.5 * (0.1 - 0.01) * (1 + math.cos(math.pi * p / 4))
    assert lr.dtype == np.float32 and lr.shape == ()
    assert float(lr) == f32(want)


def test_documented_examples_of_mindspore():
    assert np.isclose(float(nn.CosineDecayLR(0.01, 0.1, 4)(mc.Tensor(2))), 0.055)
    assert np.isclose(float(nn.PolynomialDecayLR(0.1, 0.01, 4, 0.5)(mc.Tensor(2))), 0.07363961)
    assert float(nn.WarmUpLR(0.1, 2)(2)) == f32(0.1)


@pytest.mark.parametrize("step", [0, 1, 3, 5, 9])
def test_warmup_known_answers(step):
    assert float(nn.WarmUpLR(0.5, 4)(step)) == f32(0.5 * min(step, 4) / 4)


@pytest.mark.parametrize("step", [0, 1, 3, 4, 5, 8, 9, 13])
def test_polynomial_decay_known_answers(step):
    plain = nn.PolynomialDecayLR(0.1, 0.01, 4, 2.0)
    assert float(plain(step)) == f32(0.09 * (1 - min(step, 4) / 4) ** 2 + 0.01)
    cyclic = nn.PolynomialDecayLR(0.1, 0.01, 4, 2.0, update_decay_steps=True)
    span = 4 * max(math.ceil(step / 4), 1)
    assert float(cyclic(step)) == f32(0.09 * (1 - step / span) ** 2 + 0.01)


@pytest.mark.parametrize("step", [0, 1, 2, 3, 6, 10])
def test_exponential_decay_known_answers(step):
    assert float(nn.ExponentialDecayLR(0.1, 0.9, 3)(step)) == f32(0.1 * 0.9 ** (step / 3))
    assert float(nn.ExponentialDecayLR(0.1, 0.9, 3, is_stair=True)(step)) == f32(0.1 * 0.9 ** (step // 3))


@pytest.mark.parametrize("make, error, match", [
    (lambda: nn.CosineDecayLR(-0.1, 0.1, 4), ValueError, r"For 'CosineDecayLR', 'min_lr' must be a float in \[0, "
                                                         r"inf\)"),
    (lambda: nn.CosineDecayLR(0.2, 0.1, 4), ValueError, r"'max_lr' must be greater than 'min_lr' \(0.2\), but got 0.1"),
    (lambda: nn.CosineDecayLR(0.0, 0.0, 4), ValueError, r"'max_lr' must be a float > 0, but got 0.0"),
    (lambda: nn.CosineDecayLR(0.0, 0.1, 0), ValueError, r"'decay_steps' must be an int in \[1, inf\), but got 0"),
    (lambda: nn.CosineDecayLR(0.0, 0.1, 2.0), TypeError, r"'decay_steps' must be an int, but got 2.0"),
    (lambda: nn.WarmUpLR("0.1", 2), TypeError, r"For 'WarmUpLR', 'learning_rate' must be a real number"),
    (lambda: nn.WarmUpLR(0.1, 0), ValueError, r"For 'WarmUpLR', 'warmup_steps' must be an int in \[1, inf\)"),
    (lambda: nn.PolynomialDecayLR(0.0, 0.0, 2, 1.0), ValueError, r"'learning_rate' must be a float > 0"),
    (lambda: nn.PolynomialDecayLR(0.1, 0.0, 2, 0.0), ValueError, r"For 'PolynomialDecayLR', 'power' must be a float "
                                                                 r"> 0"),
    (lambda: nn.PolynomialDecayLR(0.1, 0.0, 2, 1.0, 1), TypeError, r"'update_decay_steps' must be a bool, but got 1"),
    (lambda: nn.ExponentialDecayLR(0.1, 0.0, 2), ValueError, r"For 'ExponentialDecayLR', 'decay_rate' must be a "
                                                             r"float > 0"),
    (lambda: nn.ExponentialDecayLR(0.1, 0.9, 2, is_stair=None), TypeError, r"'is_stair' must be a bool, but got None"),
    (lambda: nn.WarmUpLR(0.1, 2)(-1), ValueError, r"'global_step' must be an int in \[0, inf\), but got -1"),
    (lambda: nn.WarmUpLR(0.1, 2)(1.5), TypeError, r"For 'WarmUpLR', 'global_step' must be an int or a one-element"),
    (lambda: nn.WarmUpLR(0.1, 2)(mc.Tensor([1, 2])), TypeError, r"'global_step' must be an int or a one-element "
                                                                r"integer Tensor"),
    (lambda: nn.SGD([mc.Parameter(np.zeros(2), name="w")], nn.ReLU()), TypeError,
     r"For 'SGD', 'learning_rate' must be a float >= 0 or a LearningRateSchedule, but got an object of type ReLU"),
])
def test_bad_arguments(make, error, match):
    with pytest.raises(error, match=match):
        make()


G = [np.array([0.1, 0.2, -0.3]), np.array([-0.4, 0.0, 0.25]), np.array([0.3, -0.1, 0.05])]
W0 = np.array([1.0, -2.0, 0.5])


def test_sgd_with_a_schedule_uses_the_rate_of_the_step_before_incrementing():
    p = mc.Parameter(W0.copy(), name="w")
    schedule = nn.PolynomialDecayLR(0.1, 0.01, 2, 1.0)
    opt = nn.SGD([p], schedule)
    want = W0.copy()
    for step, g in enumerate(G):
        opt((mc.Tensor(g),))
        want = want - f32(0.09 * (1 - min(step, 2) / 2) + 0.01) * g
        assert opt.current_lr == f32(0.09 * (1 - min(step, 2) / 2) + 0.01)
    assert np.array_equal(p.asnumpy(), want)
    assert int(opt.global_step) == 3


def test_adam_with_a_schedule_equals_hand_computed_steps():
    p = mc.Parameter(W0.copy(), name="w")
    opt = nn.Adam([p], nn.CosineDecayLR(0.001, 0.01, 2), 0.8, 0.9, 1e-6)
    w, m, v = W0.copy(), np.zeros(3), np.zeros(3)
    for t, g in enumerate(G, start=1):
        opt((mc.Tensor(g),))
        lr = f32(0.001 + 0.5 * 0.009 * (1 + math.cos(math.pi * min(t - 1, 2) / 2)))
        m = 0.8 * m + 0.2 * g
        v = 0.9 * v + 0.1 * g * g
        w = w - lr * (m / (1 - 0.8 ** t)) / (np.sqrt(v / (1 - 0.9 ** t)) + 1e-6)
    np.testing.assert_allclose(p.asnumpy(), w, rtol=1e-12)


def _train(steps, state=None):
    gen = nn.Generator().manual_seed(3)
    net = nn.SequentialCell([nn.Dense(4, 8, generator=gen), nn.ReLU(), nn.Dropout(0.2, generator=gen),
                             nn.Dense(8, 2, generator=gen)])
    opt = nn.AdamW(net.trainable_params(), nn.WarmUpLR(0.05, 3))
    train = nn.TrainOneStepCell(nn.WithLossCell(net, nn.MSELoss()), opt).set_train()
    if state is not None:
        mc.load_param_into_net(train, state, strict_load=True)
    data = np.random.default_rng(0).standard_normal((6, 16, 4)).astype(np.float32)
    for i in range(int(opt.global_step), steps):
        train(mc.Tensor(data[i]), mc.Tensor(data[i][:, :2]))
    return train


def test_resume_with_a_schedule_is_exact(tmp_path):
    whole = _train(6)
    path = tmp_path / "half.ckpt"
    mc.save_checkpoint(_train(3), str(path))
    resumed = _train(6, mc.load_checkpoint(str(path)))
    for (name, a), (_, b) in zip(whole.parameters_and_names(), resumed.parameters_and_names()):
        assert np.array_equal(a.asnumpy(), b.asnumpy()), name
