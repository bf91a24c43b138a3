"""The array side of a Tensor: supported dtypes, user data as arrays, and ``ArrayValue``.

- ``DTYPE_NAMES``: the dtypes a Tensor may hold, with MindSpore's names (``Float32``).
- ``to_dtype`` and ``array_of``: user data (Python numbers, nested lists, ndarrays) as an array
  of a supported dtype. Python floats become float32 and Python ints int64, as in MindSpore;
  values a dtype cannot hold (``2**63``, ``1e39`` as float32) are a ValueError, never wrapped;
  an ndarray that needs no cast is used as it is (no copy).
- ``ArrayValue``: the base class of ``minicell.Tensor`` holding ``_data`` (an ndarray) with what
  only reads it: shape, dtype, ``len``, conversions to NumPy and Python scalars, printing.
  Everything that makes Tensors (operators, casts, the autograd graph) is in ``minicell.tensor``.
"""
from __future__ import annotations

from typing import Any, cast

import numpy as np

from minicell._checks import Shown, check_dtype, checked_cast, describe, fail_type, fail_value, is_integer

DTYPE_NAMES = {
    np.dtype(np.bool_): "Bool",
    np.dtype(np.int8): "Int8", np.dtype(np.int16): "Int16",
    np.dtype(np.int32): "Int32", np.dtype(np.int64): "Int64",
    np.dtype(np.uint8): "UInt8", np.dtype(np.uint16): "UInt16",
    np.dtype(np.uint32): "UInt32", np.dtype(np.uint64): "UInt64",
    np.dtype(np.float16): "Float16", np.dtype(np.float32): "Float32",
    np.dtype(np.float64): "Float64",
}

SUPPORTED_DTYPES = tuple(sorted(DTYPE_NAMES, key=str))  # in the order errors list them


def to_dtype(who: str, dtype: Any) -> np.dtype:
    """A supported dtype from anything ``np.dtype`` accepts (None is refused: say which)."""
    return check_dtype(who, dtype, SUPPORTED_DTYPES)


def python_array(data: Any, who: str = "Tensor", arg: str = "data", target: np.dtype | None = None) -> np.ndarray:
    """Python data as an array: in ``target`` when given (checked, never through float32), else
    with MindSpore's defaults, float -> float32 and int -> int64."""
    try:
        array = np.asarray(data)
    except (OverflowError, ValueError, TypeError):
        raise fail_value(who, arg, "numbers in a rectangular nesting",
                         Shown(f"a ragged or mixed {type(data).__name__}")) from None
    if array.dtype.kind == "O" and array.size and all(is_integer(v) for v in array.flat):
        ints = [int(v) for v in array.flat]  # Python ints beyond 64 bits: out of range, not "not numbers"
        dt = target if target is not None and target.kind in "iu" else np.dtype(np.int64)
        info = np.iinfo(dt)
        raise fail_value(who, arg, f"in [{info.min}, {info.max}] to be stored as {dt}",
                         Shown(f"values in [{describe(min(ints))}, {describe(max(ints))}]"))
    if array.dtype.kind not in "biuf":
        raise fail_type(who, arg, "numbers (bool, int, float) in a rectangular nesting",
                        Shown(f"data of NumPy dtype {array.dtype}") if array.ndim else data)
    if target is not None:
        return checked_cast(who, arg, array, target)
    if array.dtype.kind == "f":
        return checked_cast(who, arg, array, np.float32)
    if array.dtype.kind in "iu":
        return checked_cast(who, arg, array, np.int64)
    return array


def array_of(data: Any, target: np.dtype | None, who: str = "Tensor", arg: str = "data") -> np.ndarray:
    """``data`` as an array, in ``target`` when given (checked). A Tensor's data is copied; an
    ndarray that needs no cast is used as it is; Python data is converted (``python_array``)."""
    if isinstance(data, ArrayValue):
        return np.array(checked_cast(who, arg, data._data, target or data.dtype), copy=True)
    if isinstance(data, (np.ndarray, np.generic)):
        array = np.asarray(data)  # np.matrix and other subclasses become plain arrays
        if array.dtype not in DTYPE_NAMES:
            raise fail_type(who, arg, f"an array of one of the dtypes {sorted(DTYPE_NAMES.values())}",
                            Shown(f"dtype {array.dtype}"))
        return array if target is None else checked_cast(who, arg, array, target)
    return python_array(data, who, arg, target)


class ArrayValue:
    """An ndarray ``_data`` seen as a Tensor's value (see the module docstring)."""

    _data: np.ndarray

    @property
    def shape(self) -> tuple[int, ...]:
        return self._data.shape

    @property
    def dtype(self) -> np.dtype:
        return self._data.dtype

    @property
    def ndim(self) -> int:
        return self._data.ndim

    @property
    def size(self) -> int:
        return self._data.size

    def __len__(self) -> int:
        if self._data.ndim == 0:
            raise fail_type("Tensor.__len__", "self", "a tensor of at least 1 dimension", Shown("a 0-D tensor"))
        return len(self._data)

    # ----- conversions -------------------------------------------------------------------------
    def asnumpy(self) -> np.ndarray:
        """A copy of the data as an ndarray."""
        return cast(np.ndarray, self._data.copy())

    def numpy(self) -> np.ndarray:
        """Alias of ``asnumpy`` for PyTorch users."""
        return self.asnumpy()

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        return self._data if dtype is None else self._data.astype(dtype)

    def _one_element(self, what: str) -> Any:
        if self._data.size != 1:
            raise fail_value(f"Tensor.{what}", "self", "a tensor with exactly one element",
                             Shown(f"shape {list(self.shape)}"))
        return self._data.reshape(()).item()

    def item(self) -> Any:
        """The single element as a Python scalar."""
        return self._one_element("item")

    def __int__(self) -> int:
        return int(self._one_element("__int__"))

    def __float__(self) -> float:
        return float(self._one_element("__float__"))

    def __bool__(self) -> bool:
        return bool(self._one_element("__bool__"))

    def __index__(self) -> int:
        if self._data.dtype.kind not in "iu":
            raise fail_type("Tensor.__index__", "self", "an integer tensor", Shown(f"dtype {DTYPE_NAMES[self.dtype]}"))
        return int(self._one_element("__index__"))

    # ----- printing ----------------------------------------------------------------------------
    def __str__(self) -> str:
        return str(self._data)

    def __repr__(self) -> str:
        value = " " + str(self._data) if self._data.ndim == 0 else "\n" + np.array2string(self._data, separator=" ")
        return f"Tensor(shape={list(self.shape)}, dtype={DTYPE_NAMES[self.dtype]}, value={value})"
