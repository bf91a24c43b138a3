"""Elementwise arithmetic and casts, each backward beside its forward (matmul: ``primitives.matmul``).

Broadcasting follows NumPy; ``unbroadcast`` sums a gradient back to an operand's shape. Python
scalars stay Python scalars in the forward, so NumPy's weak-scalar rule keeps float32 arrays
float32 (``x * 2.0`` is float32).

Operands are checked first (numbers or numeric arrays, shapes that broadcast), and integer
results are checked for overflow: NumPy wraps integers silently (``int64(2**62) * 4 == 0``),
minicell refuses instead (``check_integer_result``), so no op returns a wrapped integer.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from minicell._checks import Shown, fail_type, fail_value
from minicell._runtime import segments

Backward = Callable[[np.ndarray], tuple[Any, ...]]
Result = tuple[np.ndarray, Backward]
BOTH = (True, True)


def unbroadcast(grad: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Sum ``grad`` over the axes that broadcasting added or stretched, giving ``shape``.

    Inside a one-pass micro-batched step (``minicell._runtime.segments``), a sum over the batch
    axis is taken per segment (each segment's rows, or each per-segment value, alone), giving one
    gradient per segment stacked along a new axis 0.
    """
    if grad.shape == shape:
        return grad
    if grad.ndim >= 1 and (grad.ndim > len(shape) or (shape[0] == 1 and grad.shape[0] != 1)):
        plan = segments.rows_plan(grad)
        if plan is not None:
            return segments.per_segment_rows(plan, grad, lambda part: _unbroadcast(part, shape))
        plan = segments.stacked_plan(grad)
        if plan is not None:
            return segments.per_segment_values(plan, grad, lambda value: _unbroadcast(value, shape))
    return _unbroadcast(grad, shape)


def _unbroadcast(grad: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    if grad.shape == shape:
        return grad
    extra = grad.ndim - len(shape)
    if extra > 0:
        grad = grad.sum(axis=tuple(range(extra)))
    stretched = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    if stretched:
        grad = grad.sum(axis=stretched, keepdims=True)
    return grad.reshape(shape)


OPERAND = "a Tensor, a number or an array of numbers"
_SAFE_FLOAT = 2.0 ** 52  # integers below this are exact in float64, and so are their sums


def check_operand(op: str, arg: str, x: Any) -> None:
    """A number (bool, int, float) or an array (or nested list) of them; anything else refused."""
    if isinstance(x, (bool, int, float, np.bool_, np.integer, np.floating)):
        return
    if isinstance(x, (np.ndarray, list, tuple)):
        try:
            kind = x.dtype.kind if isinstance(x, np.ndarray) else np.asarray(x).dtype.kind
        except (ValueError, TypeError, OverflowError):
            kind = "O"
        if kind in "biuf":
            return
        raise fail_type(op, arg, OPERAND, Shown("an array of non-numbers" if kind == "O" else
                                                f"an array of dtype {np.asarray(x).dtype}"))
    raise fail_type(op, arg, OPERAND, x)


def _exact(values: Any) -> Any:
    """An operand as Python ints (object array) for exact integer arithmetic."""
    return np.asarray(values).astype(object) if isinstance(values, np.ndarray) else values


def check_integer_result(op: str, out: Any, exact: Callable[..., Any], *operands: Any,
                         magnitude: bool = False) -> None:
    """Refuse an integer result that NumPy wrapped: recompute it exactly when it might have.

    Fast path: with every operand below 2**52 in magnitude, the float64 estimate of ``exact`` is
    exact (sums, differences) or within a relative 2**-52 (one product, a power), so a result
    inside the dtype's range with a margin of 2**-30 cannot have wrapped. For sums of many
    terms (``magnitude=True``: matmul, sum) the estimate is taken on the operands' absolute
    values, a bound that rounding cannot move by more than the margin. Otherwise the result is
    recomputed with Python ints (object arrays) and compared.
    """
    out = np.asarray(out)
    if out.dtype.kind not in "iu" or out.size == 0:
        return
    info = np.iinfo(out.dtype)
    with np.errstate(all="ignore"):
        small = all(float(np.max(np.abs(np.asarray(v, dtype=np.float64)), initial=0.0)) < _SAFE_FLOAT
                    for v in operands)
        if small:
            floats = [np.asarray(v, dtype=np.float64) for v in operands]
            estimate = np.asarray(exact(*(np.abs(f) for f in floats) if magnitude else floats))
            low = -estimate.max(initial=0.0) if magnitude else estimate.min(initial=0.0)
            if float(low) >= info.min and float(estimate.max(initial=0.0)) <= info.max * (1 - 2.0 ** -30):
                return
    true = np.asarray(exact(*(_exact(v) for v in operands)), dtype=object)
    wrapped = (true < info.min) | (true > info.max)
    if np.any(wrapped):
        raise fail_value(op, "input", f"such that the result fits in {out.dtype} [{info.min}, {info.max}] "
                         f"(cast to a wider or float dtype first)",
                         Shown(f"a result of {true[np.asarray(wrapped, dtype=bool)].flat[0]}"))


def binary(op: str, fn: Callable[[Any, Any], Any], x: Any, y: Any, exact: Callable[..., Any] | None = None) -> Any:
    """``fn(x, y)`` with NumPy's broadcasting, after checking the operands; never a wrapped int."""
    check_operand(op, "input", x)
    check_operand(op, "other", y)
    check_broadcast(op, x, y)
    try:
        out = fn(x, y)
    except OverflowError:  # a Python int the other operand's dtype cannot hold
        big = y if isinstance(y, int) else x
        raise fail_value(op, "other" if big is y else "input",
                         f"a number the other operand's dtype ({np.result_type(y if big is x else x)}) can hold",
                         big) from None
    except ValueError:  # integers to negative integer powers
        if op != "pow":
            raise
        raise fail_value(op, "other", "non-negative for an integer base (use a float base)",
                         Shown(f"negative exponents (min {np.min(y)})")) from None
    if exact is not None:
        check_integer_result(op, out, exact, x, y)
    return out


def check_broadcast(op: str, x: Any, y: Any) -> None:
    """Refuse operands whose shapes do not broadcast, naming both shapes."""
    try:
        np.broadcast_shapes(np.shape(x), np.shape(y))
    except ValueError:
        raise fail_value(op, "shapes", "broadcastable together",
                         Shown(f"{list(np.shape(x))} and {list(np.shape(y))}")) from None


def add(x: Any, y: Any) -> Result:
    out = binary("add", np.add, x, y, lambda a, b: a + b)
    sx, sy = np.shape(x), np.shape(y)
    return out, lambda g: (unbroadcast(g, sx), unbroadcast(g, sy))


def sub(x: Any, y: Any) -> Result:
    out = binary("sub", np.subtract, x, y, lambda a, b: a - b)
    sx, sy = np.shape(x), np.shape(y)
    return out, lambda g: (unbroadcast(g, sx), unbroadcast(-g, sy))


def mul(x: Any, y: Any, needs: tuple[bool, bool] = BOTH) -> Result:
    out = binary("mul", np.multiply, x, y, lambda a, b: a * b)

    def backward(g: np.ndarray) -> tuple[Any, ...]:
        return (unbroadcast(g * y, np.shape(x)) if needs[0] else None,
                unbroadcast(g * x, np.shape(y)) if needs[1] else None)
    return out, backward


def div(x: Any, y: Any, needs: tuple[bool, bool] = BOTH) -> Result:
    out = binary("div", np.true_divide, x, y)

    def backward(g: np.ndarray) -> tuple[Any, ...]:
        return (unbroadcast(g / y, np.shape(x)) if needs[0] else None,
                unbroadcast(-g * out / y, np.shape(y)) if needs[1] else None)
    return out, backward


def power(x: Any, y: Any, needs: tuple[bool, bool] = BOTH) -> Result:
    """``x ** y``; d/dx = y x^(y-1), d/dy = x^y ln x (taken as 0 where x <= 0)."""
    out = binary("pow", np.power, x, y, lambda a, b: a ** b)

    def backward(g: np.ndarray) -> tuple[Any, ...]:
        dx = dy = None
        if needs[0]:
            dx = unbroadcast(g * y * x ** (y - 1), np.shape(x))
        if needs[1]:
            positive = np.asarray(x) > 0
            log_x = np.where(positive, np.log(np.where(positive, x, 1)), 0)
            dy = unbroadcast(g * out * log_x, np.shape(y))
        return dx, dy
    return out, backward


def neg(x: np.ndarray) -> Result:
    out = np.negative(x)
    check_integer_result("neg", out, lambda a: -a, x)
    return out, lambda g: (-g,)


def absolute(x: np.ndarray) -> Result:
    out = np.abs(x)
    check_integer_result("abs", out, abs, x)
    return out, lambda g: (g * np.sign(x),)


def exp(x: np.ndarray) -> Result:
    out = np.exp(x)
    return out, lambda g: (g * out,)


def log(x: np.ndarray) -> Result:
    return np.log(x), lambda g: (g / x,)


def sqrt(x: np.ndarray) -> Result:
    out = np.sqrt(x)
    return out, lambda g: (g / (2 * out),)


def _select_pair(x: Any, y: Any, out: np.ndarray, wins: Any) -> Result:
    """At ties the gradient is split evenly (as torch.maximum)."""
    def backward(g: np.ndarray) -> tuple[Any, ...]:
        share_x = np.where(wins(x, y), 1.0, np.where(x == y, 0.5, 0.0)).astype(g.dtype)
        return unbroadcast(g * share_x, np.shape(x)), unbroadcast(g * (1 - share_x), np.shape(y))
    return out, backward


def maximum(x: Any, y: Any) -> Result:
    return _select_pair(x, y, binary("maximum", np.maximum, x, y), np.greater)


def minimum(x: Any, y: Any) -> Result:
    return _select_pair(x, y, binary("minimum", np.minimum, x, y), np.less)


def clip(x: np.ndarray, low: Any = None, high: Any = None) -> Result:
    """Clamp to ``[low, high]``; the gradient passes where the value was not clamped."""
    if low is None and high is None:
        raise fail_value("clip", "min", "given when 'max' is None", None)
    for name, bound in (("min", low), ("max", high)):
        if bound is not None:
            check_operand("clip", name, bound)
            check_broadcast("clip", x, bound)
    try:
        out = np.clip(x, low, high)
    except OverflowError:
        raise fail_value("clip", "min" if isinstance(low, int) else "max", f"a number {x.dtype} can hold",
                         low if isinstance(low, int) else high) from None
    return out, lambda g: (g * (out == x),)


def cast(x: np.ndarray, dtype: Any) -> Result:
    """Cast; the gradient is cast back to the source dtype (only between float dtypes)."""
    source = x.dtype
    return x.astype(dtype), lambda g: (g.astype(source),)
