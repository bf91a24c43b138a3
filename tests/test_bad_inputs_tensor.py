"""Bad inputs to Tensor, its methods, the functional ops and autograd: the expected type, the
exact house-voice message, and nothing changed (operands' bytes, leaves' gradients)."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minicell as mc
from minicell import ops
from tests.bad_inputs import HUGE, INF, NAN, got_of, house

DTYPES = "one of ['bool', 'float16', 'float32', 'float64', 'int16', 'int32', 'int64', 'int8', 'uint16', 'uint32', " \
         "'uint64', 'uint8']"
DATA = "numbers (bool, int, float) in a rectangular nesting"
OPERAND = "a Tensor, a number or an array of numbers"
I64 = "int64 [-9223372036854775808, 9223372036854775807] (cast to a wider or float dtype first)"
ARRAY_DTYPES = ("an array of one of the dtypes ['Bool', 'Float16', 'Float32', 'Float64', 'Int16', 'Int32', 'Int64', "
                "'Int8', 'UInt16', 'UInt32', 'UInt64', 'UInt8']")
INDEX = "ints, slices, None, Ellipsis or int/bool arrays"


def T():
    return mc.Tensor([[1.0, 2.0], [3.0, 4.0]])


CONSTRUCTION = [
    ("2**63", lambda: mc.Tensor(2 ** 63), ValueError, "Tensor", "data",
     "in [-9223372036854775808, 9223372036854775807] to be stored as int64",
     "values in [9223372036854775808, 9223372036854775808]"),
    ("[2**64 - 1]", lambda: mc.Tensor([2 ** 64 - 1]), ValueError, "Tensor", "data",
     "in [-9223372036854775808, 9223372036854775807] to be stored as int64",
     "values in [18446744073709551615, 18446744073709551615]"),
    ("-2**63 - 1", lambda: mc.Tensor(-(2 ** 63) - 1), ValueError, "Tensor", "data",
     "in [-9223372036854775808, 9223372036854775807] to be stored as int64",
     "values in [-9223372036854775809, -9223372036854775809]"),
    ("10**400", lambda: mc.Tensor(HUGE), ValueError, "Tensor", "data",
     "in [-9223372036854775808, 9223372036854775807] to be stored as int64",
     "values in [an int of 1329 bits, an int of 1329 bits]"),
    ("[1, 10**400]", lambda: mc.Tensor([1, HUGE]), ValueError, "Tensor", "data",
     "in [-9223372036854775808, 9223372036854775807] to be stored as int64", "values in [1, an int of 1329 bits]"),
    ("[1, 2**70] uint8", lambda: mc.Tensor([1, 2 ** 70], dtype=np.uint8), ValueError, "Tensor", "data",
     "in [0, 255] to be stored as uint8", "values in [1, an int of 71 bits]"),
    ("[1.5, 10**400]", lambda: mc.Tensor([1.5, HUGE]), TypeError, "Tensor", "data", DATA,
     "data of NumPy dtype object"),
    ("1e39 float32", lambda: mc.Tensor(1e39), ValueError, "Tensor", "data",
     "within the range of float32 (max 3.40282e+38)", "np.float64(1e+39)"),
    ("300 int8", lambda: mc.Tensor(300, dtype=np.int8), ValueError, "Tensor", "data",
     "in [-128, 127] to be stored as int8", "values in [300, 300]"),
    ("-1 uint8", lambda: mc.Tensor([-1], dtype=np.uint8), ValueError, "Tensor", "data",
     "in [0, 255] to be stored as uint8", "values in [-1, -1]"),
    ("NaN int32", lambda: mc.Tensor([1.5, NAN], dtype=np.int32), ValueError, "Tensor", "data",
     "finite to be stored as int32", "NaN or inf"),
    ("inf int64", lambda: mc.Tensor(np.array([INF]), dtype=np.int64), ValueError, "Tensor", "data",
     "finite to be stored as int64", "NaN or inf"),
    ("70000 float16", lambda: mc.Tensor(np.array([70000.0]), dtype=np.float16), ValueError, "Tensor", "data",
     "within the range of float16 (max 65504)", "np.float64(70000.0)"),
    ("uint64 max into int64", lambda: mc.Tensor(np.array([2 ** 64 - 1], np.uint64), dtype=np.int64), ValueError,
     "Tensor", "data", "in [-9223372036854775808, 9223372036854775807] to be stored as int64",
     "values in [18446744073709551615, 18446744073709551615]"),
    ("dtype='foo'", lambda: mc.Tensor([1], dtype="foo"), TypeError, "Tensor", "dtype", DTYPES, "'foo'"),
    ("dtype=complex", lambda: mc.Tensor([1], dtype=np.complex64), TypeError, "Tensor", "dtype", DTYPES, "complex64"),
    ("dtype=object", lambda: mc.Tensor([1], dtype=object), TypeError, "Tensor", "dtype", DTYPES, "object"),
    ("dtype=5", lambda: mc.Tensor([1], dtype=5), TypeError, "Tensor", "dtype", DTYPES, "5"),
    ("object()", lambda: mc.Tensor(object()), TypeError, "Tensor", "data", DATA, "an object of type object"),
    ("ragged", lambda: mc.Tensor([[1], [1, 2]]), ValueError, "Tensor", "data", "numbers in a rectangular nesting",
     "a ragged or mixed list"),
    ("'abc'", lambda: mc.Tensor("abc"), TypeError, "Tensor", "data", DATA, "'abc'"),
    ("['a']", lambda: mc.Tensor(["a"]), TypeError, "Tensor", "data", DATA, "data of NumPy dtype <U1"),
    ("1j", lambda: mc.Tensor(1j), TypeError, "Tensor", "data", DATA, "an object of type complex"),
    ("[1j]", lambda: mc.Tensor([1j, 2]), TypeError, "Tensor", "data", DATA, "data of NumPy dtype complex128"),
    ("None", lambda: mc.Tensor(None), TypeError, "Tensor", "data", DATA, "None"),
    ("dict", lambda: mc.Tensor({"a": 1}), TypeError, "Tensor", "data", DATA, "an object of type dict"),
    ("complex array", lambda: mc.Tensor(np.array([1j])), TypeError, "Tensor", "data", ARRAY_DTYPES, "dtype complex128"),
    ("str array", lambda: mc.Tensor(np.array(["a"])), TypeError, "Tensor", "data", ARRAY_DTYPES, "dtype <U1"),
    ("datetime array", lambda: mc.Tensor(np.array(["2020-01-01"], dtype="datetime64[D]")), TypeError, "Tensor",
     "data", ARRAY_DTYPES, "dtype datetime64[D]"),
    ("requires_grad int", lambda: mc.Tensor([1, 2], requires_grad=True), TypeError, "Tensor", "requires_grad",
     "False for a tensor that is not floating-point", "True for dtype Int64"),
    ("requires_grad 'yes'", lambda: mc.Tensor([1.0], requires_grad="yes"), TypeError, "Tensor", "requires_grad",
     "a bool", "'yes'"),
    ("requires_grad 1", lambda: mc.Tensor([1.0], requires_grad=1), TypeError, "Tensor", "requires_grad", "a bool", "1"),
    ("requires_grad None", lambda: mc.Tensor([1.0], requires_grad=None), TypeError, "Tensor", "requires_grad",
     "a bool", "None"),
]


@pytest.mark.parametrize("call, error, who, arg, expected, got",
                         [pytest.param(*case[1:], id=case[0]) for case in CONSTRUCTION])
def test_tensor_construction_refuses_bad_data(call, error, who, arg, expected, got):
    with pytest.raises(error, match=house(who, arg, expected, got)):
        call()


METHODS = [
    ("flatten('a')", lambda t: t.flatten("a"), TypeError, "flatten", "start_dim", "an int", "'a'"),
    ("flatten(0, 5)", lambda t: t.flatten(0, 5), ValueError, "flatten", "end_dim", "in [-2, 2) for a 2-D tensor", "5"),
    ("flatten(1, 0)", lambda t: t.flatten(1, 0), ValueError, "flatten", "start_dim", "not after 'end_dim' (0)", "1"),
    ("flatten(True)", lambda t: t.flatten(True), TypeError, "flatten", "start_dim", "an int", "True"),
    ("flatten(end_dim=None)", lambda t: t.flatten(0, None), TypeError, "flatten", "end_dim", "an int", "None"),
    ("softmax(axis=5)", lambda t: t.softmax(axis=5), ValueError, "softmax", "axis", "in [-2, 2) for a 2-D tensor", "5"),
    ("softmax(axis=(0, 1))", lambda t: t.softmax(axis=(0, 1)), TypeError, "softmax", "axis", "an int", "(0, 1)"),
    ("log_softmax(axis='a')", lambda t: t.log_softmax(axis="a"), TypeError, "log_softmax", "axis", "an int", "'a'"),
    ("log_softmax(axis=None)", lambda t: t.log_softmax(axis=None), TypeError, "log_softmax", "axis", "an int", "None"),
    ("t['a']", lambda t: t["a"], TypeError, "Tensor.__getitem__", "index", INDEX, "'a'"),
    ("t[1.5]", lambda t: t[1.5], TypeError, "Tensor.__getitem__", "index", INDEX, "1.5"),
    ("t[True]", lambda t: t[True], TypeError, "Tensor.__getitem__", "index",
     INDEX + " (a bool is not an int: use a bool array for a mask)", "True"),
    ("t[0, False]", lambda t: t[0, False], TypeError, "Tensor.__getitem__", "index",
     INDEX + " (a bool is not an int: use a bool array for a mask)", "False"),
    ("t[[0.5]]", lambda t: t[[0.5]], TypeError, "Tensor.__getitem__", "index", INDEX, "[0.5]"),
    ("t[None, 'x']", lambda t: t[None, "x"], TypeError, "Tensor.__getitem__", "index", INDEX, "'x'"),
    ("t[{0}]", lambda t: t[{0}], TypeError, "Tensor.__getitem__", "index", INDEX, "{0}"),
    ("t[5]", lambda t: t[5], ValueError, "Tensor.__getitem__", "index",
     "valid for shape [2, 2] (index 5 is out of bounds for axis 0 with size 2)", "5"),
    ("t[0, 0, 0]", lambda t: t[0, 0, 0], ValueError, "Tensor.__getitem__", "index",
     "valid for shape [2, 2] (too many indices for array: array is 2-dimensional, but 3 were indexed)", "(0, 0, 0)"),
    ("reshape(True, 4)", lambda t: t.reshape(True, 4), TypeError, "reshape", "shape", "ints or one tuple of ints",
     "(True, 4)"),
    ("reshape(-5)", lambda t: t.reshape(-5), ValueError, "reshape", "shape", "non-negative ints with at most one -1",
     "[-5]"),
    ("reshape(-1, -1)", lambda t: t.reshape(-1, -1), ValueError, "reshape", "shape",
     "non-negative ints with at most one -1", "[-1, -1]"),
    ("reshape(3)", lambda t: t.reshape(3), ValueError, "reshape", "shape", "compatible with 4 elements of shape [2, 2]",
     "[3]"),
    ("reshape('a')", lambda t: t.reshape("a"), TypeError, "reshape", "shape", "ints or one tuple of ints", "('a',)"),
    ("reshape(2.0, 2)", lambda t: t.reshape(2.0, 2), TypeError, "reshape", "shape", "ints or one tuple of ints",
     "(2.0, 2)"),
    ("sum('a')", lambda t: t.sum("a"), TypeError, "sum", "axis", "None, an int or a tuple of ints", "'a'"),
    ("sum(0, 1)", lambda t: t.sum(0, 1), TypeError, "sum", "keepdims", "a bool", "1"),
    ("sum(2)", lambda t: t.sum(2), ValueError, "sum", "axis", "in [-2, 2) for a 2-D tensor", "2"),
    ("sum((0, 0))", lambda t: t.sum((0, 0)), ValueError, "sum", "axis", "a tuple of distinct axes", "(0, 0)"),
    ("mean(1.5)", lambda t: t.mean(axis=1.5), TypeError, "mean", "axis", "None, an int or a tuple of ints", "1.5"),
    ("max(keepdims='no')", lambda t: t.max(keepdims="no"), TypeError, "max", "keepdims", "a bool", "'no'"),
    ("min(axis=-3)", lambda t: t.min(axis=-3), ValueError, "min", "axis", "in [-2, 2) for a 2-D tensor", "-3"),
    ("transpose(0, 0)", lambda t: t.transpose(0, 0), ValueError, "transpose", "axes", "a tuple of distinct axes",
     "(0, 0)"),
    ("transpose(0, 1, 2)", lambda t: t.transpose(0, 1, 2), ValueError, "transpose", "axes",
     "a permutation of [0, 1]", "[0, 1, 2]"),
    ("transpose('a')", lambda t: t.transpose("a"), TypeError, "transpose", "axes", "ints or one tuple of ints",
     "('a',)"),
    ("swapaxes('a', 0)", lambda t: t.swapaxes("a", 0), TypeError, "swapaxes", "axis1", "an int", "'a'"),
    ("swapaxes(0, 3)", lambda t: t.swapaxes(0, 3), ValueError, "swapaxes", "axis2", "in [-2, 2) for a 2-D tensor", "3"),
    ("squeeze(0)", lambda t: t.squeeze(0), ValueError, "squeeze", "axis", "axes of size 1 of shape [2, 2]", "0"),
    ("squeeze('a')", lambda t: t.squeeze("a"), TypeError, "squeeze", "axis", "None, an int or a tuple of ints", "'a'"),
    ("unsqueeze(5)", lambda t: t.unsqueeze(5), ValueError, "unsqueeze", "axis", "in [-3, 2]", "5"),
    ("unsqueeze(True)", lambda t: t.unsqueeze(True), TypeError, "unsqueeze", "axis", "an int", "True"),
    ("astype(None)", lambda t: t.astype(None), TypeError, "Tensor.astype", "dtype", DTYPES, "None"),
    ("astype('bogus')", lambda t: t.astype("bogus"), TypeError, "Tensor.astype", "dtype", DTYPES, "'bogus'"),
    ("astype(int8) of 300", lambda t: (t * 100).astype(np.int8), ValueError, "Tensor.astype", "self",
     "in [-128, 127] to be stored as int8", "values in [100.0, 400.0]"),
    ("astype(float16) of 1e5", lambda t: (t * 1e5).astype(np.float16), ValueError, "Tensor.astype", "self",
     "within the range of float16 (max 65504)", "np.float32(100000.0)"),
    ("item()", lambda t: t.item(), ValueError, "Tensor.item", "self", "a tensor with exactly one element",
     "shape [2, 2]"),
    ("int()", lambda t: int(t), ValueError, "Tensor.__int__", "self", "a tensor with exactly one element",
     "shape [2, 2]"),
    ("float()", lambda t: float(t), ValueError, "Tensor.__float__", "self", "a tensor with exactly one element",
     "shape [2, 2]"),
    ("bool()", lambda t: bool(t), ValueError, "Tensor.__bool__", "self", "a tensor with exactly one element",
     "shape [2, 2]"),
    ("__index__", lambda t: [0, 1][t[0, 0]], TypeError, "Tensor.__index__", "self", "an integer tensor",
     "dtype Float32"),
    ("len(0-d)", lambda t: len(t.sum()), TypeError, "Tensor.__len__", "self", "a tensor of at least 1 dimension",
     "a 0-D tensor"),
    ("t * 'a'", lambda t: t * "a", TypeError, "mul", "other", OPERAND, "'a'"),
    ("'a' * t", lambda t: "a" * t, TypeError, "mul", "input", OPERAND, "'a'"),
    ("t + None", lambda t: t + None, TypeError, "add", "other", OPERAND, "None"),
    ("t + object()", lambda t: t + object(), TypeError, "add", "other", OPERAND, "an object of type object"),
    ("t + 1j", lambda t: t + 1j, TypeError, "add", "other", OPERAND, "an object of type complex"),
    ("t - [1, 2, 3]", lambda t: t - [1, 2, 3], ValueError, "sub", "shapes", "broadcastable together", "[2, 2] and [3]"),
    ("t / {'a'}", lambda t: t / {"a"}, TypeError, "div", "other", OPERAND, "an object of type set"),
    ("t ** 'x'", lambda t: t ** "x", TypeError, "pow", "other", OPERAND, "'x'"),
    ("t < 'a'", lambda t: t < "a", TypeError, "less", "other", OPERAND, "'a'"),
    ("t == None", lambda t: t == None, TypeError, "equal", "other", OPERAND, "None"),  # noqa: E711
    ("t >= [1, 2, 3]", lambda t: t >= [1, 2, 3], ValueError, "greater_equal", "shapes", "broadcastable together",
     "[2, 2] and [3]"),
    ("t + ['a']", lambda t: t + ["a"], TypeError, "add", "other", OPERAND, "an array of dtype <U1"),
    ("t + 10**400", lambda t: t + HUGE, ValueError, "add", "other",
     "a number the other operand's dtype (float32) can hold", "an int of 1329 bits"),
    ("t @ [1, 2, 3]", lambda t: t @ mc.Tensor([1.0, 2.0, 3.0]), ValueError, "matmul", "shapes",
     "aligned for a matrix product", "[2, 2] and [3]"),
    ("t @ 2.0", lambda t: t @ 2.0, ValueError, "matmul", "shapes", "at least 1-D each (use mul for scalars)",
     "[2, 2] and []"),
    ("t @ 'ab'", lambda t: t @ "ab", TypeError, "matmul", "other", OPERAND, "an array of dtype <U2"),
    ("clip('a', 1)", lambda t: t.clip("a", 1), TypeError, "clip", "min", OPERAND, "'a'"),
    ("clip(0, None) of None", lambda t: t.clip(None, object()), TypeError, "clip", "max", OPERAND,
     "an object of type object"),
    ("clip()", lambda t: t.clip(), ValueError, "clip", "min", "given when 'max' is None", "None"),
    ("clip(shape mismatch)", lambda t: t.clip(mc.Tensor([1.0, 2.0, 3.0])), ValueError, "clip", "shapes",
     "broadcastable together", "[2, 2] and [3]"),
    ("maximum(t, 'a')", lambda t: t.maximum("a"), TypeError, "maximum", "other", OPERAND, "'a'"),
    ("minimum(t, [1, 2, 3])", lambda t: t.minimum(mc.Tensor([1.0, 2.0, 3.0])), ValueError, "minimum", "shapes",
     "broadcastable together", "[2, 2] and [3]"),
    ("backward() without graph", lambda t: t.sum().backward(), ValueError, "Tensor.backward", "self",
     "a tensor that requires grad (mark an input with requires_grad=True before computing it)",
     "a tensor with no graph"),
]


@pytest.mark.parametrize("call, error, who, arg, expected, got",
                         [pytest.param(*case[1:], id=case[0]) for case in METHODS])
def test_tensor_methods_refuse_bad_arguments_and_leave_the_tensor_alone(call, error, who, arg, expected, got):
    t = T()
    before = t.asnumpy().tobytes()
    with pytest.raises(error, match=house(who, arg, expected, got)):
        call(t)
    assert t.asnumpy().tobytes() == before


OPS = [
    ("softmax(axis=5)", lambda t: ops.softmax(t, axis=5), ValueError, "softmax", "axis", "in [-2, 2) for a 2-D tensor",
     "5"),
    ("gelu(approximate='x')", lambda t: ops.gelu(t, approximate="x"), ValueError, "gelu", "approximate",
     "one of ['none', 'tanh']", "'x'"),
    ("gelu(approximate=True)", lambda t: ops.gelu(t, approximate=True), TypeError, "gelu", "approximate",
     "one of ['none', 'tanh']", "True"),
    ("exp('a')", lambda t: ops.exp("a"), TypeError, "exp", "input", DATA, "'a'"),
    ("log(['a'])", lambda t: ops.log(["a"]), TypeError, "log", "input", DATA, "data of NumPy dtype <U1"),
    ("sqrt(None)", lambda t: ops.sqrt(None), TypeError, "sqrt", "input", DATA, "None"),
    ("abs(object())", lambda t: ops.abs(object()), TypeError, "abs", "input", DATA, "an object of type object"),
    ("neg(10**400)", lambda t: ops.neg(HUGE), ValueError, "neg", "input",
     "in [-9223372036854775808, 9223372036854775807] to be stored as int64",
     "values in [an int of 1329 bits, an int of 1329 bits]"),
    ("relu(object())", lambda t: ops.relu(object()), TypeError, "relu", "input", DATA, "an object of type object"),
    ("sigmoid('x')", lambda t: ops.sigmoid("x"), TypeError, "sigmoid", "input", DATA, "'x'"),
    ("tanh(ragged)", lambda t: ops.tanh([[1.0], [1.0, 2.0]]), ValueError, "tanh", "input",
     "numbers in a rectangular nesting", "a ragged or mixed list"),
    ("sum('a')", lambda t: ops.sum("a"), TypeError, "sum", "input", DATA, "'a'"),
    ("mean(None)", lambda t: ops.mean(None), TypeError, "mean", "input", DATA, "None"),
    ("max(t, axis=9)", lambda t: ops.max(t, axis=9), ValueError, "max", "axis", "in [-2, 2) for a 2-D tensor", "9"),
    ("reshape('a', 2)", lambda t: ops.reshape("a", 2), TypeError, "reshape", "input", DATA, "'a'"),
    ("flatten(t, 'x')", lambda t: ops.flatten(t, "x"), TypeError, "flatten", "start_dim", "an int", "'x'"),
    ("transpose('a')", lambda t: ops.transpose("a"), TypeError, "transpose", "input", DATA, "'a'"),
    ("squeeze(t, 1.0)", lambda t: ops.squeeze(t, 1.0), TypeError, "squeeze", "axis",
     "None, an int or a tuple of ints", "1.0"),
    ("unsqueeze(t, 'a')", lambda t: ops.unsqueeze(t, "a"), TypeError, "unsqueeze", "axis", "an int", "'a'"),
    ("swapaxes(t, 0, None)", lambda t: ops.swapaxes(t, 0, None), TypeError, "swapaxes", "axis2", "an int", "None"),
    ("concat([])", lambda t: ops.concat([]), ValueError, "concat", "tensors", "a non-empty sequence", "an empty one"),
    ("concat(axis=5)", lambda t: ops.concat([t, t], axis=5), ValueError, "concat", "tensors",
     "shapes that can be joined along axis 5", "[[2, 2], [2, 2]]"),
    ("concat('ab')", lambda t: ops.concat("ab"), TypeError, "concat", "tensors", "a tuple or list of Tensors", "'ab'"),
    ("concat([t, 'a'])", lambda t: ops.concat([t, "a"]), TypeError, "concat", "tensors", OPERAND, "'a'"),
    ("concat([t, None])", lambda t: ops.concat([t, None]), TypeError, "concat", "tensors", OPERAND, "None"),
    ("concat(axis=1.0)", lambda t: ops.concat([t, t], axis=1.0), TypeError, "concat", "axis", "an int", "1.0"),
    ("stack(shapes)", lambda t: ops.stack([t, mc.Tensor([1.0])]), ValueError, "stack", "tensors",
     "shapes that can be joined along axis 0", "[[2, 2], [1]]"),
    ("stack(t)", lambda t: ops.stack(t), TypeError, "stack", "tensors", "a tuple or list of Tensors",
     "an object of type Tensor"),
    ("stack(axis=True)", lambda t: ops.stack([t, t], axis=True), TypeError, "stack", "axis", "an int", "True"),
    ("where(shapes)", lambda t: ops.where(mc.Tensor([True, False, True]), t, t), ValueError, "where", "shapes",
     "broadcastable together", "[3], [2, 2] and [2, 2]"),
    ("where('a', t, t)", lambda t: ops.where("a", t, t), TypeError, "where", "condition", OPERAND, "'a'"),
    ("where(c, t, None)", lambda t: ops.where(t > 2, t, None), TypeError, "where", "y", OPERAND, "None"),
    ("linear('a', t)", lambda t: ops.linear("a", t), TypeError, "linear", "x", DATA, "'a'"),
    ("linear(t, 1-D weight)", lambda t: ops.linear(t, mc.Tensor([1.0, 2.0])), ValueError, "linear", "weight",
     "a 2-D Tensor (out_channels, in_channels)", "shape [2]"),
    ("linear(t, t, bias of 1)", lambda t: ops.linear(t, t, mc.Tensor([1.0])), ValueError, "linear", "bias",
     "of shape [2]", "shape [1]"),
    ("linear(x of 3, t)", lambda t: ops.linear(mc.Tensor([1.0, 2.0, 3.0]), t), ValueError, "linear", "x",
     "of shape (..., 2) to match 'weight' of shape [2, 2]", "shape [3]"),
    ("linear(t, None)", lambda t: ops.linear(t, None), TypeError, "linear", "weight", DATA, "None"),
    ("add(t, 'a')", lambda t: ops.add(t, "a"), TypeError, "add", "other", OPERAND, "'a'"),
    ("mul(None, t)", lambda t: ops.mul(None, t), TypeError, "mul", "input", OPERAND, "None"),
    ("div(t, [[1, 2, 3]])", lambda t: ops.div(t, [[1.0, 2.0, 3.0]]), ValueError, "div", "shapes",
     "broadcastable together", "[2, 2] and [1, 3]"),
    ("pow(t, object())", lambda t: ops.pow(t, object()), TypeError, "pow", "other", OPERAND,
     "an object of type object"),
    ("matmul(t, 'a')", lambda t: ops.matmul(t, "a"), TypeError, "matmul", "other", DATA, "'a'"),
    ("clip(t, 'lo')", lambda t: ops.clip(t, "lo"), TypeError, "clip", "min", OPERAND, "'lo'"),
]


@pytest.mark.parametrize("call, error, who, arg, expected, got", [pytest.param(*case[1:], id=case[0]) for case in OPS])
def test_functional_ops_name_themselves_and_leave_operands_alone(call, error, who, arg, expected, got):
    t = T()
    before = t.asnumpy().tobytes()
    with pytest.raises(error, match=house(who, arg, expected, got)):
        call(t)
    assert t.asnumpy().tobytes() == before


def _fits(dtype: str) -> str:
    info = np.iinfo(dtype)
    return f"such that the result fits in {dtype} [{info.min}, {info.max}] (cast to a wider or float dtype first)"


INTEGER_WRAPS = [
    ("int64 2**62 * 4", lambda: mc.Tensor([2 ** 62]) * 4, "mul", "input", _fits("int64"),
     "a result of 18446744073709551616"),
    ("int64 sum", lambda: mc.Tensor([2 ** 62, 2 ** 62]).sum(), "sum", "input", _fits("int64"),
     "a result of 9223372036854775808"),
    ("int64 sum axis", lambda: mc.Tensor([[2 ** 62], [2 ** 62]]).sum(axis=0), "sum", "input", _fits("int64"),
     "a result of 9223372036854775808"),
    ("int64 neg min", lambda: -mc.Tensor([-(2 ** 63)]), "neg", "input", _fits("int64"),
     "a result of 9223372036854775808"),
    ("int64 abs min", lambda: abs(mc.Tensor([-(2 ** 63)])), "abs", "input", _fits("int64"),
     "a result of 9223372036854775808"),
    ("int64 add", lambda: mc.Tensor([2 ** 63 - 1]) + 1, "add", "input", _fits("int64"),
     "a result of 9223372036854775808"),
    ("int64 sub", lambda: mc.Tensor([-(2 ** 63)]) - 1, "sub", "input", _fits("int64"),
     "a result of -9223372036854775809"),
    ("uint8 0 - 1", lambda: mc.Tensor(np.array([0], np.uint8)) - 1, "sub", "input", _fits("uint8"), "a result of -1"),
    ("uint64 0 - 1", lambda: mc.Tensor(np.array([0], np.uint64)) - 1, "sub", "input", _fits("uint64"),
     "a result of -1"),
    ("uint64 big - bigger", lambda: mc.Tensor(np.array([2 ** 60 + 1], np.uint64)) - mc.Tensor(
        np.array([2 ** 60 + 2], np.uint64)), "sub", "input", _fits("uint64"), "a result of -1"),
    ("int8 100 + 28", lambda: mc.Tensor(np.array([100], np.int8)) + 28, "add", "input", _fits("int8"),
     "a result of 128"),
    ("int8 mul", lambda: ops.mul(mc.Tensor(np.array([100], np.int8)), 2), "mul", "input", _fits("int8"),
     "a result of 200"),
    ("int16 pow", lambda: mc.Tensor(np.array([2], np.int16)) ** 15, "pow", "input", _fits("int16"),
     "a result of 32768"),
    ("int64 pow 2**64", lambda: mc.Tensor([2]) ** 64, "pow", "input", _fits("int64"),
     "a result of 18446744073709551616"),
    ("int64 matmul", lambda: mc.Tensor([[2 ** 40]]) @ mc.Tensor([[2 ** 40]]), "matmul", "input", _fits("int64"),
     "a result of 1208925819614629174706176"),
    ("int32 matmul",
     lambda: mc.Tensor(np.full((1, 3), 2 ** 15, np.int32)) @ mc.Tensor(np.full((3, 1), 2 ** 15, np.int32)),
     "matmul", "input", _fits("int32"), "a result of 3221225472"),
    ("int32 + 2**40", lambda: mc.Tensor(np.array([1], np.int32)) + 2 ** 40, "add", "other",
     "a number the other operand's dtype (int32) can hold", "1099511627776"),
    ("int pow -1", lambda: mc.Tensor([2]) ** -1, "pow", "other", "non-negative for an integer base (use a float base)",
     "negative exponents (min -1)"),
]


@pytest.mark.parametrize("call, who, arg, expected, got",
                         [pytest.param(*case[1:], id=case[0]) for case in INTEGER_WRAPS])
def test_integer_results_never_wrap(call, who, arg, expected, got):
    with pytest.raises(ValueError, match=house(who, arg, expected, got)):
        call()


@given(st.integers(-(2 ** 63), 2 ** 63 - 1), st.integers(-(2 ** 63), 2 ** 63 - 1),
       st.sampled_from(["add", "sub", "mul"]))
def test_integer_arithmetic_is_exact_or_refused(a, b, op):
    exact = {"add": a + b, "sub": a - b, "mul": a * b}[op]
    x, y = mc.Tensor([a]), mc.Tensor([b])
    if -(2 ** 63) <= exact < 2 ** 63:
        assert getattr(ops, op)(x, y).asnumpy().tolist() == [exact]
    else:
        with pytest.raises(ValueError, match=house(op, "input", _fits("int64"), f"a result of {exact}")):
            getattr(ops, op)(x, y)


@pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")
def test_matrix_input_behaves_as_an_ndarray():
    m = mc.Tensor(np.matrix([[1.0, 2.0], [3.0, 4.0]]))
    assert type(m._data) is np.ndarray
    assert (m * m).asnumpy().tolist() == [[1.0, 4.0], [9.0, 16.0]]  # elementwise, not a matrix product
    assert mc.Tensor(np.matrix([[1, 2]])).shape == (1, 2)


def test_explicit_float64_dtype_keeps_python_floats_exact():
    assert mc.Tensor([1e300], dtype=np.float64).asnumpy().tolist() == [1e300]
    assert mc.Tensor([2 ** 63], dtype=np.uint64).asnumpy().tolist() == [2 ** 63]


# ----- autograd ------------------------------------------------------------------------------------
def _leaf():
    return mc.Tensor([1.0, 2.0], requires_grad=True)


AUTOGRAD = [
    ("grad of a vector output", lambda x: mc.grad(lambda a: a * 2)(x), ValueError, "grad", "fn",
     "a function returning a one-element Tensor", "one returning shape [2]"),
    ("value_and_grad of an int output", lambda x: mc.value_and_grad(lambda a: (a * 2).astype(np.int64).sum())(x),
     TypeError, "value_and_grad", "fn", "a function returning a floating-point Tensor to be differentiated",
     "one returning dtype int64"),
    ("grad of an int output", lambda x: mc.grad(lambda a: mc.Tensor(3))(x), TypeError, "grad", "fn",
     "a function returning a floating-point Tensor to be differentiated", "one returning dtype int64"),
    ("grad of a bool output", lambda x: mc.grad(lambda a: (a > 1).sum() > 0)(x), TypeError, "grad", "fn",
     "a function returning a floating-point Tensor to be differentiated", "one returning dtype bool"),
    ("grad of an int input", lambda x: mc.grad(lambda a: a.sum())(mc.Tensor([1, 2])), TypeError, "grad", "args[0]",
     "a floating-point Tensor to be differentiated", "dtype int64"),
    ("grad of a str input", lambda x: mc.grad(lambda a: a.sum())("a"), TypeError, "grad", "args[0]",
     "a floating-point Tensor to be differentiated", "dtype <U1"),
    ("grad_position=5", lambda x: mc.grad(lambda a: a.sum(), grad_position=5)(x), ValueError, "grad",
     "grad_position", "positions in [0, 1) for 1 positional input(s)", "5"),
    ("grad_position=True", lambda x: mc.grad(lambda a: a.sum(), grad_position=True), TypeError, "grad",
     "grad_position", "None, an int or a non-empty tuple of ints", "True"),
    ("grad_position='0'", lambda x: mc.grad(lambda a: a.sum(), grad_position="0"), TypeError, "grad",
     "grad_position", "None, an int or a non-empty tuple of ints", "'0'"),
    ("grad_position=()", lambda x: mc.grad(lambda a: a.sum(), grad_position=()), TypeError, "grad",
     "grad_position", "None, an int or a non-empty tuple of ints", "()"),
    ("grad_position=(0, 0)", lambda x: mc.grad(lambda a: a.sum(), grad_position=(0, 0)), ValueError, "grad",
     "grad_position", "a tuple of distinct positions", "(0, 0)"),
    ("grad_position=[0]", lambda x: mc.grad(lambda a: a.sum(), grad_position=[0]), TypeError, "grad",
     "grad_position", "None, an int or a non-empty tuple of ints", "[0]"),
    ("fn=5", lambda x: mc.grad(5), TypeError, "grad", "fn", "callable", "5"),
    ("weights=[1]", lambda x: mc.grad(lambda a: a.sum(), weights=[1]), TypeError, "grad", "weights",
     "None, a Tensor or a sequence of Tensors", "an item 1 at index 0"),
    ("weights=5", lambda x: mc.value_and_grad(lambda a: a.sum(), weights=5), TypeError, "value_and_grad", "weights",
     "None, a Tensor or a sequence of Tensors", "5"),
    ("weights without grad", lambda x: mc.grad(lambda a: a.sum(), None, [mc.Tensor([1.0])]), ValueError, "grad",
     "weights", "Tensors with requires_grad=True", "a tensor with requires_grad=False at index 0"),
    ("both None", lambda x: mc.grad(lambda a: a.sum(), None, None), ValueError, "grad", "grad_position",
     "an int or a tuple of ints when 'weights' is None", "None"),
    ("has_aux='yes'", lambda x: mc.grad(lambda a: a.sum(), has_aux="yes"), TypeError, "grad", "has_aux", "a bool",
     "'yes'"),
    ("has_aux without a tuple", lambda x: mc.grad(lambda a: a.sum(), has_aux=True)(x), TypeError, "grad", "fn",
     "a function returning a tuple (output, aux, ...) with has_aux=True", "one returning an object of type Tensor"),
    ("a tuple without has_aux", lambda x: mc.grad(lambda a: (a.sum(), a))(x), TypeError, "grad", "fn",
     "a function returning one Tensor (pass has_aux=True to differentiate the first element of a tuple)",
     "one returning a tuple of 2"),
    ("returns a float", lambda x: mc.grad(lambda a: 1.0)(x), TypeError, "grad", "fn", "a function returning a Tensor",
     "one returning 1.0"),
    ("backward of a vector", lambda x: (x * 2).backward(), ValueError, "Tensor.backward", "gradient",
     "given when the output is not a scalar", "None for an output of shape [2]"),
    ("backward gradient of the wrong shape", lambda x: (x * 2).backward(mc.Tensor([1.0])), ValueError,
     "Tensor.backward", "gradient", "of the output's shape [2]", "shape [1]"),
    ("backward gradient 'a'", lambda x: (x * 2).backward("a"), TypeError, "Tensor.backward", "gradient",
     "None, a Tensor or an array of numbers", "'a'"),
    ("backward gradient True", lambda x: (x * 2).sum().backward(True), TypeError, "Tensor.backward", "gradient",
     "None, a Tensor or an array of numbers", "True"),
    ("backward gradient NaN", lambda x: (x * 2).backward(mc.Tensor([1.0, NAN])), ValueError, "Tensor.backward",
     "gradient", "finite", "NaN or inf"),
]


@pytest.mark.parametrize("call, error, who, arg, expected, got", [pytest.param(*c[1:], id=c[0]) for c in AUTOGRAD])
def test_autograd_refuses_bad_use_and_leaves_gradients_alone(call, error, who, arg, expected, got):
    x = _leaf()
    x.grad = mc.Tensor([5.0, 6.0])
    with pytest.raises(error, match=house(who, arg, expected, got)):
        call(x)
    assert x.grad.asnumpy().tolist() == [5.0, 6.0] and x.asnumpy().tolist() == [1.0, 2.0]


def test_grad_inside_no_grad_is_refused():
    refused = house("grad", "fn", "called outside no_grad() to be differentiated", "a call inside no_grad()")
    with mc.no_grad(), pytest.raises(RuntimeError, match=refused):
        mc.grad(lambda a: a.sum())(_leaf())


@given(st.sampled_from(["a", None, object(), 1j, {1: 2}, b"x"]), st.sampled_from(["add", "sub", "mul", "div", "pow",
                                                                                    "maximum", "minimum"]))
def test_any_non_number_operand_is_refused_by_name(bad, op):
    with pytest.raises(TypeError, match=house(op, "other", OPERAND, got_of(bad) if not isinstance(bad, bytes)
                                              else "an object of type bytes")):
        getattr(ops, op)(T(), bad)


def test_softmax_of_an_empty_tensor_is_empty_not_a_numpy_error():
    x = mc.Tensor(np.zeros((0, 3), np.float32), requires_grad=True)
    for fn in (ops.softmax, ops.log_softmax):
        out = fn(x, axis=1)
        assert out.shape == (0, 3) and out.dtype == np.float32
    ops.log_softmax(x, axis=1).sum().backward()
    assert x.grad.shape == (0, 3)
