"""Bad inputs to the initializers: exact house-voice messages, and no generator moves (every
argument is checked before the one step a random initializer reserves)."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minicell as mc
from minicell import initializer as I
from minicell import nn
from minicell.random.distributions import MEMORY_LIMIT
from tests.bad_inputs import HUGE, INF, NAN, got_of, house, int_error, real_error

BAD_REALS = [INF, -INF, NAN, "a", None, True, HUGE, [1.0]]
ALIASES = ("['dirac', 'eye', 'he_normal', 'he_uniform', 'identity', 'normal', 'ones', 'orthogonal', 'sparse', "
           "'truncated_normal', 'truncatednormal', 'uniform', 'variance_scaling', 'xavier_normal', 'xavier_uniform', "
           "'zeros']")
ALL_DTYPES = "one of ['bool', 'int8', 'int16', 'int32', 'int64', 'uint8', 'uint16', 'uint32', 'uint64', 'float16', " \
             "'float32', 'float64']"
FLOAT_DTYPES = "one of ['float16', 'float32', 'float64']"
NONLINEARITIES = ("one of ['linear', 'conv1d', 'conv2d', 'conv3d', 'conv_transpose1d', 'conv_transpose2d', "
                  "'conv_transpose3d', 'sigmoid', 'tanh', 'relu', 'leaky_relu', 'selu']")


def _finite(who, arg, value):
    error, message = real_error(who, arg, value)
    return (error, message) if error is TypeError else (ValueError, house(who, arg, "a finite float", got_of(value)))


# (class, keyword, bounds for check_real or None for check_finite)
HYPER = [
    (I.Uniform, "scale", ("0", "inf", "]")), (I.Normal, "sigma", None), (I.Normal, "mean", None),
    (I.TruncatedNormal, "sigma", None), (I.TruncatedNormal, "mean", None), (I.TruncatedNormal, "a", None),
    (I.TruncatedNormal, "b", None), (I.XavierUniform, "gain", ("0", "inf", "]")),
    (I.XavierNormal, "gain", ("0", "inf", "]")), (I.HeUniform, "negative_slope", None),
    (I.HeNormal, "negative_slope", None), (I.VarianceScaling, "scale", ("0", "inf", "]")),
    (I.Orthogonal, "gain", None), (I.Sparse, "sigma", None), (I.Sparse, "sparsity", ("0", "1", ")")),
    (I.Constant, "value", "constant"),
]


def _hyper_cases():
    cases = []
    for cls, arg, bounds in HYPER:
        for value in BAD_REALS:
            if bounds == "constant":
                if isinstance(value, (bool, str, list)) or value is None:
                    expected = (TypeError, house("Constant", "value", "an int or a float", got_of(value)))
                elif value is HUGE:
                    continue  # a huge int is a valid int constant; the dtype decides (tested below)
                else:
                    expected = (ValueError, house("Constant", "value", "a finite float", got_of(value)))
            elif bounds is None:
                expected = _finite(cls.__name__, arg, value)
            else:
                expected = real_error(cls.__name__, arg, value, *bounds)
            kwargs = {arg: value}
            if cls is I.Sparse and arg == "sigma":
                kwargs["sparsity"] = 0.5
            cases.append(pytest.param(cls, kwargs, *expected, id=f"{cls.__name__}({arg}={value!r})"))
    more = [
        (I.Uniform, dict(scale=-1.0), *real_error("Uniform", "scale", -1.0)),
        (I.Normal, dict(sigma=-1.0), ValueError, house("Normal", "sigma", "a float >= 0", "-1.0")),
        (I.TruncatedNormal, dict(sigma=0.0), ValueError, house("TruncatedNormal", "sigma", "a float > 0", "0.0")),
        (I.TruncatedNormal, dict(a=1.0, b=0.0), ValueError, house("TruncatedNormal", "a", "at most 'b' (0.0)", "1.0")),
        (I.XavierUniform, dict(gain=-2), *real_error("XavierUniform", "gain", -2)),
        (I.VarianceScaling, dict(scale=0.0), ValueError, house("VarianceScaling", "scale", "a float > 0", "0.0")),
        (I.VarianceScaling, dict(mode="fan_sideways"), ValueError,
         house("VarianceScaling", "mode", "one of ['fan_in', 'fan_out', 'fan_avg']", "'fan_sideways'")),
        (I.VarianceScaling, dict(distribution="cauchy"), ValueError,
         house("VarianceScaling", "distribution", "one of ['truncated_normal', 'untruncated_normal', 'uniform']",
               "'cauchy'")),
        (I.VarianceScaling, dict(mode=None), TypeError,
         house("VarianceScaling", "mode", "one of ['fan_in', 'fan_out', 'fan_avg']", "None")),
        (I.HeUniform, dict(mode="fan_avg"), ValueError,
         house("HeUniform", "mode", "one of ['fan_in', 'fan_out']", "'fan_avg'")),
        (I.HeNormal, dict(mode=1), TypeError, house("HeNormal", "mode", "one of ['fan_in', 'fan_out']", "1")),
        (I.HeUniform, dict(nonlinearity="swish"), ValueError,
         house("calculate_gain", "nonlinearity", NONLINEARITIES, "'swish'")),
        (I.Sparse, dict(sparsity=1.0), *real_error("Sparse", "sparsity", 1.0, "0", "1", ")")),
        (I.Sparse, dict(sparsity=-0.1), *real_error("Sparse", "sparsity", -0.1, "0", "1", ")")),
        (I.Dirac, dict(groups=0), *int_error("Dirac", "groups", 0, "1")),
        (I.Dirac, dict(groups=1.0), *int_error("Dirac", "groups", 1.0)),
        (I.Dirac, dict(groups=True), *int_error("Dirac", "groups", True)),
    ]
    cases += [pytest.param(*case, id=f"{case[0].__name__}({case[1]})") for case in more]
    return cases


@pytest.mark.parametrize("cls, kwargs, error, message", _hyper_cases())
def test_initializer_hyper_parameters_are_finite_and_in_range(cls, kwargs, error, message):
    with pytest.raises(error, match=message):
        cls(**kwargs)


RANDOM = [I.Uniform(), I.Normal(), I.TruncatedNormal(), I.XavierUniform(), I.XavierNormal(), I.HeUniform(),
          I.HeNormal(), I.VarianceScaling(), I.Orthogonal(), I.Sparse(0.5)]


def _call_cases():
    cases = []
    for init in RANDOM:
        who = type(init).__name__
        for dtype, got in ((None, "None"), (np.int32, "int32"), ("bogus", "'bogus'"), (bool, "bool")):
            cases.append(pytest.param(init, (3, 3), dtype, TypeError, house(who, "dtype", FLOAT_DTYPES, got),
                                      id=f"{who}(dtype={got})"))
        for shape, error, expected, got in (((3, -1), ValueError, "a tuple of non-negative ints", "(3, -1)"),
                                            ((3, 2.0), TypeError, "a tuple of ints", "(3, 2.0)"),
                                            ("ab", TypeError, "an int or a tuple of ints", "'ab'"),
                                            (None, TypeError, "an int or a tuple of ints", "None")):
            cases.append(pytest.param(init, shape, np.float32, error, house("initializer", "shape", expected, got),
                                      id=f"{who}(shape={shape!r})"))
        cases.append(pytest.param(init, (2 ** 20, 2 ** 20, 2 ** 20), np.float32, ValueError, house(
            who, "shape", f"a shape whose array fits in memory (at most {MEMORY_LIMIT // 8} elements here)",
            "[1048576, 1048576, 1048576] (1152921504606846976 elements)"), id=f"{who}(huge shape)"))
    for init, shape, expected in (
            (I.XavierUniform(), (5,), "a shape with at least 2 dimensions to compute fan-in and fan-out"),
            (I.XavierNormal(), (), "a shape with at least 2 dimensions to compute fan-in and fan-out"),
            (I.HeUniform(), (5,), "a shape with at least 2 dimensions to compute fan-in and fan-out"),
            (I.HeNormal(), (5,), "a shape with at least 2 dimensions to compute fan-in and fan-out"),
            (I.VarianceScaling(), (5,), "a shape with at least 2 dimensions to compute fan-in and fan-out"),
            (I.Orthogonal(), (5,), "a shape with at least 2 dimensions"),
            (I.Sparse(0.5), (2, 2, 2), "a 2-D shape"), (I.Identity(), (2, 2, 2), "a 2-D shape"),
            (I.Dirac(groups=3), (4, 2, 3), "a first dimension divisible by groups=3"),
            (I.Dirac(), (2, 2), "a 3-, 4- or 5-D shape")):
        got = repr(tuple(shape))
        cases.append(pytest.param(init, shape, np.float32, ValueError,
                                  house(type(init).__name__, "shape", expected, got),
                                  id=f"{type(init).__name__}(shape={shape})"))
    overflowing = [(I.Uniform(1e5), "100000"), (I.Normal(sigma=2e4), "113554"),
                   (I.TruncatedNormal(sigma=1.0, a=-7e4, b=1.0), "70000"), (I.Orthogonal(gain=1e5), "100000"),
                   (I.Normal(sigma=1.0, mean=7e4), "70005.7")]
    for init, bound in overflowing:
        who = type(init).__name__
        cases.append(pytest.param(init, (3, 3), np.float16, ValueError, house(
            who, "dtype", f"a dtype that holds values up to {bound} (float16 stops at 65504)", "float16"),
            id=f"{who} overflows float16"))
    return cases


@pytest.mark.parametrize("init, shape, dtype, error, message", _call_cases())
def test_initializer_calls_refuse_bad_input_and_draw_nothing(init, shape, dtype, error, message):
    g = nn.Generator().manual_seed(4)
    g(2)
    before = [t.asnumpy().tobytes() for t in g.get_state()]
    with pytest.raises(error, match=message):
        I.initializer(init, shape, dtype, generator=g)
    assert [t.asnumpy().tobytes() for t in g.get_state()] == before


@pytest.mark.parametrize("init, shape, dtype, error, expected, got", [
    ("bogus", (2,), np.float32, ValueError, f"an Initializer or one of {ALIASES}", "'bogus'"),
    (True, (2,), np.float32, TypeError, "an Initializer, an alias, a number or an array", "True"),
    (object(), (2,), np.float32, TypeError, "an Initializer, an alias, a number or an array", "an object of type "
                                                                                              "object"),
    (None, (2,), np.float32, TypeError, "an Initializer, an alias, a number or an array", "None"),
    (np.zeros(3), (2,), np.float32, ValueError, "an array of shape [2]", "an array of shape [3]"),
    (np.array(["a", "b"]), (2,), np.float32, TypeError, "an array of numbers", "an array of dtype <U1"),
    (1e39, (2,), np.float32, ValueError, "within the range of float32 (max 3.40282e+38)", "np.float64(1e+39)"),
    (300, (2,), np.int8, ValueError, "in [-128, 127] to be stored as int8", "values in [300, 300]"),
    (2 ** 70, (2,), np.int64, ValueError, "in [-9223372036854775808, 9223372036854775807] to be stored as int64",
     "values in [an int of 71 bits, an int of 71 bits]"),
    (HUGE, (2,), np.float32, ValueError, "within the range of float32 (max 3.40282e+38)", "an int of 1329 bits"),
    (NAN, (2,), np.int32, ValueError, "finite to be stored as int32", "NaN or inf"),
    (np.array([1.0, INF]), (2,), np.int64, ValueError, "finite to be stored as int64", "NaN or inf"),
    (mc.Tensor([1e5, 1.0]), (2,), np.float16, ValueError, "within the range of float16 (max 65504)",
     "np.float32(100000.0)"),
])
def test_initializer_function_refuses_bad_init(init, shape, dtype, error, expected, got):
    with pytest.raises(error, match=house("initializer", "init", expected, got)):
        I.initializer(init, shape, dtype)


@pytest.mark.parametrize("call, error, who, arg, expected, got", [
    (lambda: I.initializer("zeros", (2,), None), TypeError, "Zero", "dtype", ALL_DTYPES, "None"),
    (lambda: I.initializer(5, (2,), "bogus"), TypeError, "initializer", "dtype", ALL_DTYPES, "'bogus'"),
    (lambda: I.initializer("zeros", "ab"), TypeError, "initializer", "shape", "an int or a tuple of ints", "'ab'"),
    (lambda: I.initializer(I.Normal(), (2,), generator=5), TypeError, "Normal", "generator", "a Generator or None",
     "5"),
    (lambda: I.initializer("zeros", (2 ** 40, 2 ** 40)), ValueError, "Zero", "shape",
     f"a shape whose array fits in memory (at most {MEMORY_LIMIT // 8} elements here)",
     "[1099511627776, 1099511627776] (1208925819614629174706176 elements)"),
    (lambda: I.initializer(I.Constant(2 ** 70), (2,), np.int64), ValueError, "Constant", "value",
     "in [-9223372036854775808, 9223372036854775807] to be stored as int64",
     "values in [an int of 71 bits, an int of 71 bits]"),
    (lambda: I.initializer(I.Constant(-1), (2,), np.uint8), ValueError, "Constant", "value",
     "in [0, 255] to be stored as uint8", "values in [-1, -1]"),
    (lambda: I.calculate_gain("leaky_relu", INF), ValueError, "calculate_gain", "param", "a finite float", "inf"),
    (lambda: I.calculate_gain("leaky_relu", "a"), TypeError, "calculate_gain", "param", "a real number", "'a'"),
    (lambda: I.calculate_gain("swish"), ValueError, "calculate_gain", "nonlinearity", NONLINEARITIES, "'swish'"),
    (lambda: I.calculate_gain(None), TypeError, "calculate_gain", "nonlinearity", NONLINEARITIES, "None"),
])
def test_initializer_helpers_refuse_bad_input(call, error, who, arg, expected, got):
    with pytest.raises(error, match=house(who, arg, expected, got)):
        call()


@given(st.one_of(st.sampled_from([INF, -INF, NAN]),
                 st.integers(2 ** 1024, 2 ** 1030)),
       st.sampled_from([(I.Uniform, "scale"), (I.XavierUniform, "gain"), (I.Orthogonal, "gain"),
                        (I.Normal, "sigma"), (I.VarianceScaling, "scale"), (I.HeNormal, "negative_slope")]))
def test_no_initializer_accepts_a_non_finite_hyper_parameter(value, cls_arg):
    cls, arg = cls_arg
    with pytest.raises(ValueError, match=rf"^For '{cls.__name__}', '{arg}' must be a (finite float|float in \[.*), "
                                         rf"but got .*\.$"):
        cls(**{arg: value})
