"""``Parameter``: a named Tensor that a Cell owns and saves (MindSpore's ``mindspore.Parameter``).

A Parameter copies its initial data, so it owns its array; ``set_data`` writes into that array
in place, so every holder of the Parameter sees the new value. Integer and bool Parameters
(counters, generator state) are never trainable: gradients are undefined for them.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from minicell._checks import Shown, describe, fail_type, fail_value, is_integer, shorten
from minicell.tensor import DTYPE_NAMES, Tensor

INT64_LIMIT = 1 << 63
FLOAT32_MAX = float(np.finfo(np.float32).max)
DTYPE_LIST = sorted(DTYPE_NAMES.values())


def _initial_array(default_input: Any) -> np.ndarray:
    """A checked copy of ``default_input``; a Python int is int64 and a float float32."""
    who, arg = "Parameter", "default_input"
    if isinstance(default_input, bool):
        return np.array(default_input, dtype=np.bool_)
    if isinstance(default_input, (np.ndarray, np.generic)):
        if default_input.dtype not in DTYPE_NAMES:
            raise fail_type(who, arg, f"of one of the dtypes {DTYPE_LIST}", Shown(f"dtype {default_input.dtype}"))
        return np.array(default_input, copy=True)
    if isinstance(default_input, int):
        if not -INT64_LIMIT <= default_input < INT64_LIMIT:
            raise fail_value(who, arg, "an int in [-2**63, 2**63) (it becomes int64)", Shown(repr(default_input)))
        return np.array(default_input, dtype=np.int64)
    if isinstance(default_input, float):
        if math.isfinite(default_input) and abs(default_input) > FLOAT32_MAX:
            raise fail_value(who, arg, "a float within the float32 range (it becomes float32)",
                             Shown(repr(default_input)))
        return np.array(default_input, dtype=np.float32)
    if isinstance(default_input, Tensor):
        return default_input._data.copy()
    raise fail_type(who, arg, "a Tensor, an ndarray, an int, a float or a bool", default_input)


def _integer_range(dtype: np.dtype) -> tuple[int, int]:
    if dtype.kind == "b":
        return 0, 1
    info = np.iinfo(dtype)
    return int(info.min), int(info.max)


def array_of(value: Any) -> np.ndarray | None:
    """The ndarray behind a Tensor, or ``np.asarray(value)``; None when NumPy cannot make one
    (a ragged list, say)."""
    if isinstance(value, Tensor):
        return value._data
    try:
        return np.asarray(value)
    except (ValueError, TypeError, OverflowError):
        return None


def _python_ints(data: Any) -> np.ndarray | None:
    """``data`` as an object array when it is (nested sequences of) Python ints, else None."""
    try:
        values = np.array(data, dtype=object)
    except (ValueError, TypeError):
        return None
    return values if values.size and all(is_integer(v) for v in values.flat) else None


def _from_python_ints(who: str, values: np.ndarray, dtype: np.dtype, target: str) -> np.ndarray:
    """Exact conversion of Python ints (which NumPy may have turned into float64 or objects)."""
    if dtype.kind == "f":
        try:
            return np.array([float(v) for v in values.flat], dtype=np.float64).reshape(values.shape)
        except OverflowError:
            raise fail_value(who, "data", f"within the range of {target}",
                             Shown(shorten(str(max(values.flat, key=abs))))) from None
    low, high = _integer_range(dtype)
    smallest, largest = min(values.flat), max(values.flat)
    if smallest < low or largest > high:
        raise fail_value(who, "data", f"in [{low}, {high}] for {target}",
                         Shown(shorten(str(smallest if smallest < low else largest))))
    return values.astype(dtype)


def cast_for(who: str, name: Any, data: Any, dtype: np.dtype) -> np.ndarray:
    """``data`` converted to ``dtype`` in a new array, or an error if any value would change
    kind or not fit: float data into an integer or bool target is a ``TypeError``; integers
    outside the target's range, and finite values that would overflow a float target, are a
    ``ValueError``. Nothing is written anywhere before this returns."""
    target = f"the {DTYPE_NAMES[dtype]} Parameter '{name}'"
    array = array_of(data)
    if array is None:
        raise fail_type(who, "data", "a number, a bool, or an array or Tensor of them", data)
    if array.dtype.kind in "fO" and not isinstance(data, (Tensor, np.ndarray, np.generic, float)):
        values = _python_ints(data)  # ints NumPy could not hold, or mixed into float64
        if values is not None:
            array = _from_python_ints(who, values, dtype, target)
    kind = array.dtype.kind
    if kind == "O":
        raise fail_type(who, "data", "a number, a bool, or an array or Tensor of them", data)
    if kind not in "biuf":
        got = (f"an array of dtype {array.dtype}" if isinstance(data, np.ndarray)
               else f"{describe(data)} (dtype {array.dtype})")
        raise fail_type(who, "data", "numbers or bools", Shown(got))
    if kind == "f" and dtype.kind in "biu":
        raise fail_type(who, "data", f"integer or bool data for {target}", Shown(f"{array.dtype} data"))
    if dtype.kind in "biu" and kind in "iu" and array.size:
        low, high = _integer_range(dtype)
        smallest, largest = int(array.min()), int(array.max())
        if smallest < low or largest > high:
            raise fail_value(who, "data", f"in [{low}, {high}] for {target}",
                             Shown(str(smallest if smallest < low else largest)))
    with np.errstate(over="ignore"):
        converted = array.astype(dtype, copy=True)
    if dtype.kind == "f" and array.size and kind != "b":
        overflowed = np.isinf(converted) & (np.isfinite(array) if kind == "f" else True)
        if overflowed.any():
            raise fail_value(who, "data", f"within the range of {target} "
                             f"(|x| <= {float(np.finfo(dtype).max):g})", Shown(repr(array[overflowed].flat[0].item())))
    return converted


class Parameter(Tensor):
    """A Tensor that belongs to a model: named, saved in checkpoints, optionally trainable.

    Args:
        default_input: initial value (copied). A Python int becomes int64 and a float float32;
            arrays and Tensors keep their dtype.
        name: the parameter's name; None lets the owning Cell name it after the attribute.
        requires_grad: whether optimizers train it (forced False for integer and bool dtypes).
    """

    def __init__(self, default_input: Any, name: str | None = None, requires_grad: bool = True) -> None:
        if name is not None and not isinstance(name, str):
            raise fail_type("Parameter", "name", "a str or None", name)
        if not isinstance(requires_grad, (bool, np.bool_)):
            raise fail_type("Parameter", "requires_grad", "a bool", requires_grad)
        array = _initial_array(default_input)
        super().__init__(array)
        self.requires_grad = bool(requires_grad) and array.dtype.kind == "f"
        self.name = name
        self._leaf_name = name  # the last component of the dotted name, kept under prefixes

    def set_data(self, data: Any) -> Parameter:
        """Overwrite the value in place (same object, same array), converted to this dtype.

        The data is converted and checked in full before anything is written, so a failed call
        leaves the Parameter as it was. Float data into an integer or bool Parameter, and
        non-numeric data, is a ``TypeError``; another shape, an integer outside this dtype's
        range (``2**63`` into int64) or a finite value that overflows this float dtype is a
        ``ValueError``.
        """
        who = "Parameter.set_data"
        converted = cast_for(who, self.name, data, self.dtype)
        if converted.shape != self.shape:
            raise fail_value(who, "data", f"of the shape {list(self.shape)} of Parameter '{self.name}'",
                             Shown(f"shape {list(converted.shape)}"))
        np.copyto(self._data, converted)
        return self

    def clone(self, prefix: str = "") -> Parameter:
        """An independent copy; its name is ``prefix + '.' + name`` when a prefix is given."""
        if not isinstance(prefix, str):
            raise fail_type("Parameter.clone", "prefix", "a str", prefix)
        name = f"{prefix}.{self.name}" if prefix and self.name else (self.name or prefix or None)
        copy = Parameter(self._data, name=name, requires_grad=self.requires_grad)
        return copy

    def __repr__(self) -> str:
        return (f"Parameter (name={self.name}, shape={tuple(self.shape)}, dtype={DTYPE_NAMES[self.dtype]}, "
                f"requires_grad={self.requires_grad})")
