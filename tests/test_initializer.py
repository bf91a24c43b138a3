"""Initializers: documented distributions (KS / bounds), exact values, one step each, errors."""
import math

import numpy as np
import pytest

import minicell as mc
from minicell import initializer as I
from minicell import random as R
from minicell.initializer.base import _ALIASES
from minicell.testing import assert_bitwise_equal, assert_reproducible
from tests.bad_inputs import house
from tests.stats import ks_pvalue, normal_cdf


def draw(init, shape, seed=17, dtype=np.float64):
    gen = mc.Generator().manual_seed(seed)
    out = I.initializer(init, shape, dtype, generator=gen)
    assert int(gen.get_state()[1]) == (1 if isinstance(init, I.Initializer) and init.random else 0)
    return out.asnumpy()


def uniform_cdf(bound):
    return lambda x: np.clip((x + bound) / (2 * bound), 0, 1)


def truncated_cdf(std, lo, hi):
    from statistics import NormalDist
    dist = NormalDist(0, std)
    a, b = dist.cdf(lo), dist.cdf(hi)
    return lambda x: (np.array([dist.cdf(v) for v in x]) - a) / (b - a)


SHAPE = (200, 100)  # fan_in 100, fan_out 200


@pytest.mark.parametrize("init,cdf,bound", [
    (I.Uniform(0.2), uniform_cdf(0.2), 0.2),
    (I.XavierUniform(gain=2.0), uniform_cdf(2 * math.sqrt(6 / 300)), 2 * math.sqrt(6 / 300)),
    (I.HeUniform(), uniform_cdf(math.sqrt(2) * math.sqrt(3 / 100)), math.sqrt(6 / 100)),
    (I.HeUniform(negative_slope=math.sqrt(5)), uniform_cdf(1 / 10), 0.1),
    (I.HeUniform(mode="fan_out", nonlinearity="relu"), uniform_cdf(math.sqrt(6 / 200)), math.sqrt(6 / 200)),
    (I.VarianceScaling(2.0, "fan_avg", "uniform"), uniform_cdf(math.sqrt(6 / 150)), math.sqrt(6 / 150)),
])
def test_uniform_family(init, cdf, bound):
    values = draw(init, SHAPE).reshape(-1)
    assert values.min() >= -bound and values.max() < bound
    assert ks_pvalue(values, cdf) > 1e-4


@pytest.mark.parametrize("init,std,mean", [
    (I.Normal(0.3, 1.0), 0.3, 1.0),
    (I.XavierNormal(gain=1.0), math.sqrt(2 / 300), 0.0),
    (I.HeNormal(nonlinearity="relu"), math.sqrt(2 / 100), 0.0),
    (I.HeNormal(negative_slope=0.2, mode="fan_out"), math.sqrt(2 / 1.04) / math.sqrt(200), 0.0),
    (I.VarianceScaling(3.0, "fan_out", "untruncated_normal"), math.sqrt(3 / 200), 0.0),
])
def test_normal_family(init, std, mean):
    values = draw(init, SHAPE).reshape(-1)
    assert ks_pvalue(values, lambda x: normal_cdf(x, mean, std)) > 1e-4


def test_truncated_normal_and_variance_scaling_truncated():
    values = draw(I.TruncatedNormal(sigma=1.0, mean=0.0, a=-0.5, b=1.5), SHAPE).reshape(-1)
    assert values.min() >= -0.5 and values.max() <= 1.5
    assert ks_pvalue(values, truncated_cdf(1.0, -0.5, 1.5)) > 1e-4
    std = math.sqrt(1.0 / 100) / 0.87962566103423978
    values = draw(I.VarianceScaling(), SHAPE).reshape(-1)
    assert np.abs(values).max() <= 2 * std
    assert ks_pvalue(values, truncated_cdf(std, -2 * std, 2 * std)) > 1e-4
    assert abs(values.std() - math.sqrt(1.0 / 100)) < 0.002  # the 0.8796 factor restores sqrt(scale / n)


def test_convolution_fans():
    bound = math.sqrt(6 / (3 * 9 + 8 * 9))
    values = draw(I.XavierUniform(), (8, 3, 3, 3))
    assert np.abs(values).max() < bound and np.abs(values).max() > 0.9 * bound


def test_orthogonal_is_orthogonal():
    for shape in ((6, 4), (4, 6), (5, 2, 3)):
        w = draw(I.Orthogonal(gain=2.0), shape).reshape(shape[0], -1)
        small = w @ w.T if w.shape[0] <= w.shape[1] else w.T @ w
        np.testing.assert_allclose(small, 4 * np.eye(small.shape[0]), atol=1e-12)


def test_exact_values():
    assert np.array_equal(draw("zeros", (2, 3)), np.zeros((2, 3)))
    assert np.array_equal(draw("ones", (2,)), np.ones(2))
    assert np.array_equal(draw(I.Constant(2.5), (2,)), [2.5, 2.5])
    assert np.array_equal(draw("identity", (2, 3)), np.eye(2, 3))
    dirac = draw(I.Dirac(groups=2), (4, 2, 3))
    expected = np.zeros((4, 2, 3))
    expected[0, 0, 1] = expected[1, 1, 1] = expected[2, 0, 1] = expected[3, 1, 1] = 1
    assert np.array_equal(dirac, expected)
    assert np.array_equal(draw(3, (2,)), [3, 3]) and np.array_equal(draw(np.eye(2), (2, 2)), np.eye(2))


def test_sparse_zero_fraction_per_column():
    values = draw(I.Sparse(0.3, sigma=0.5), (50, 40))
    assert ((values == 0).sum(axis=0) == math.ceil(0.3 * 50)).all()
    nonzero = values[values != 0]
    assert ks_pvalue(nonzero, lambda x: normal_cdf(x, 0, 0.5)) > 1e-4


def test_random_initializers_match_the_stateless_draw():
    gen = mc.Generator().manual_seed(5)
    gen(3)
    w = I.initializer(I.Normal(0.5), (4, 4), generator=gen).asnumpy()
    assert_bitwise_equal(w, R.normal(5, 3, (4, 4), 0.0, 0.5))
    assert int(gen.get_state()[1]) == 4


def test_aliases():
    for alias, cls in [("zeros", I.Zero), ("ones", I.One), ("uniform", I.Uniform), ("normal", I.Normal),
                       ("truncatedNormal", I.TruncatedNormal), ("xavier_uniform", I.XavierUniform),
                       ("xavier_normal", I.XavierNormal), ("he_uniform", I.HeUniform), ("he_normal", I.HeNormal),
                       ("orthogonal", I.Orthogonal), ("identity", I.Identity), ("dirac", I.Dirac),
                       ("sparse", I.Sparse)]:
        shape = (3, 3, 3) if alias == "dirac" else (3, 3)
        out = I.initializer(alias, shape, generator=mc.Generator())
        assert out.shape == shape and out.dtype == np.float32, alias
        assert isinstance(_ALIASES[alias.lower()](), cls), alias
    assert I.initializer("XAVIER_UNIFORM", (2, 2)).shape == (2, 2)


ALIASES = ("['dirac', 'eye', 'he_normal', 'he_uniform', 'identity', 'normal', 'ones', 'orthogonal', 'sparse', "
           "'truncated_normal', 'truncatednormal', 'uniform', 'variance_scaling', 'xavier_normal', 'xavier_uniform', "
           "'zeros']")
FANS = "a shape with at least 2 dimensions to compute fan-in and fan-out"


@pytest.mark.parametrize("make,error,who,arg,expected,got", [
    (lambda: I.initializer("bogus", (2, 2)), ValueError, "initializer", "init", f"an Initializer or one of {ALIASES}",
     "'bogus'"),
    (lambda: I.Normal(sigma=-1.0), ValueError, "Normal", "sigma", "a float >= 0", "-1.0"),
    (lambda: I.Sparse(1.0), ValueError, "Sparse", "sparsity", "a float in [0, 1)", "1.0"),
    (lambda: I.Sparse(-0.1), ValueError, "Sparse", "sparsity", "a float in [0, 1)", "-0.1"),
    (lambda: I.initializer(I.Orthogonal(), (5,)), ValueError, "Orthogonal", "shape",
     "a shape with at least 2 dimensions", "(5,)"),
    (lambda: I.initializer(I.XavierUniform(), (5,)), ValueError, "XavierUniform", "shape", FANS, "(5,)"),
    (lambda: I.initializer(I.Identity(), (2, 2, 2)), ValueError, "Identity", "shape", "a 2-D shape", "(2, 2, 2)"),
    (lambda: I.initializer(I.Sparse(0.5), (2, 2, 2)), ValueError, "Sparse", "shape", "a 2-D shape", "(2, 2, 2)"),
    (lambda: I.initializer(I.Dirac(groups=3), (4, 2, 3)), ValueError, "Dirac", "shape",
     "a first dimension divisible by groups=3", "(4, 2, 3)"),
    (lambda: I.initializer(I.Dirac(), (2, 2)), ValueError, "Dirac", "shape", "a 3-, 4- or 5-D shape", "(2, 2)"),
    (lambda: I.HeUniform(mode="fan_sideways"), ValueError, "HeUniform", "mode", "one of ['fan_in', 'fan_out']",
     "'fan_sideways'"),
    (lambda: I.HeUniform(nonlinearity="swish"), ValueError, "calculate_gain", "nonlinearity",
     "one of ['linear', 'conv1d', 'conv2d', 'conv3d', 'conv_transpose1d', 'conv_transpose2d', 'conv_transpose3d', "
     "'sigmoid', 'tanh', 'relu', 'leaky_relu', 'selu']", "'swish'"),
    (lambda: I.VarianceScaling(distribution="cauchy"), ValueError, "VarianceScaling", "distribution",
     "one of ['truncated_normal', 'untruncated_normal', 'uniform']", "'cauchy'"),
    (lambda: I.VarianceScaling(scale=0.0), ValueError, "VarianceScaling", "scale", "a float > 0", "0.0"),
    (lambda: I.TruncatedNormal(a=1.0, b=0.0), ValueError, "TruncatedNormal", "a", "at most 'b' (0.0)", "1.0"),
    (lambda: I.initializer(np.zeros(3), (2,)), ValueError, "initializer", "init", "an array of shape [2]",
     "an array of shape [3]"),
    (lambda: I.initializer(True, (2,)), TypeError, "initializer", "init",
     "an Initializer, an alias, a number or an array", "True"),
    (lambda: I.initializer(I.Normal(), (2, -1)), ValueError, "initializer", "shape", "a tuple of non-negative ints",
     "(2, -1)"),
    (lambda: I.initializer(I.Normal(), (2,), dtype=np.int32), TypeError, "Normal", "dtype",
     "one of ['float16', 'float32', 'float64']", "int32"),
    (lambda: I.Constant("x"), TypeError, "Constant", "value", "an int or a float", "'x'"),
])
def test_errors(make, error, who, arg, expected, got):
    with pytest.raises(error, match=house(who, arg, expected, got)):
        make()


def test_failed_initializer_reserves_nothing():
    gen = mc.Generator()
    with pytest.raises(ValueError, match=house("Orthogonal", "shape", "a shape with at least 2 dimensions", "(5,)")):
        I.initializer(I.Orthogonal(), (5,), generator=gen)
    assert int(gen.get_state()[1]) == 0


@pytest.mark.parametrize("init", ["uniform", "normal", "truncatedNormal", "xavier_uniform", "he_normal",
                                  "orthogonal", "sparse"])
def test_random_initializers_are_reproducible_from_the_generator_state(init):
    gen = mc.Generator().manual_seed(3)
    assert_reproducible(lambda: I.initializer(init, (6, 5), generator=gen), generators=[gen])
    assert int(gen.get_state()[1]) == 0  # restored
