"""Random ops on generators: one step per op, determinism, size independence, errors."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minicell as mc
from minicell import ops
from minicell import random as R
from minicell.nn import Generator
from minicell.testing import assert_bitwise_equal
from minicell.testing.strategies import seeds
from tests.bad_inputs import house

OPS = {
    "rand": lambda g: mc.rand(2, 3, generator=g),
    "randn": lambda g: mc.randn((4,), generator=g, dtype=np.float64),
    "uniform": lambda g: ops.uniform((3,), -1.0, 1.0, generator=g),
    "normal": lambda g: ops.normal((3,), 2.0, 0.5, generator=g),
    "randint": lambda g: mc.randint(0, 10, (5,), generator=g),
    "randperm": lambda g: mc.randperm(6, generator=g),
    "bernoulli": lambda g: ops.bernoulli(0.3, (8,), generator=g),
}


@pytest.mark.parametrize("name", sorted(OPS))
def test_each_op_reserves_one_step_and_matches_the_stateless_function(name):
    gen = Generator().manual_seed(11)
    gen(4)
    value = OPS[name](gen)
    assert int(gen.get_state()[1]) == 5 and isinstance(value, mc.Tensor)
    stateless = {
        "rand": lambda: R.uniform(11, 4, (2, 3)), "randn": lambda: R.normal(11, 4, (4,), dtype=np.float64),
        "uniform": lambda: R.uniform(11, 4, (3,), -1.0, 1.0), "normal": lambda: R.normal(11, 4, (3,), 2.0, 0.5),
        "randint": lambda: R.randint(11, 4, 0, 10, (5,)), "randperm": lambda: R.permutation(11, 4, 6),
        "bernoulli": lambda: R.bernoulli(11, 4, (8,), 0.3),
    }[name]()
    assert_bitwise_equal(value, stateless)  # values, dtype and shape


@given(seed=seeds(), sizes=st.lists(st.integers(0, 50), min_size=1, max_size=5))
def test_manual_seed_replays_and_sizes_do_not_leak(seed, sizes):
    gen = Generator().manual_seed(seed)
    first = [mc.rand(n, generator=gen).asnumpy() for n in sizes]
    gen.manual_seed(seed)
    again = [mc.rand(n, generator=gen).asnumpy() for n in sizes]
    assert_bitwise_equal(first, again)
    gen.manual_seed(seed)
    mc.rand(999, generator=gen)  # a different size for the first op ...
    later = [mc.rand(n, generator=gen).asnumpy() for n in sizes[1:]]
    assert_bitwise_equal(first[1:], later)  # ... changes nothing after it


def test_default_generator_is_used_when_none():
    mc.manual_seed(8)
    a = mc.rand(3).asnumpy()
    mc.manual_seed(8)
    assert_bitwise_equal(a, R.uniform(8, 0, 3))


def test_bernoulli_with_tensor_probabilities():
    probs = mc.Tensor(np.array([0.0, 1.0, 0.0, 1.0], np.float64))
    out = ops.bernoulli(probs, generator=Generator())
    assert out.dtype == np.float64 and out.asnumpy().tolist() == [0, 1, 0, 1]


@pytest.mark.parametrize("call,error,who,arg,expected,got", [
    (lambda g: mc.rand(-1, generator=g), ValueError, "rand", "size", "a tuple of non-negative ints", "(-1,)"),
    (lambda g: mc.rand(2, generator=g, dtype=np.int32), TypeError, "rand", "dtype", "one of ['float32', 'float64']",
     "int32"),
    (lambda g: ops.uniform((2,), 1.0, 0.0, generator=g), ValueError, "uniform", "low", "at most 'high' (0.0)", "1.0"),
    (lambda g: ops.normal((2,), 0.0, -1.0, generator=g), ValueError, "normal", "std", "a float >= 0", "-1.0"),
    (lambda g: mc.randint(5, 5, (2,), generator=g), ValueError, "randint", "high", "greater than 'low' (5)", "5"),
    (lambda g: mc.randperm(-1, generator=g), ValueError, "randperm", "n", "an int in [0, 4611686018427387904)", "-1"),
    (lambda g: ops.bernoulli(1.5, (2,), generator=g), ValueError, "bernoulli", "p", "a float in [0, 1]", "1.5"),
    (lambda g: ops.bernoulli(mc.Tensor([1, 0]), generator=g), TypeError, "bernoulli", "p",
     "floating-point probabilities", "an array of dtype int64"),
    (lambda g: mc.rand(2, generator="gen"), TypeError, "rand", "generator", "a Generator or None", "'gen'"),
])
def test_bad_arguments_reserve_nothing(call, error, who, arg, expected, got):
    gen = Generator().manual_seed(1)
    with pytest.raises(error, match=house(who, arg, expected, got)):
        call(gen)
    assert int(gen.get_state()[1]) == 0
