"""Tensor construction, conversions, printing and errors."""
import numpy as np
import pytest

import minicell as mc
from tests.bad_inputs import house


def test_default_dtypes_follow_mindspore():
    assert mc.Tensor(1.5).dtype == np.float32
    assert mc.Tensor([1.0, 2.0]).dtype == np.float32
    assert mc.Tensor(3).dtype == np.int64
    assert mc.Tensor(True).dtype == np.bool_
    assert mc.Tensor(np.zeros(2, np.float64)).dtype == np.float64
    assert mc.Tensor([1, 2], dtype=np.float16).dtype == np.float16


def test_wraps_matching_ndarray_without_copy_and_copies_otherwise():
    a = np.zeros(3, np.float32)
    assert mc.Tensor(a)._data is a
    assert mc.Tensor(a, dtype=np.float64)._data is not a
    t = mc.Tensor(a)
    assert mc.Tensor(t)._data is not a
    copy = t.asnumpy()
    copy[0] = 5
    assert t.asnumpy()[0] == 0


def test_properties_and_scalar_conversions():
    t = mc.Tensor(np.arange(6, dtype=np.float32).reshape(2, 3))
    assert (t.shape, t.ndim, t.size, len(t)) == ((2, 3), 2, 6, 2)
    one = mc.Tensor([[7]])
    assert one.item() == 7 and int(one) == 7 and float(one) == 7.0 and bool(one)
    assert [10, 20, 30][mc.Tensor(1)] == 20
    assert t.astype(np.int32).dtype == np.int32


def test_repr_follows_mindspore_and_str_follows_numpy():
    assert repr(mc.Tensor(12)) == "Tensor(shape=[], dtype=Int64, value= 12)"
    assert repr(mc.Tensor(np.uint64(12))) == "Tensor(shape=[], dtype=UInt64, value= 12)"
    r = repr(mc.Tensor(np.zeros((2, 3), np.float32)))
    assert r.startswith("Tensor(shape=[2, 3], dtype=Float32, value=\n[[0. 0. 0.]")
    assert str(mc.Tensor([1.0, 2.0])) == str(np.array([1.0, 2.0], np.float32))
    names = {np.bool_: "Bool", np.int8: "Int8", np.uint16: "UInt16", np.float16: "Float16", np.float64: "Float64"}
    for dtype, name in names.items():
        assert f"dtype={name}," in repr(mc.Tensor(np.zeros(1, dtype)))


def test_comparisons_return_bool_tensors_outside_the_graph():
    x = mc.Tensor([1.0, 2.0, 3.0], requires_grad=True)
    for result in (x < 2, x <= 2, x > 2, x >= 2, x == 2, x != 2):
        assert result.dtype == np.bool_ and not result.requires_grad
    assert (x > 1.5).asnumpy().tolist() == [False, True, True]


def test_scalars_and_arrays_mix_on_both_sides_and_keep_float32():
    x = mc.Tensor([1.0, 2.0])
    for value in (x + 1, 1 + x, x * 2.0, 2.0 * x, x - 1, 1 - x, x / 2, 2 / x, x ** 2, 2 ** x):
        assert isinstance(value, mc.Tensor) and value.dtype == np.float32
    assert isinstance(np.array([1.0, 1.0], np.float32) + x, mc.Tensor)
    assert (1 - x).asnumpy().tolist() == [0.0, -1.0]


@pytest.mark.parametrize("bad, got", [(object(), "an object of type object"), (["a", "b"], "data of NumPy dtype <U1")])
def test_unsupported_data_is_a_type_error(bad, got):
    with pytest.raises(TypeError, match=house("Tensor", "data", "numbers (bool, int, float) in a rectangular "
                                                                "nesting", got)):
        mc.Tensor(bad)


def test_errors_are_clear():
    with pytest.raises(ValueError, match=house("add", "shapes", "broadcastable together", "[2] and [3]")):
        mc.Tensor([1.0, 2.0]) + mc.Tensor([1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match=house("matmul", "shapes", "aligned for a matrix product", "[2, 3] and [2, "
                                                                                                   "3]")):
        mc.Tensor(np.zeros((2, 3))) @ mc.Tensor(np.zeros((2, 3)))
    with pytest.raises(ValueError, match=house("Tensor.item", "self", "a tensor with exactly one element",
                                               "shape [2]")):
        mc.Tensor([1, 2]).item()
    with pytest.raises(TypeError, match=house("Tensor", "requires_grad", "False for a tensor that is not "
                                                                         "floating-point",
                                              "True for dtype Int64")):
        mc.Tensor([1, 2], requires_grad=True)
    with pytest.raises(ValueError, match=house("reshape", "shape", "compatible with 6 elements of shape "
                                                                   "[6]", "[4, 2]")):
        mc.Tensor(np.zeros(6)).reshape(4, 2)
    with pytest.raises(ValueError, match=house("sum", "axis", "in [-1, 1) for a 1-D tensor", "3")):
        mc.Tensor(np.zeros(6)).sum(axis=3)
