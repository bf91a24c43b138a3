"""Bad inputs to the random ops, the stateless random functions and the Generator: each raises
the expected type with the exact house-voice message, and no generator moves."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minicell as mc
import minicell.random as R
from minicell import nn, ops
from minicell.random.distributions import MEMORY_LIMIT
from tests.bad_inputs import HUGE, INF, NAN, got_of, house, int_error, real_error

U64 = "an int in [0, 18446744073709551616)"
FLOATS = "one of ['float32', 'float64']"
INTS = "one of ['int8', 'int16', 'int32', 'int64', 'uint8', 'uint16', 'uint32', 'uint64']"


def _shape_error(who: str, arg: str, shape) -> tuple[type, str]:
    """What check_shape says for a bad shape (an int is read as (int,))."""
    dims = (shape,) if isinstance(shape, int) and not isinstance(shape, bool) else shape
    if not isinstance(dims, (tuple, list)):
        return TypeError, house(who, arg, "an int or a tuple of ints", got_of(shape))
    if any(isinstance(d, bool) or not isinstance(d, int) for d in dims):
        return TypeError, house(who, arg, "a tuple of ints", repr(tuple(dims)))
    return ValueError, house(who, arg, "a tuple of non-negative ints", repr(tuple(dims)))


BAD_SHAPES = [-1, 2.5, "a", None, True, (2, -3), (2, "a"), (2.0, 2), [3, None], (np.float64(2.0),), (1, True)]
BAD_REALS = [INF, -INF, NAN, "a", None, True, HUGE, [1.0], 1j]
BAD_INTS = [0.5, "a", None, True, np.float32(2.0), 1j]
BAD_FLOAT_DTYPES = [None, np.int32, "float16", "bogus", np.dtype(np.int8), bool, 5]
BAD_INT_DTYPES = [None, np.float32, "bogus", bool, np.dtype(np.float64)]


def _real_or_finite(who: str, arg: str, value) -> tuple[type, str]:
    """What check_finite says for a bad value."""
    expected = real_error(who, arg, value)
    return expected if expected[0] is TypeError else (ValueError, house(who, arg, "a finite float", got_of(value)))


def _dtype_got(dtype) -> str:
    if isinstance(dtype, type):
        return dtype.__name__
    if isinstance(dtype, np.dtype):
        return str(dtype)
    return got_of(dtype)


def _cases():
    """(id, call(g), exception type, regex)."""
    cases = []

    def add(name, call, expected):
        cases.append(pytest.param(call, *expected, id=name))

    for shape in BAD_SHAPES:
        sized = shape if isinstance(shape, (tuple, list)) else (shape,)
        size_error = _shape_error("rand", "size", tuple(sized))
        add(f"rand{sized!r}", lambda g, s=sized: ops.rand(*s, generator=g), size_error)
        add(f"rand(tuple {sized!r})", lambda g, s=sized: ops.rand(tuple(s), generator=g), size_error)
        add(f"randn{sized!r}", lambda g, s=sized: ops.randn(*s, generator=g),
            _shape_error("randn", "size", tuple(sized)))
        for who, call in (("uniform", lambda g, s: ops.uniform(s, generator=g)),
                          ("normal", lambda g, s: ops.normal(s, generator=g))):
            add(f"{who}(shape={shape!r})", lambda g, s=shape, c=call: c(g, s), _shape_error(who, "shape", shape))
        add(f"randint(size={shape!r})", lambda g, s=shape: ops.randint(0, 5, s, generator=g),
            _shape_error("randint", "size", shape))
        if shape is not None:
            add(f"bernoulli(size={shape!r})", lambda g, s=shape: ops.bernoulli(0.5, s, generator=g),
                _shape_error("bernoulli", "size", shape))
    for dtype in BAD_FLOAT_DTYPES:
        for who, call in (("rand", lambda g, d: ops.rand(2, generator=g, dtype=d)),
                          ("randn", lambda g, d: ops.randn(2, generator=g, dtype=d)),
                          ("uniform", lambda g, d: ops.uniform((2,), generator=g, dtype=d)),
                          ("normal", lambda g, d: ops.normal((2,), generator=g, dtype=d))):
            add(f"{who}(dtype={dtype!r})", lambda g, d=dtype, c=call: c(g, d),
                (TypeError, house(who, "dtype", FLOATS, _dtype_got(dtype))))
    for dtype in BAD_INT_DTYPES:
        add(f"randint(dtype={dtype!r})", lambda g, d=dtype: ops.randint(0, 5, (2,), generator=g, dtype=d),
            (TypeError, house("randint", "dtype", INTS, _dtype_got(dtype))))
    for value in BAD_REALS:
        expected = _real_or_finite("uniform", "low", value)
        add(f"uniform(low={value!r})", lambda g, v=value: ops.uniform((2,), v, 1.0, generator=g), expected)
        for who, arg, call in (("uniform", "high", lambda g, v: ops.uniform((2,), 0.0, v, generator=g)),
                               ("normal", "mean", lambda g, v: ops.normal((2,), v, 1.0, generator=g)),
                               ("normal", "std", lambda g, v: ops.normal((2,), 0.0, v, generator=g))):
            exp = _real_or_finite(who, arg, value)
            add(f"{who}({arg}={value!r})", lambda g, v=value, c=call: c(g, v), exp)
        p_error = real_error("bernoulli", "p", value, "0", "1")
        if isinstance(value, (list, complex)):
            p_error = (TypeError, house("bernoulli", "p", "a real number", got_of(value)))
        if not isinstance(value, list):
            add(f"bernoulli(p={value!r})", lambda g, v=value: ops.bernoulli(v, (2,), generator=g), p_error)
            add(f"dropout(p={value!r})", lambda g, v=value: ops.dropout(mc.Tensor([1.0]), v, generator=g),
                (p_error[0], p_error[1].replace("'bernoulli'", "'dropout'")))
    for value in BAD_INTS:
        for arg, call in (("low", lambda g, v: ops.randint(v, 5, (2,), generator=g)),
                          ("high", lambda g, v: ops.randint(0, v, (2,), generator=g))):
            add(f"randint({arg}={value!r})", lambda g, v=value, c=call: c(g, v),
                (TypeError, house("randint", arg, "an int", got_of(value) if not isinstance(value, np.generic)
                                  else f"{value!r} ({type(value).__name__})")))
        if not isinstance(value, np.generic):
            add(f"randperm({value!r})", lambda g, v=value: ops.randperm(v, generator=g),
                int_error("randperm", "n", value))
            add(f"dropout(start={value!r})",
                lambda g, v=value: ops.dropout(mc.Tensor([1.0]), 0.5, generator=g, start=v),
                int_error("dropout", "start", value))
    for value in (1.5, -0.1, 2, 100):
        add(f"bernoulli(p={value})", lambda g, v=value: ops.bernoulli(v, (2,), generator=g),
            real_error("bernoulli", "p", value, "0", "1"))
        add(f"dropout(p={value})", lambda g, v=value: ops.dropout(mc.Tensor([1.0]), v, generator=g),
            real_error("dropout", "p", value, "0", "1"))
    for generator in (5, "g", nn.Dense, object(), np.random.default_rng(0)):
        for who, call in (("rand", lambda gen: ops.rand(2, generator=gen)),
                          ("randint", lambda gen: ops.randint(0, 3, (2,), generator=gen)),
                          ("dropout", lambda gen: ops.dropout(mc.Tensor([1.0]), 0.5, generator=gen))):
            add(f"{who}(generator={generator!r})", lambda g, c=call, gen=generator: c(gen),
                (TypeError, house(who, "generator", "a Generator or None",
                                  got_of(generator))))
    for training in ("yes", 1, None, 0.0):
        add(f"dropout(training={training!r})",
            lambda g, t=training: ops.dropout(mc.Tensor([1.0]), 0.5, training=t, generator=g),
            (TypeError, house("dropout", "training", "a bool", got_of(training))))
    specific = [
        ("rand(2**40, 2**40)", lambda g: ops.rand(2 ** 40, 2 ** 40, generator=g),
         (ValueError, house("rand", "size", "at most 73786976294838206464 elements to fit in the 2**66-word stream",
                            "[1099511627776, 1099511627776] (1208925819614629174706176 elements)"))),
        ("rand(2**30, 2**30)", lambda g: ops.rand(2 ** 30, 2 ** 30, generator=g),
         (ValueError, house("rand", "size", f"a shape whose array fits in memory (at most {MEMORY_LIMIT // 8} "
                            "elements here)", "[1073741824, 1073741824] (1152921504606846976 elements)"))),
        ("randperm(2**61)", lambda g: ops.randperm(2 ** 61, generator=g),
         (ValueError, house("randperm", "n", f"a shape whose array fits in memory (at most {MEMORY_LIMIT // 48} "
                            "elements here)", "[2305843009213693952] (2305843009213693952 elements)"))),
        ("randperm(2**62)", lambda g: ops.randperm(2 ** 62, generator=g),
         int_error("randperm", "n", 2 ** 62, "0", "4611686018427387904")),
        ("uniform(-3e38, 3e38)", lambda g: ops.uniform((3,), -3e38, 3e38, generator=g),
         (ValueError, house("uniform", "high", "such that 'high' - 'low' is finite in float32", "3e+38 - -3e+38"))),
        ("uniform(high=1e39)", lambda g: ops.uniform((3,), 0, 1e39, generator=g),
         (ValueError, house("uniform", "high", "within the range of float32 (|x| <= 3.40282e+38)", "1e+39"))),
        ("uniform(low > high)", lambda g: ops.uniform((3,), 2, 1, generator=g),
         (ValueError, house("uniform", "low", "at most 'high' (1.0)", "2.0"))),
        ("normal(mean=1e39)", lambda g: ops.normal((2,), 1e39, 1.0, generator=g),
         (ValueError, house("normal", "mean", "such that |mean| + 5.6777 * std <= 3.40282e+38 (the largest float32 "
                            "value)", "mean=1e+39, std=1.0"))),
        ("normal(std=1e38)", lambda g: ops.normal((2,), 0.0, 1e38, generator=g),
         (ValueError, house("normal", "std", "such that |mean| + 5.6777 * std <= 3.40282e+38 (the largest float32 "
                            "value)", "mean=0.0, std=1e+38"))),
        ("normal(std=-1)", lambda g: ops.normal((2,), 0.0, -1.0, generator=g),
         (ValueError, house("normal", "std", "a float >= 0", "-1.0"))),
        ("randint(3, 3)", lambda g: ops.randint(3, 3, (2,), generator=g),
         (ValueError, house("randint", "high", "greater than 'low' (3)", "3"))),
        ("randint(0, 1000, int8)", lambda g: ops.randint(0, 1000, (2,), generator=g, dtype=np.int8),
         (ValueError, house("randint", "[low, high)", "inside the range of int8 [-128, 127]", "[0, 1000)"))),
        ("randint(-1, 5, uint8)", lambda g: ops.randint(-1, 5, (2,), generator=g, dtype=np.uint8),
         (ValueError, house("randint", "[low, high)", "inside the range of uint8 [0, 255]", "[-1, 5)"))),
        ("bernoulli(int Tensor)", lambda g: ops.bernoulli(mc.Tensor([1, 0]), generator=g),
         (TypeError, house("bernoulli", "p", "floating-point probabilities", "an array of dtype int64"))),
        ("bernoulli(p > 1 Tensor)", lambda g: ops.bernoulli(mc.Tensor([0.5, 2.0]), generator=g),
         (ValueError, house("bernoulli", "p", "probabilities in [0, 1]", "values in [0.5, 2.0]"))),
        ("bernoulli(NaN Tensor)", lambda g: ops.bernoulli(mc.Tensor([0.5, NAN]), generator=g),
         (ValueError, house("bernoulli", "p", "probabilities in [0, 1]", "NaN"))),
        ("bernoulli(p not broadcastable)", lambda g: ops.bernoulli(mc.Tensor([0.5, 0.5]), (3,), generator=g),
         (ValueError, house("bernoulli", "p", "broadcastable to the shape [3]", "shape [2]"))),
        ("dropout(start=2**100)", lambda g: ops.dropout(mc.Tensor([1.0]), 0.5, generator=g, start=2 ** 100),
         (ValueError, house("dropout", "start", "at most 147573952589676412927 for 1 elements in the 2**66-word "
                            "stream", "an int of 101 bits"))),
        ("dropout(start=2**67)", lambda g: ops.dropout(mc.Tensor([1.0, 2.0]), 0.5, generator=g, start=2 ** 67 - 1),
         (ValueError, house("dropout", "start", "at most 147573952589676412926 for 2 elements in the 2**66-word "
                            "stream", "an int of 67 bits"))),
        ("dropout(ndarray)", lambda g: ops.dropout(np.ones(2), 0.5, generator=g),
         (TypeError, house("dropout", "input", "a Tensor", "an object of type ndarray"))),
        ("dropout(int Tensor)", lambda g: ops.dropout(mc.Tensor([1, 2]), 0.5, generator=g),
         (TypeError, house("dropout", "input", "a floating-point Tensor", "a Tensor of dtype int64"))),
    ]
    for name, call, expected in specific:
        add(name, call, expected)
    return cases


CASES = _cases()


@pytest.mark.parametrize("call, error, message", CASES)
def test_random_op_refuses_bad_input_and_reserves_nothing(call, error, message):
    g = nn.Generator().manual_seed(7)
    g(3)
    before = [t.asnumpy().tobytes() for t in g.get_state()]
    default_before = [t.asnumpy().tobytes() for t in mc.get_rng_state()]
    with pytest.raises(error, match=message):
        call(g)
    assert [t.asnumpy().tobytes() for t in g.get_state()] == before
    assert [t.asnumpy().tobytes() for t in mc.get_rng_state()] == default_before


@pytest.mark.parametrize("call, message", [
    (lambda: ops.rand(-2), house("rand", "size", "a tuple of non-negative ints", "(-2,)")),
    (lambda: ops.uniform((2,), INF), house("uniform", "low", "a finite float", "inf")),
    (lambda: ops.randint(0, 0, (1,)), house("randint", "high", "greater than 'low' (0)", "0")),
    (lambda: ops.dropout(mc.Tensor([1.0]), 2.0), house("dropout", "p", "a float in [0, 1]", "2.0")),
    (lambda: ops.randperm(-1), house("randperm", "n", "an int in [0, 4611686018427387904)", "-1")),
])
def test_bad_calls_on_the_default_generator_reserve_nothing(call, message):
    before = [t.asnumpy().tobytes() for t in mc.get_rng_state()]
    with pytest.raises(ValueError, match=message):
        call()
    assert [t.asnumpy().tobytes() for t in mc.get_rng_state()] == before


# ----- the stateless functions of minicell.random -------------------------------------------------
BAD_U64 = [-1, 2 ** 64, 1.5, "a", None, True, HUGE]


def _stateless_cases():
    cases = []
    calls = {
        "uniform": lambda s, o: R.uniform(s, o, (2,)),
        "normal": lambda s, o: R.normal(s, o, (2,)),
        "truncated_normal": lambda s, o: R.truncated_normal(s, o, (2,)),
        "randint": lambda s, o: R.randint(s, o, 0, 5, (2,)),
        "permutation": lambda s, o: R.permutation(s, o, 3),
        "keep_mask": lambda s, o: R.keep_mask(s, o, (2,), 0.5),
        "bernoulli": lambda s, o: R.bernoulli(s, o, (2,), 0.5),
        "random_words": lambda s, o: R.random_words(s, o, 2),
    }
    for who, call in calls.items():
        for value in BAD_U64:
            for arg, fn in (("seed", lambda c, v: c(v, 0)), ("offset", lambda c, v: c(0, v))):
                cases.append(pytest.param(lambda c=call, v=value, f=fn: f(c, v),
                                          *int_error(who, arg, value, "0", "18446744073709551616"),
                                          id=f"{who}({arg}={value!r})"))
    specific = [
        ("uniform(start=2**66)", lambda: R.uniform(0, 0, (4,), start=2 ** 66),
         (ValueError, house("uniform", "start", "at most 73786976294838206460 for 4 elements in the 2**66-word stream",
                            "an int of 67 bits"))),
        ("uniform float64 start", lambda: R.uniform(0, 0, (4,), dtype=np.float64, start=2 ** 65),
         (ValueError, house("uniform", "start", "at most 36893488147419103228 for 4 elements in the 2**66-word "
                            "stream", "an int of 66 bits"))),
        ("keep_mask(start past the end)", lambda: R.keep_mask(0, 0, (4,), 0.5, start=2 ** 67 - 3),
         (ValueError, house("keep_mask", "start", "at most 147573952589676412924 for 4 elements in the 2**66-word "
                            "stream", "an int of 67 bits"))),
        ("keep_mask(p=2)", lambda: R.keep_mask(0, 0, (4,), 2.0), real_error("keep_mask", "p", 2.0, "0", "1")),
        ("random_words(count=2**40)", lambda: R.random_words(0, 0, 2 ** 40),
         (ValueError, house("random_words", "count", "a count whose words fit in memory", "1099511627776"))),
        ("random_words(start past the end)", lambda: R.random_words(0, 0, 4, start=2 ** 66),
         (ValueError, house("random_words", "start + count", "at most 2**66 (the stream's length)",
                            "an int of 67 bits"))),
        ("random_words(count=-1)", lambda: R.random_words(0, 0, -1), int_error("random_words", "count", -1, "0")),
        ("random_words(out=list)", lambda: R.random_words(0, 0, 2, out=[0, 0]),
         (ValueError, house("random_words", "out", "a writeable C-contiguous uint32 array of shape (2,)",
                            "an object of type list"))),
        ("philox4x32(rounds=10**12)", lambda: R.philox4x32(np.zeros(4, np.uint32), np.zeros(2, np.uint32),
                                                           rounds=10 ** 12),
         int_error("philox4x32", "rounds", 10 ** 12, "0", "17")),
        ("philox4x32(rounds=2.0)", lambda: R.philox4x32(np.zeros(4, np.uint32), np.zeros(2, np.uint32), rounds=2.0),
         int_error("philox4x32", "rounds", 2.0)),
        ("philox4x32(float counter)", lambda: R.philox4x32(np.zeros(4), np.zeros(2, np.uint32)),
         (TypeError, house("philox4x32", "counter", "an array of uint32 values of shape (..., 4)",
                           "an array of dtype float64 and shape [4]"))),
        ("philox4x32(counter of 3)", lambda: R.philox4x32(np.zeros(3, np.uint32), np.zeros(2, np.uint32)),
         (ValueError, house("philox4x32", "counter", "an array of shape (..., 4)",
                            "an array of dtype uint32 and shape [3]"))),
        ("philox4x32(key > 2**32)", lambda: R.philox4x32(np.zeros(4, np.uint32), [2 ** 32, 0]),
         (ValueError, house("philox4x32", "key", "an array of uint32 values of shape (..., 2)",
                            "values in [0, 4294967296]"))),
        ("philox4x32(negative counter)", lambda: R.philox4x32([-1, 0, 0, 0], [0, 0]),
         (ValueError, house("philox4x32", "counter", "an array of uint32 values of shape (..., 4)",
                            "values in [-1, 0]"))),
        ("truncated_normal(a > b)", lambda: R.truncated_normal(0, 0, (2,), a=3, b=1),
         (ValueError, house("truncated_normal", "a", "at most 'b' (1.0)", "3.0"))),
        ("truncated_normal(std=0)", lambda: R.truncated_normal(0, 0, (2,), std=0.0),
         (ValueError, house("truncated_normal", "std", "a float > 0", "0.0"))),
        ("truncated_normal(a=nan)", lambda: R.truncated_normal(0, 0, (2,), a=NAN),
         (ValueError, house("truncated_normal", "a", "a finite float", "nan"))),
        ("normal(mean=nan)", lambda: R.normal(0, 0, (2,), mean=NAN),
         (ValueError, house("normal", "mean", "a finite float", "nan"))),
        ("permutation(n=-1)", lambda: R.permutation(0, 0, -1), int_error("permutation", "n", -1, "0",
                                                                         "4611686018427387904")),
        ("set_num_threads(0)", lambda: mc.set_num_threads(0), int_error("set_num_threads", "n", 0, "1", "257")),
        ("set_num_threads(1000)", lambda: mc.set_num_threads(1000),
         int_error("set_num_threads", "n", 1000, "1", "257")),
        ("set_num_threads('a')", lambda: mc.set_num_threads("a"), int_error("set_num_threads", "n", "a")),
        ("set_num_threads(True)", lambda: mc.set_num_threads(True), int_error("set_num_threads", "n", True)),
        ("set_num_threads(2.0)", lambda: mc.set_num_threads(2.0), int_error("set_num_threads", "n", 2.0)),
    ]
    for name, call, expected in specific:
        cases.append(pytest.param(call, *expected, id=name))
    return cases


STATELESS = _stateless_cases()


@pytest.mark.parametrize("call, error, message", STATELESS)
def test_stateless_function_refuses_bad_input(call, error, message):
    threads = mc.get_num_threads()
    with pytest.raises(error, match=message):
        call()
    assert mc.get_num_threads() == threads


# ----- the Generator and the module-level functions -----------------------------------------------
BAD_SEEDS = [2 ** 64, -(2 ** 63) - 1, 1.0, "a", None, True, HUGE, mc.Tensor(1.0), mc.Tensor([1, 2])]


def _seed_error(who: str, arg: str, value) -> tuple[type, str]:
    if isinstance(value, mc.Tensor):
        return TypeError, house(who, arg, "an int or a one-element integer Tensor",
                                f"a Tensor of dtype {value.dtype} and shape {list(value.shape)}")
    if arg == "offset":
        return int_error(who, arg, value, "0", "18446744073709551616")
    return int_error(who, arg, value, "-9223372036854775808", "18446744073709551616")


def _generator_cases():
    cases = []
    for value in BAD_SEEDS:
        cases.append(pytest.param(lambda g, v=value: g.manual_seed(v),
                                  *_seed_error("Generator.manual_seed", "seed", value), id=f"manual_seed({value!r})"))
        cases.append(pytest.param(lambda g, v=value: g.set_state(v), *_seed_error("Generator.set_state", "seed", value),
                                  id=f"set_state(seed={value!r})"))
        offset = -1 if isinstance(value, int) and value == -(2 ** 63) - 1 else value
        if offset is None:  # offset=None means 0
            continue
        cases.append(pytest.param(lambda g, v=offset: g.set_state(1, v),
                                  *_seed_error("Generator.set_state", "offset", offset),
                                  id=f"set_state(offset={offset!r})"))
    for step in (-1, 1.0, "a", None, True, HUGE, np.float64(1)):
        expected = int_error("Generator", "step", step, "0")
        if step is HUGE:  # an int, but no room for it
            expected = (OverflowError, house("Generator", "step", "at most 18446744073709551612 at offset 3 (the "
                                                                  "offset "
                                             "stays below 2**64; reseed with manual_seed())", got_of(HUGE)))
        cases.append(pytest.param(lambda g, s=step: g(s), *expected, id=f"gen({step!r})"))
        cases.append(pytest.param(lambda g, s=step: g.construct(s), *expected, id=f"construct({step!r})"))
    cases.append(pytest.param(lambda g: g(2 ** 64 - 3), OverflowError, house(
        "Generator", "step", "at most 18446744073709551612 at offset 3 (the offset stays below 2**64; reseed "
        "with manual_seed())", "18446744073709551613"), id="gen(2**64 - 3) overflows"))
    return cases


@pytest.mark.parametrize("call, error, message", _generator_cases())
def test_generator_refuses_bad_input_and_keeps_its_state(call, error, message):
    g = nn.Generator().manual_seed(11)
    g(3)
    before = [t.asnumpy().tobytes() for t in g.get_state()]
    with pytest.raises(error, match=message):
        call(g)
    assert [t.asnumpy().tobytes() for t in g.get_state()] == before


@pytest.mark.parametrize("generators, expected, got", [
    (5, "None or an iterable of Generators", "5"),
    ("gen", "None or an iterable of Generators", "'gen'"),
    ([5], "an iterable of Generators", "5"),
    ([nn.Dense(1, 1, generator=nn.Generator())], "an iterable of Generators", "an object of type Dense"),
    ((None,), "an iterable of Generators", "None"),
])
def test_fork_rng_refuses_what_is_not_generators(generators, expected, got):
    before = [t.asnumpy().tobytes() for t in mc.get_rng_state()]
    with pytest.raises(TypeError, match=house("fork_rng", "generators", expected, got)), mc.fork_rng(generators):
        ops.rand(3)  # never runs
    assert [t.asnumpy().tobytes() for t in mc.get_rng_state()] == before


@given(st.lists(st.integers(-(2 ** 70), 2 ** 70), min_size=1, max_size=4).filter(lambda s: min(s) < 0))
def test_any_shape_with_a_negative_dimension_is_refused_and_reserves_nothing(shape):
    g = nn.Generator().manual_seed(3)
    shown = repr(tuple(shape)) if len(repr(tuple(shape))) <= 80 else f"a tuple of length {len(shape)}"
    with pytest.raises(ValueError, match=house("uniform", "shape", "a tuple of non-negative ints", shown)):
        ops.uniform(tuple(shape), generator=g)
    assert int(g.get_state()[1].asnumpy()) == 0


@given(st.one_of(st.sampled_from([INF, -INF, NAN]),
                 st.integers(2 ** 1024, 2 ** 1100)))
def test_non_finite_bounds_are_refused_whatever_they_are(value):
    g = nn.Generator()
    with pytest.raises(ValueError, match=house("uniform", "high", "a finite float", got_of(value))):
        ops.uniform((2,), 0.0, value, generator=g)
    with pytest.raises(ValueError, match=house("normal", "std", "a finite float", got_of(value))):
        ops.normal((2,), 0.0, value, generator=g)
    assert int(g.get_state()[1].asnumpy()) == 0


@given(st.integers(0, 2 ** 66 + 10), st.integers(1, 8))
def test_starts_are_accepted_exactly_up_to_the_end_of_the_stream(start, count):
    """Exact integer arithmetic: a float would round 2**66 + 4 down to 2**66 and accept it."""
    fits = start + count <= 2 ** 66
    if fits:
        assert R.uniform(1, 2, (count,), start=start).shape == (count,)
    else:
        with pytest.raises(ValueError, match=r"^For 'uniform', 'start' must be at most \d+ for \d+ elements"):
            R.uniform(1, 2, (count,), start=start)
