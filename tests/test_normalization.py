"""BatchNorm1d/2d and LayerNorm: formulas, MindSpore's momentum convention, modes, gradients,
errors, dtypes and checkpoints of the moving statistics."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minicell as mc
from minicell import nn, ops
from tests.gradcheck import assert_grads_match


def reference_bn(x, gamma, beta, eps):
    axes = (0,) + tuple(range(2, x.ndim))
    shape = (1, -1) + (1,) * (x.ndim - 2)
    mean = x.mean(axis=axes)
    var = ((x - mean.reshape(shape)) ** 2).mean(axis=axes)
    y = (x - mean.reshape(shape)) / np.sqrt(var.reshape(shape) + eps) * gamma.reshape(shape) + beta.reshape(shape)
    m = x.size // x.shape[1]
    return y, mean, var * m / (m - 1)


@settings(max_examples=15)
@given(shape=st.sampled_from([(3, 2), (2, 3, 4), (2, 2, 3, 2), (1, 3, 2, 2)]), seed=st.integers(0, 2**32 - 1))
def test_batch_norm_training_forward_moving_update_and_gradients(shape, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape) * 3 + 1
    cls = nn.BatchNorm2d if len(shape) == 4 else nn.BatchNorm1d
    bn = cls(shape[1], gamma_init=mc.Tensor(rng.standard_normal(shape[1])),
             beta_init=mc.Tensor(rng.standard_normal(shape[1])), dtype=np.float64).set_train()
    gamma, beta = bn.gamma.asnumpy(), bn.beta.asnumpy()
    y = bn(mc.Tensor(x)).asnumpy()
    want, mean, unbiased = reference_bn(x, gamma, beta, 1e-5)
    np.testing.assert_allclose(y, want, rtol=1e-10, atol=1e-12)
    # MindSpore's convention: moving = 0.9 * moving + 0.1 * batch (moving starts at 0 and 1)
    np.testing.assert_allclose(bn.moving_mean.asnumpy(), 0.1 * mean, rtol=1e-12)
    np.testing.assert_allclose(bn.moving_variance.asnumpy(), 0.9 + 0.1 * unbiased, rtol=1e-12)
    g, b = mc.Tensor(gamma), mc.Tensor(beta)
    rm, rv = mc.Tensor(np.zeros(shape[1])), mc.Tensor(np.ones(shape[1]))
    assert_grads_match(lambda x_, g_, b_: ops.batch_norm(x_, rm, rv, g_, b_, training=True), x, gamma, beta)
    assert_grads_match(lambda x_, g_, b_: ops.batch_norm(x_, rm, rv, g_, b_), x, gamma, beta)
    del g, b


def test_eval_mode_uses_the_moving_statistics_and_use_batch_statistics_overrides():
    x = mc.Tensor(np.random.default_rng(0).standard_normal((4, 2, 3, 3)).astype(np.float32))
    bn = nn.BatchNorm2d(2, moving_mean_init=1.0, moving_var_init=4.0)
    assert bn.training is False
    np.testing.assert_allclose(bn(x).asnumpy(), (x.asnumpy() - 1) / np.sqrt(4 + 1e-5), rtol=1e-6, atol=1e-6)
    assert bn.moving_mean.asnumpy().tolist() == [1, 1]  # eval: nothing tracked
    always = nn.BatchNorm2d(2, use_batch_statistics=True)
    reference = reference_bn(x.asnumpy(), np.ones(2), np.zeros(2), 1e-5)[0]
    np.testing.assert_allclose(always(x).asnumpy(), reference, atol=1e-5)
    assert not np.array_equal(always.moving_mean.asnumpy(), [0, 0])
    never = nn.BatchNorm2d(2, use_batch_statistics=False, moving_mean_init=1.0).set_train()
    np.testing.assert_allclose(never(x).asnumpy(), (x.asnumpy() - 1) / np.sqrt(1 + 1e-5), rtol=1e-5, atol=1e-6)
    assert never.moving_mean.asnumpy().tolist() == [1, 1]


def test_parameters_names_trainability_and_float32():
    bn = nn.BatchNorm2d(3)
    assert [n for n, _ in bn.parameters_and_names()] == ["gamma", "beta", "moving_mean", "moving_variance"]
    assert [p.name for p in bn.trainable_params()] == ["gamma", "beta"]
    assert [p.name for p in nn.BatchNorm1d(3, affine=False).trainable_params()] == []
    x = mc.Tensor(np.random.default_rng(0).standard_normal((2, 3, 2, 2)).astype(np.float32), requires_grad=True)
    out = bn.set_train()(x)
    out.sum().backward()
    assert out.dtype == np.float32 and x.grad.dtype == np.float32 and bn.gamma.grad.dtype == np.float32
    assert bn.moving_mean.dtype == np.float32 and bn.moving_variance.dtype == np.float32
    ln = nn.LayerNorm((2,))
    assert ln(x).dtype == np.float32 and [n for n, _ in ln.parameters_and_names()] == ["gamma", "beta"]


def test_moving_statistics_round_trip_through_a_checkpoint(tmp_path):
    net = nn.SequentialCell(nn.BatchNorm2d(2), nn.LayerNorm((3,), gamma_init="normal"))
    net.set_train()
    net(mc.Tensor(np.random.default_rng(1).standard_normal((4, 2, 3, 3)).astype(np.float32)))
    mc.save_checkpoint(net, tmp_path / "bn.ckpt")
    fresh = nn.SequentialCell(nn.BatchNorm2d(2), nn.LayerNorm((3,)))
    mc.load_param_into_net(fresh, mc.load_checkpoint(tmp_path / "bn.ckpt"), strict_load=True)
    for (na, pa), (nb, pb) in zip(net.parameters_and_names(), fresh.parameters_and_names()):
        assert na == nb and np.array_equal(pa.asnumpy(), pb.asnumpy())
    x = mc.Tensor(np.ones((1, 2, 3, 3), np.float32))
    assert np.array_equal(net.set_train(False)(x).asnumpy(), fresh(x).asnumpy())


def reference_ln(x, gamma, beta, norm_axis, eps):
    axes = tuple(range(norm_axis, x.ndim))
    mean = x.mean(axis=axes, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=axes, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * gamma + beta


@settings(max_examples=15)
@given(shape=st.sampled_from([(3, 4), (2, 3, 2), (2, 2, 2, 3)]), data=st.data(), seed=st.integers(0, 2**32 - 1))
def test_layer_norm_forward_and_gradients(shape, data, seed):
    rank = len(shape)
    norm_axis = data.draw(st.integers(1, rank - 1))
    params_axis = data.draw(st.integers(1, rank - 1))
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape)
    ln = nn.LayerNorm(shape[params_axis:], begin_norm_axis=norm_axis - rank, begin_params_axis=params_axis,
                      gamma_init=mc.Tensor(rng.standard_normal(shape[params_axis:])), beta_init="normal",
                      dtype=np.float64)
    gamma, beta = ln.gamma.asnumpy(), ln.beta.asnumpy()
    np.testing.assert_allclose(ln(mc.Tensor(x)).asnumpy(), reference_ln(x, gamma, beta, norm_axis, 1e-7),
                               rtol=1e-9, atol=1e-12)
    assert_grads_match(lambda x_: ln(x_), x)
    from minicell.ops._normalization import layer_norm_impl
    assert_grads_match(lambda g_, b_: layer_norm_impl("LayerNorm", mc.Tensor(x), g_, b_, norm_axis, params_axis, 1e-7),
                       gamma, beta)


def test_functional_layer_norm_normalizes_the_trailing_shape():
    x = np.random.default_rng(2).standard_normal((2, 3, 4))
    got = ops.layer_norm(mc.Tensor(x), (3, 4)).asnumpy()
    np.testing.assert_allclose(got, reference_ln(x, 1.0, 0.0, 1, 1e-5), rtol=1e-9)


X = mc.Tensor(np.zeros((2, 3, 2, 2), np.float32))
V = mc.Tensor(np.zeros(3, np.float32))


@pytest.mark.parametrize("make,error,match", [
    (lambda: nn.BatchNorm2d(0), ValueError,
         r"For 'BatchNorm2d', 'num_features' must be an int in \[1, inf\), but got 0"),
    (lambda: nn.BatchNorm2d(2, momentum=1.5), ValueError,
         r"For 'BatchNorm2d', 'momentum' must be a float in \[0, 1\], but got 1.5"),
    (lambda: nn.BatchNorm1d(2, eps=0), ValueError, r"For 'BatchNorm1d', 'eps' must be a float > 0, but got 0"),
    (lambda: nn.BatchNorm2d(2, affine="yes"), TypeError, r"'affine' must be a bool, but got 'yes'"),
    (lambda: nn.BatchNorm2d(2, use_batch_statistics=1), TypeError, r"'use_batch_statistics' must be a bool or None"),
    (lambda: nn.BatchNorm2d(2)(X), ValueError,
         r"'x' must be a Tensor of shape \(N, C, H, W\) with C = num_features = 2"),
    (lambda: nn.BatchNorm1d(3)(X), ValueError,
         r"For 'BatchNorm1d', 'x' must be a Tensor of shape \(N, C\) or \(N, C, L\)"),
    (lambda: nn.BatchNorm1d(3).set_train()(mc.Tensor(np.zeros((1, 3)))), ValueError, r"more than 1 value per channel"),
    (lambda: ops.batch_norm(X, V, V, V, mc.Tensor(np.zeros(2))), ValueError,
         r"For 'batch_norm', 'bias' must be a Tensor of shape \[3\]"),
    (lambda: ops.batch_norm(X, V, V, V, V, training=1), TypeError, r"'training' must be a bool, but got 1"),
    (lambda: nn.LayerNorm(4), TypeError,
         r"For 'LayerNorm', 'normalized_shape' must be a tuple or list of positive ints, but got 4"),
    (lambda: nn.LayerNorm((2,), epsilon=-1.0), ValueError, r"For 'LayerNorm', 'epsilon' must be a float in \[0, inf\)"),
    (lambda: nn.LayerNorm((3,))(X), ValueError,
         r"^For 'LayerNorm', 'x' must be a Tensor whose shape from axis -1 is the parameters' shape \[3\], "
     r"but got shape \[2, 3, 2, 2\]\.$"),
    (lambda: nn.LayerNorm((2,), begin_norm_axis=4)(X), ValueError, r"'begin_norm_axis' must be an int in \[-4, 4\)"),
    (lambda: ops.layer_norm(X, (3,)), ValueError, r"For 'layer_norm', 'normalized_shape' must be the trailing shape"),
])
def test_bad_arguments_are_clear_errors(make, error, match):
    with pytest.raises(error, match=match):
        make()


def _torch_convention_batch_norm(x, steps, torch_momentum, eps=1e-5):
    """torch.nn.BatchNorm2d in training mode as its documentation defines it, in plain loops:
    ``y = (x - mean) / sqrt(var_biased + eps)`` per channel (gamma 1, beta 0), and
    ``running = (1 - m) * running + m * batch`` with the UNBIASED batch variance, running_mean 0
    and running_var 1 at the start. Returns the last output and the running statistics."""
    n, c, h, w = x.shape
    count = n * h * w
    running_mean, running_var = np.zeros(c), np.ones(c)
    y = np.empty_like(x)
    for _ in range(steps):
        for ch in range(c):
            values = [x[i, ch, r, q] for i in range(n) for r in range(h) for q in range(w)]
            mean = sum(values) / count
            squares = sum((v - mean) ** 2 for v in values)
            y[:, ch] = (x[:, ch] - mean) / np.sqrt(squares / count + eps)
            running_mean[ch] = (1 - torch_momentum) * running_mean[ch] + torch_momentum * mean
            running_var[ch] = (1 - torch_momentum) * running_var[ch] + torch_momentum * squares / (count - 1)
    return y, running_mean, running_var


def test_batch_norm_momentum_maps_onto_torch_convention_by_an_independent_reference():
    """MindSpore's momentum 0.8 (weight of the old value) is PyTorch's momentum 0.2 (weight of the
    batch): outputs, moving statistics and the eval-mode output agree with a loop reference."""
    x = np.random.default_rng(3).standard_normal((4, 3, 5, 2))
    ours = nn.BatchNorm2d(3, momentum=0.8, dtype=np.float64).set_train()
    for _ in range(2):
        got = ours(mc.Tensor(x)).asnumpy()
    want, running_mean, running_var = _torch_convention_batch_norm(x, 2, torch_momentum=0.2)
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(ours.moving_mean.asnumpy(), running_mean, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(ours.moving_variance.asnumpy(), running_var, rtol=1e-12)
    evaluated = ours.set_train(False)(mc.Tensor(x)).asnumpy()
    expected = (x - running_mean[None, :, None, None]) / np.sqrt(running_var[None, :, None, None] + 1e-5)
    np.testing.assert_allclose(evaluated, expected, rtol=1e-9, atol=1e-12)


def test_layer_norm_matches_the_definition_over_the_trailing_axes():
    """``(x - mean) / sqrt(var_biased + 1e-5)`` over the last two axes (torch's layer_norm default eps)."""
    x = np.random.default_rng(3).standard_normal((4, 3, 5, 2))
    want = np.empty_like(x)
    for i in range(4):
        for j in range(3):
            block = x[i, j]
            mean = block.sum() / block.size
            want[i, j] = (block - mean) / np.sqrt(((block - mean) ** 2).sum() / block.size + 1e-5)
    np.testing.assert_allclose(ops.layer_norm(mc.Tensor(x), (5, 2)).asnumpy(), want, rtol=1e-9, atol=1e-12)


def test_batch_norm_matches_torch_with_the_momentum_conventions_mapped():
    """An extra, when torch is installed (it is not a test dependency): the reference above is the check."""
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(3).standard_normal((4, 3, 5, 2))
    ours = nn.BatchNorm2d(3, momentum=0.8, dtype=np.float64).set_train()
    peer = torch.nn.BatchNorm2d(3, momentum=0.2).double().train()
    for _ in range(2):
        got = ours(mc.Tensor(x)).asnumpy()
        want = peer(torch.tensor(x)).detach().numpy()
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(ours.moving_mean.asnumpy(), peer.running_mean.numpy(), rtol=1e-12)
    np.testing.assert_allclose(ours.moving_variance.asnumpy(), peer.running_var.numpy(), rtol=1e-12)
    ln = ops.layer_norm(mc.Tensor(x), (5, 2)).asnumpy()
    np.testing.assert_allclose(ln, torch.nn.functional.layer_norm(torch.tensor(x), (5, 2)).numpy(),
                               rtol=1e-9, atol=1e-12)


def test_recomputed_conv_batchnorm_block_gives_the_same_gradients_and_moving_statistics():
    def run(recompute):
        block = nn.SequentialCell(nn.Conv2d(2, 3, 3, generator=mc.Generator().manual_seed(0)), nn.BatchNorm2d(3),
                                  nn.ReLU(), nn.MaxPool2d(2, 2))
        if recompute:
            block.recompute()
        block.set_train()
        x = mc.Tensor(np.random.default_rng(0).standard_normal((2, 2, 6, 6)).astype(np.float32))
        block(x).sum().backward()
        return [(name, p.asnumpy(), None if p.grad is None else p.grad.asnumpy())
                for name, p in block.parameters_and_names()]
    for (na, va, ga), (nb, vb, gb) in zip(run(False), run(True)):
        assert na == nb and va.tobytes() == vb.tobytes()
        assert (ga is None and gb is None) or ga.tobytes() == gb.tobytes()
