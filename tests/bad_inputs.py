"""Helpers for the bad-input tables (tests/test_bad_inputs_*.py).

Every user mistake must raise the expected type with the whole message in the house voice,
``For '<who>', '<arg>' must be <expected>, but got <got>.`` (the strings here are the spec,
escaped and anchored, so the match is exact), and must leave every object as it was.
"""
from __future__ import annotations

import re
from typing import Any

import numpy as np

INF, NAN = float("inf"), float("nan")
HUGE = 10 ** 400  # an int float() cannot convert


def house(who: str, arg: str, expected: str, got: str) -> str:
    """The anchored regex of one exact house-voice message."""
    return "^" + re.escape(f"For '{who}', '{arg}' must be {expected}, but got {got}.") + "$"


def got_of(value: Any) -> str:
    """How ``minicell._checks.describe`` shows a bad value (the spec of the ``but got`` part)."""
    if isinstance(value, bool) or value is None or isinstance(value, (str, float)):
        return repr(value)
    if isinstance(value, np.generic):
        return f"{value!r} ({type(value).__name__})"
    if isinstance(value, int):
        return f"an int of {value.bit_length()} bits" if abs(value) >= 1 << 64 else repr(value)
    return f"an object of type {type(value).__name__}"  # lists, tuples and classes too


def real_error(who: str, arg: str, value: Any, low: str = "0", high: str = "inf",
               bracket: str = "]") -> tuple[type, str]:
    """(type, regex) that ``check_real(who, arg, value, low, high)`` gives for a bad ``value``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return TypeError, house(who, arg, "a real number", got_of(value))
    if isinstance(value, int) and abs(value) >= 1 << 1024:
        return ValueError, house(who, arg, "a finite float", got_of(value))
    left = "(-inf" if low == "-inf" else f"[{low}"  # an infinite bound is never reached: open
    right = "inf)" if high == "inf" else f"{high}{bracket}"
    return ValueError, house(who, arg, f"a float in {left}, {right}", got_of(float(value)))


def int_error(who: str, arg: str, value: Any, low: str = "-inf", high: str = "inf") -> tuple[type, str]:
    """(type, regex) that ``check_int(who, arg, value, low, high)`` gives for a bad ``value``."""
    if isinstance(value, bool) or not isinstance(value, int):
        return TypeError, house(who, arg, "an int", got_of(value))
    return ValueError, house(who, arg, f"an int in [{low}, {high})", got_of(value))


def snapshot(*objects: Any) -> list[bytes]:
    """Bytes of every Tensor/Parameter/Generator state given (to compare before and after)."""
    out = []
    for obj in objects:
        if hasattr(obj, "get_state"):
            out.extend(np.asarray(t.asnumpy()).tobytes() for t in obj.get_state())
        elif hasattr(obj, "parameters_and_names"):
            out.extend(p.asnumpy().tobytes() + name.encode() for name, p in obj.parameters_and_names())
        else:
            out.append(np.asarray(obj.asnumpy()).tobytes())
    return out
