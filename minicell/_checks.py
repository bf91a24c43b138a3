"""Argument validation helpers, so every error is worded one way.

Messages follow MindSpore's shape: ``For 'Dropout', 'p' must be a float in [0, 1], but got 1.5.``
Each helper names who complained, the argument, what was expected and what came; :func:`fail`
makes any exception class in that wording (``fail_type`` and ``fail_value`` are its two commonest).
"""
from __future__ import annotations

import math
import numbers
from typing import Any, TypeVar

import numpy as np

UINT64_LIMIT = 1 << 64


class Shown(str):
    """Text that an error message shows as it is (a description already made, not a value)."""


def describe(value: Any) -> str:
    """Short description of a bad value: its repr for simple values, else its type."""
    if isinstance(value, Shown):
        return str(value)
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 1 << 64:
        return f"an int of {value.bit_length()} bits"
    if isinstance(value, (bool, int, float, str, type(None))):
        text = repr(value)
        return text if len(text) <= 80 else f"a {type(value).__name__} of {len(text)} characters"
    if isinstance(value, np.generic):
        return f"{value!r} ({type(value).__name__})"
    if isinstance(value, np.dtype):
        return str(value)
    return f"an object of type {type(value).__name__}"


ExceptionT = TypeVar("ExceptionT", bound=BaseException)


def fail(cls: type[ExceptionT], owner: str, arg: str, expected: str, value: Any) -> ExceptionT:
    """An exception of class ``cls`` in the house wording, ready to raise.

    ``For '<owner>', '<arg>' must be <expected>, but got <value>.`` with ``value`` shown by
    :func:`describe` (wrap a ready-made description in :class:`Shown`). This is the one place
    that writes an error message: every ``raise`` in the package that reports a user's mistake
    goes through it (``tests/test_error_voice.py`` holds that), whatever the exception class.
    """
    return cls(f"For '{owner}', '{arg}' must be {expected}, but got {describe(value)}.")


def fail_type(owner: str, arg: str, expected: str, value: Any) -> TypeError:
    """``fail(TypeError, ...)``: the argument has the wrong kind."""
    return fail(TypeError, owner, arg, expected, value)


def fail_value(owner: str, arg: str, expected: str, value: Any) -> ValueError:
    """``fail(ValueError, ...)``: the argument has the right kind but a bad value."""
    return fail(ValueError, owner, arg, expected, value)


def is_integer(value: Any) -> bool:
    """True for Python and NumPy integers, False for bool (which is a user mistake here) and for
    ``np.timedelta64`` (NumPy makes it an integer type; ``int()`` of one is a timedelta, or None for NaT)."""
    return isinstance(value, (numbers.Integral, np.integer)) and not isinstance(value, (bool, np.bool_, np.timedelta64))


def check_int(owner: str, arg: str, value: Any, low: int | None = None, high: int | None = None) -> int:
    """Validate an integer in ``[low, high)`` (either bound may be None) and return it as int."""
    if not is_integer(value):
        raise fail_type(owner, arg, "an int", value)
    number = int(value)
    if (low is not None and number < low) or (high is not None and number >= high):
        lo = "-inf" if low is None else str(low)
        hi = "inf" if high is None else str(high)
        raise fail_value(owner, arg, f"an int in [{lo}, {hi})", number)
    return number


def check_bool(owner: str, arg: str, value: Any) -> bool:
    """Validate a bool (Python or NumPy); ints such as 0 and 1 are refused."""
    if not isinstance(value, (bool, np.bool_)):
        raise fail_type(owner, arg, "a bool", value)
    return bool(value)


def check_real(owner: str, arg: str, value: Any, low: float | None = None, high: float | None = None,
               *, closed_high: bool = True, closed_low: bool = True) -> float:
    """Validate a finite real number in ``[low, high]`` (``(low`` if not closed_low, ``high)`` if
    not closed_high).

    inf and NaN are always refused (an infinite learning rate or gain is never meant), and so
    are ints too large for a float.
    """
    if isinstance(value, (bool, np.bool_, np.timedelta64)) or not isinstance(value, (numbers.Real, np.integer,
                                                                                       np.floating)):
        raise fail_type(owner, arg, "a real number", value)
    try:
        number = float(value)
    except OverflowError:
        raise fail_value(owner, arg, "a finite float", value) from None
    bad = not math.isfinite(number) or (low is not None and (number < low if closed_low else number <= low))
    if high is not None:
        bad = bad or (number > high if closed_high else number >= high)
    if bad:
        if low is None and high is None:
            raise fail_value(owner, arg, "a finite float", number)
        left = "(-inf" if low is None else ("[" if closed_low else "(") + f"{low:g}"  # inf: never reached
        right = "inf)" if high is None else f"{high:g}" + ("]" if closed_high else ")")
        raise fail_value(owner, arg, f"a float in {left}, {right}", number)
    return number


def check_finite(owner: str, arg: str, value: Any) -> float:
    """Validate a finite real number."""
    number = check_real(owner, arg, value)
    if not math.isfinite(number):
        raise fail_value(owner, arg, "a finite float", number)
    return number


def check_uint64(owner: str, arg: str, value: Any) -> int:
    """Validate an int in [0, 2**64)."""
    return check_int(owner, arg, value, 0, UINT64_LIMIT)


def _short_repr(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else f"a {type(value).__name__} of length {len(value)}"


def check_shape(owner: str, arg: str, shape: Any) -> tuple[int, ...]:
    """Validate a shape: an int or a sequence of non-negative ints. Returns a tuple."""
    if is_integer(shape):
        shape = (shape,)
    if not isinstance(shape, (tuple, list)):
        raise fail_type(owner, arg, "an int or a tuple of ints", shape)
    dims = []
    for dim in shape:
        if not is_integer(dim):
            raise fail_type(owner, arg, "a tuple of ints", Shown(_short_repr(tuple(shape))))
        if int(dim) < 0:
            raise fail_value(owner, arg, "a tuple of non-negative ints",
                             Shown(_short_repr(tuple(int(d) for d in shape))))
        dims.append(int(dim))
    return tuple(dims)


def checked_cast(owner: str, arg: str, array: np.ndarray, dtype: Any) -> np.ndarray:
    """``array`` cast to ``dtype``, refusing what the dtype cannot hold.

    Refused: integers outside the integer dtype's range (no wrapping), NaN or inf into an integer
    dtype, and finite floats that overflow to inf in a narrower float dtype.
    """
    dtype = np.dtype(dtype)
    if array.dtype == dtype:
        return array
    if dtype.kind in "iu" and array.dtype.kind in "iuf" and array.size:
        if array.dtype.kind == "f" and not np.isfinite(array).all():
            raise fail_value(owner, arg, f"finite to be stored as {dtype}", Shown("NaN or inf"))
        info = np.iinfo(dtype)
        low, high = array.min(), array.max()
        if low < info.min or high >= info.max + 1:
            raise fail_value(owner, arg, f"in [{info.min}, {info.max}] to be stored as {dtype}",
                             Shown(f"values in [{low}, {high}]"))
    with np.errstate(over="ignore"):  # overflow is detected below and refused
        out = array.astype(dtype)
    if dtype.kind == "f" and array.dtype.kind in "iuf" and array.size:
        overflow = np.isinf(out) & ~np.isinf(array.astype(np.float64))
        if overflow.any():
            raise fail_value(owner, arg, f"within the range of {dtype} (max {np.finfo(dtype).max:g})",
                             Shown(f"{array[overflow].flat[0]!r}"))
    return out


def check_dtype(owner: str, dtype: Any, allowed: tuple[np.dtype, ...]) -> np.dtype:
    """``dtype`` as one of ``allowed``, listed in the error in the order given.

    None is refused (NumPy would read it as float64); a dtype class (``np.int32``) is shown by name.
    """
    dt: np.dtype | None
    try:
        if dtype is None:
            raise TypeError
        dt = np.dtype(dtype)
    except TypeError:
        dt = None
    if dt is None or dt not in allowed:  # (np.dtype("float64") == None is True: test None first)
        shown = Shown(dtype.__name__) if isinstance(dtype, type) else dtype
        raise fail_type(owner, "dtype", f"one of {[str(d) for d in allowed]}", shown)
    return dt


def check_option(owner: str, arg: str, value: Any, options: tuple[str, ...]) -> str:
    """Validate a string choice, listing the valid options in the error."""
    if not isinstance(value, str):
        raise fail_type(owner, arg, f"one of {list(options)}", value)
    if value not in options:
        raise fail_value(owner, arg, f"one of {list(options)}", value)
    return value


# ----- added by issue 11 (checkpoints, Parameter.set_data, containers): keep this block last -----
def shorten(text: str, limit: int = 80) -> str:
    """``text`` itself, or its first ``limit`` characters and its length (long names in messages)."""
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"

