"""Parameter: the constructor's errors, and ``set_data`` that converts and checks everything
before it writes, so a failed call leaves the Parameter exactly as it was."""
import re

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minicell as mc

INTEGER_DTYPES = [np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64]


def param(dtype, shape=(3,), name="p"):
    return mc.Parameter((np.arange(int(np.prod(shape))) % 2).astype(dtype).reshape(shape), name=name)


I64 = "in \\[-9223372036854775808, 9223372036854775807\\] for the Int64 Parameter 'p'"
SET_DATA_CASES = [
    # (dtype, shape, data, error, message after "For 'Parameter.set_data', 'data' must be ")
    (np.float32, (3,), np.array(["1", "2", "x"]), TypeError, "numbers or bools, but got an array of dtype <U1."),
    (np.float32, (3,), ["1", "2", "3"], TypeError, "numbers or bools, but got an object of type list \\(dtype <U1\\)."),
    (np.float32, (3,), [1, 2, "a"], TypeError, "numbers or bools, but got an object of type list \\(dtype <U21\\)."),
    (np.float32, (3,), np.zeros(3, complex), TypeError, "numbers or bools, but got an array of dtype complex128."),
    (np.float32, (3,), np.array([1, 2, 3], "datetime64[s]"), TypeError, "numbers or bools, but got an array of dtype"),
    (np.float32, (3,), np.array([1, None, 3], object), TypeError,
     "a number, a bool, or an array or Tensor of them, but got an object of type ndarray."),
    (np.float32, (3,), object(), TypeError, "a number, a bool, or an array or Tensor of them, but got an object of "
                                            "type object."),
    (np.float32, (3,), [[1], [2, 3], [4]], TypeError, "a number, a bool, or an array or Tensor of them, but got an "
                                                      "object of type list."),
    (np.float32, (3,), None, TypeError, "a number, a bool, or an array or Tensor of them, but got None."),
    (np.int64, (), 2**63, ValueError, I64 + ", but got 9223372036854775808."),
    (np.int64, (), -2**63 - 1, ValueError, I64 + ", but got -9223372036854775809."),
    (np.int64, (), 2**64, ValueError, I64 + ", but got 18446744073709551616."),
    (np.int64, (), 2**400, ValueError, I64 + ", but got 2582249878086908589655919172003011874329705792829.*\\(121 "
                                             "characters\\)."),
    (np.int64, (3,), np.array([0, 2**63, 1], np.uint64), ValueError, I64 + ", but got 9223372036854775808."),
    (np.int64, (), float("nan"), TypeError, "integer or bool data for the Int64 Parameter 'p', but got float64 data."),
    (np.int64, (), float("inf"), TypeError, "integer or bool data for the Int64 Parameter 'p', but got float64 data."),
    (np.int64, (3,), np.array([1.0, 2.0, 3.0]), TypeError, "integer or bool data for the Int64 Parameter 'p'"),
    (np.int32, (3,), np.ones(3, np.float16), TypeError, "integer or bool data for the Int32 Parameter 'p', but got "
                                                        "float16 data."),
    (np.int32, (3,), [0, 2**31, 0], ValueError, "in \\[-2147483648, 2147483647\\] for the Int32 Parameter 'p', but "
                                                "got 2147483648."),
    (np.uint64, (3,), [0, -1, 2], ValueError, "in \\[0, 18446744073709551615\\] for the UInt64 Parameter 'p', but got "
                                              "-1."),
    (np.uint64, (), 2**64, ValueError, "in \\[0, 18446744073709551615\\] for the UInt64 Parameter 'p', but got "
                                       "18446744073709551616."),
    (np.uint8, (3,), [1, 256, 2], ValueError, "in \\[0, 255\\] for the UInt8 Parameter 'p', but got 256."),
    (np.int8, (3,), np.array([-129, 0, 0], np.int16), ValueError, "in \\[-128, 127\\] for the Int8 Parameter 'p', but "
                                                                  "got -129."),
    (np.bool_, (2,), [2, 0], ValueError, "in \\[0, 1\\] for the Bool Parameter 'p', but got 2."),
    (np.bool_, (2,), [0.0, 1.0], TypeError, "integer or bool data for the Bool Parameter 'p', but got float64 data."),
    (np.float16, (2,), [1e5, 1], ValueError, "within the range of the Float16 Parameter 'p' \\(\\|x\\| <= 65504\\), "
                                             "but got 100000.0."),
    (np.float16, (2,), np.array([7, 70000]), ValueError, "within the range of the Float16 Parameter 'p' .*, but got "
                                                         "70000."),
    (np.float32, (3,), [1e300, 1, 2], ValueError, "within the range of the Float32 Parameter 'p' \\(\\|x\\| <= "
                                                  "3.40282e\\+38\\), but got 1e\\+300."),
    (np.float32, (3,), [2**1100] * 3, ValueError, "within the range of the Float32 Parameter 'p', but got "
                                                  "1358298529.*characters\\)."),
    (np.float32, (3,), np.zeros(4), ValueError, "of the shape \\[3\\] of Parameter 'p', but got shape \\[4\\]."),
    (np.float32, (3,), np.zeros((3, 1)), ValueError, "of the shape \\[3\\] of Parameter 'p', but got shape \\[3, "
                                                     "1\\]."),
    (np.float32, (3,), 1.0, ValueError, "of the shape \\[3\\] of Parameter 'p', but got shape \\[\\]."),
    (np.float32, (2, 2), mc.Tensor(np.zeros(4, np.float32)), ValueError, "of the shape \\[2, 2\\] of Parameter 'p'"),
    (np.int64, (3,), mc.Tensor(np.zeros(3, np.float32)), TypeError, "integer or bool data for the Int64 Parameter 'p'"),
]


@pytest.mark.parametrize("dtype, shape, data, error, message", SET_DATA_CASES)
def test_failed_set_data_raises_before_writing_anything(dtype, shape, data, error, message):
    p = param(dtype, shape)
    array, before = p._data, p.asnumpy().copy()
    with pytest.raises(error, match="^" + re.escape("For 'Parameter.set_data', 'data' must be ") + message):
        p.set_data(data)
    assert p._data is array and p.dtype == dtype and p.asnumpy().tobytes() == before.tobytes()


@pytest.mark.parametrize("dtype, data, expected", [
    (np.float32, [1, 2, 3], [1, 2, 3]),                            # ints into float
    (np.float32, [True, False, True], [1, 0, 1]),                  # bools into float
    (np.float16, [65504, -65504, 0], [65504, -65504, 0]),          # the float16 extremes fit
    (np.float32, [np.inf, -np.inf, 0], [np.inf, -np.inf, 0]),      # infinities are float values
    (np.float32, [2**70, 0, 1], [2.0**70, 0, 1]),                  # big Python ints fit a float
    (np.int64, [2**63 - 1, -2**63, 0], [2**63 - 1, -2**63, 0]),    # int64 extremes
    (np.uint64, [2**64 - 1, 0, 1], [2**64 - 1, 0, 1]),             # uint64 extremes
    (np.int8, np.array([-128, 127, 0], np.int64), [-128, 127, 0]),  # wider ints that fit
    (np.bool_, [1, 0, 1], [True, False, True]),                    # 0 and 1 into bool
    (np.int32, [True, False, True], [1, 0, 1]),                    # bools into int
])
def test_set_data_accepts_every_value_the_dtype_holds(dtype, data, expected):
    p = param(dtype)
    array = p._data
    assert p.set_data(data) is p and p._data is array
    assert p.asnumpy().tolist() == expected


@given(dtype=st.sampled_from(INTEGER_DTYPES), value=st.integers(-2**70, 2**70))
def test_integers_are_written_exactly_or_refused_unchanged(dtype, value):
    p = param(dtype, ())
    info = np.iinfo(dtype)
    if info.min <= value <= info.max:
        p.set_data(value)
        assert int(p) == value
    else:
        with pytest.raises(ValueError, match=f"For 'Parameter.set_data', 'data' must be in \\[{info.min}, "
                                             f"{info.max}\\]"):
            p.set_data(value)
        assert int(p) == 0


CONSTRUCTOR_CASES = [
    (dict(default_input="x"), TypeError, "'default_input' must be a Tensor, an ndarray, an int, a float or a bool, "
                                         "but got 'x'."),
    (dict(default_input=[1, 2]), TypeError, "'default_input' must be a Tensor, an ndarray, an int, a float or a bool, "
                                            "but got an object of type list."),
    (dict(default_input=None), TypeError, "'default_input' must be a Tensor, .*, but got None."),
    (dict(default_input=1j), TypeError, "'default_input' must be a Tensor, .*, but got an object of type complex."),
    (dict(default_input=np.array(["a"])), TypeError, "'default_input' must be of one of the dtypes \\[.*\\], but got "
                                                     "dtype <U1."),
    (dict(default_input=np.zeros(2, complex)), TypeError, "'default_input' must be of one of the dtypes .*, but got "
                                                          "dtype complex128."),
    (dict(default_input=np.array([None])), TypeError, "'default_input' must be of one of the dtypes .*, but got dtype "
                                                      "object."),
    (dict(default_input=np.str_("a")), TypeError, "'default_input' must be of one of the dtypes .*, but got dtype "
                                                  "<U1."),
    (dict(default_input=2**63), ValueError, "'default_input' must be an int in \\[-2\\*\\*63, 2\\*\\*63\\) \\(it "
                                            "becomes int64\\), "
                                            "but got 9223372036854775808."),
    (dict(default_input=-2**63 - 1), ValueError, "'default_input' must be an int in \\[-2\\*\\*63, 2\\*\\*63\\)"),
    (dict(default_input=1e39), ValueError, "'default_input' must be a float within the float32 range \\(it becomes "
                                           "float32\\), "
                                           "but got 1e\\+39."),
    (dict(default_input=-1e300), ValueError, "'default_input' must be a float within the float32 range"),
    (dict(default_input=1, name=3), TypeError, "'name' must be a str or None, but got 3."),
    (dict(default_input=1, name=b"w"), TypeError, "'name' must be a str or None, but got an object of type bytes."),
    (dict(default_input=1.0, requires_grad="yes"), TypeError, "'requires_grad' must be a bool, but got 'yes'."),
    (dict(default_input=1.0, requires_grad=1), TypeError, "'requires_grad' must be a bool, but got 1."),
    (dict(default_input=1.0, requires_grad=None), TypeError, "'requires_grad' must be a bool, but got None."),
]


@pytest.mark.parametrize("kwargs, error, message", CONSTRUCTOR_CASES)
def test_parameter_constructor_errors(kwargs, error, message):
    with pytest.raises(error, match="^For 'Parameter', " + message):
        mc.Parameter(**kwargs)


def test_constructor_extremes_that_fit():
    assert int(mc.Parameter(2**63 - 1)) == 2**63 - 1 and int(mc.Parameter(-2**63)) == -2**63
    assert mc.Parameter(float("inf")).dtype == np.float32 and np.isnan(mc.Parameter(float("nan")).asnumpy())
    assert mc.Parameter(np.float64(1e300)).asnumpy() == 1e300  # an ndarray scalar keeps its dtype
