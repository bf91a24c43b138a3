"""minicell.testing.assert_bitwise_equal / assert_cells_equal: bits, and messages that locate them."""
import re

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import minicell as mc
from minicell import nn
from minicell.testing import assert_bitwise_equal, assert_cells_equal
from minicell.testing.strategies import seeds, shapes


def failure(fn, *args):
    with pytest.raises(AssertionError) as info:
        fn(*args)
    return str(info.value)


def model(seed=0):
    return nn.SequentialCell(nn.Dense(3, 4, generator=mc.Generator().manual_seed(seed)), nn.ReLU(),
                             nn.Dropout(0.5, generator=mc.Generator().manual_seed(seed)))


@given(seed=seeds(), shape=shapes(3, 5))
def test_equal_draws_pass_and_one_flipped_bit_fails(seed, shape):
    a = mc.random.uniform(seed, 0, shape)
    assert_bitwise_equal(a, mc.random.uniform(seed, 0, shape))
    assert_bitwise_equal(mc.Tensor(a), a.copy())
    if a.size:
        b = a.copy()
        b.reshape(-1).view(np.uint32)[-1] ^= 1
        assert f"1 of {a.size} elements differ" in failure(assert_bitwise_equal, a, b)


def test_cells_that_differ_only_in_a_negative_zero_are_caught():
    a, b = model(), model()
    assert_cells_equal(a, b)
    b[0].bias.set_data(np.where(np.arange(4) == 2, np.float32(-0.0), np.float32(0.0)))
    a[0].bias.set_data(np.zeros(4, np.float32))
    assert np.array_equal(a[0].bias.asnumpy(), b[0].bias.asnumpy())  # equal as numbers
    message = failure(assert_cells_equal, a, b)
    assert message == ("Cells SequentialCell and SequentialCell differ. '0.bias': 1 of 4 elements differ; first at "
                       "index (2,): 0.0 (0x00000000) vs -0.0 (0x80000000); largest abs difference 0.0; largest "
                       "difference 0 ulps (equal as numbers: signed zeros differ bitwise)")


def test_cells_message_names_missing_parameters_and_dtype_and_shape_mismatches():
    a, b = model(), model()
    a[0].insert_param_to_cell("extra", mc.Parameter(np.zeros(1)))
    b.insert_param_to_cell("scale", mc.Parameter(np.ones(2)))
    b[0].weight = mc.Parameter(np.zeros((4, 3), np.float64))
    b[0].bias = mc.Parameter(np.zeros(5, np.float32))
    message = failure(assert_cells_equal, a, b)
    assert "parameters only in the first Cell: '0.extra'" in message
    assert "parameters only in the second Cell: 'scale'" in message
    assert "2 parameters differ:" in message
    assert "'0.bias': shape differs: (4,) vs (5,)" in message
    assert "'0.weight': dtype differs: float32 vs float64" in message
    assert message.index("'0.bias'") < message.index("'0.weight'")  # in name order


def test_message_counts_elements_and_gives_largest_abs_and_ulp_differences():
    a = np.array([[1.0, 2.0], [3.0, 4.0]], np.float32)
    b = a.copy()
    b[0, 1] = np.nextafter(np.float32(2.0), np.float32(3.0))  # 1 ulp
    b[1, 1] = np.float32(4.5)                                 # 0.5 = 2**20 ulps at 4.0 (ulp 2**-21)
    message = failure(assert_bitwise_equal, {"w": [a]}, {"w": [b]})
    assert message.startswith("Not bitwise equal. ['w'][0]: 2 of 4 elements differ; first at index (0, 1): "
                              "2.0 (0x40000000) vs 2.0000002 (0x40000001); ")
    assert message.endswith("largest abs difference 0.5; largest difference 1048576 ulps")


def test_ulps_count_across_zero_and_nan_payloads_are_compared():
    tiny = np.float32(np.finfo(np.float32).smallest_subnormal)
    assert "largest difference 2 ulps" in failure(assert_bitwise_equal, np.array([tiny]), np.array([-tiny]))
    nan = np.array([np.nan, 1.0], np.float32)
    payload = nan.copy()
    payload.view(np.uint32)[0] |= 1
    assert_bitwise_equal(nan, nan.copy())  # the same NaN bits are equal (unlike ==)
    assert "0x7fc00000) vs nan (0x7fc00001); 1 of them with a NaN" in failure(assert_bitwise_equal, nan, payload)


@pytest.mark.parametrize("x, y, expected", [
    (np.zeros(3, np.float32), np.zeros(3), "the top level: dtype differs: float32 vs float64"),
    (np.zeros((2, 3)), np.zeros((3, 2)), "the top level: shape differs: (2, 3) vs (3, 2)"),
    ([np.zeros(1)], [np.zeros(1), None], "the top level: length differs: 1 vs 2"),
    ({"a": 1, "b": 2}, {"a": 1, "c": 2}, "the top level: keys only in the first: 'b'; keys only in the second: 'c'"),
    ([None], [np.zeros(2)], "[0]: None vs an array of dtype float64 and shape (2,)"),
    ([np.zeros(1)], {"0": np.zeros(1)}, "the top level: a sequence of 1 vs a mapping of 1"),
    (np.array([1, 5], np.int64), np.array([1, -7], np.int64),
     "the top level: 1 of 2 elements differ; first at index (1,): 5 (0x0000000000000005) vs -7 "
     "(0xfffffffffffffff9); largest abs difference 12"),
])
def test_structure_dtype_and_shape_mismatches_are_named(x, y, expected):
    assert failure(assert_bitwise_equal, x, y) == "Not bitwise equal. " + expected


def test_many_differences_are_counted_and_listed_up_to_ten():
    message = failure(assert_bitwise_equal, [np.zeros(1)] * 12, [np.ones(1)] * 12)
    assert message.startswith("Not bitwise equal. 12 places differ:\n[0]: 1 of 1 elements differ")
    assert "\n[9]: " in message and "[10]" not in message and message.endswith("... and 2 more")


@pytest.mark.parametrize("a, b, match", [
    (np.zeros(1), model(), r"For 'assert_cells_equal', 'a' must be a Cell, but got ndarray\."),
    (model(), None, r"For 'assert_cells_equal', 'b' must be a Cell, but got NoneType\."),
])
def test_cells_equal_takes_cells(a, b, match):
    with pytest.raises(TypeError, match=match):
        assert_cells_equal(a, b)


def test_bitwise_equal_refuses_what_it_cannot_compare():
    with pytest.raises(TypeError, match=re.escape("For 'assert_bitwise_equal', 'object at [0]' must be")):
        assert_bitwise_equal([object()], [1])


@given(value=st.floats(allow_nan=False, allow_infinity=False, width=32), steps=st.integers(1, 1000))
def test_ulp_distance_is_the_number_of_representable_floats_between(value, steps):
    a = np.array([value], np.float32)
    b = a.copy()
    for _ in range(steps):
        b = np.nextafter(b, np.float32(np.inf))
    assume(not (np.isinf(b).any() and steps > 1))  # ran past the largest float: draw another
    text = failure(assert_bitwise_equal, a, b)
    assert f"largest difference {steps} ulps" in text  # -0.0 and 0.0 share a place in the order
