"""Elementwise arithmetic, matmul and casts, each backward beside its forward.

Broadcasting follows NumPy; ``unbroadcast`` sums a gradient back to an operand's shape. Python
scalars stay Python scalars in the forward, so NumPy's weak-scalar rule keeps float32 arrays
float32 (``x * 2.0`` is float32).
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from minicell._checks import Shown, fail_value

Backward = Callable[[np.ndarray], tuple]
Result = tuple[np.ndarray, Backward]
BOTH = (True, True)


def unbroadcast(grad: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Sum ``grad`` over the axes that broadcasting added or stretched, giving ``shape``."""
    if grad.shape == shape:
        return grad
    extra = grad.ndim - len(shape)
    if extra > 0:
        grad = grad.sum(axis=tuple(range(extra)))
    stretched = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    if stretched:
        grad = grad.sum(axis=stretched, keepdims=True)
    return grad.reshape(shape)


def check_broadcast(op: str, x: Any, y: Any) -> None:
    """Refuse operands whose shapes do not broadcast, naming both shapes."""
    try:
        np.broadcast_shapes(np.shape(x), np.shape(y))
    except ValueError:
        raise fail_value(op, "shapes", "broadcastable together",
                         Shown(f"{list(np.shape(x))} and {list(np.shape(y))}")) from None


def add(x: Any, y: Any) -> Result:
    check_broadcast("add", x, y)
    sx, sy = np.shape(x), np.shape(y)
    return x + y, lambda g: (unbroadcast(g, sx), unbroadcast(g, sy))


def sub(x: Any, y: Any) -> Result:
    check_broadcast("sub", x, y)
    sx, sy = np.shape(x), np.shape(y)
    return x - y, lambda g: (unbroadcast(g, sx), unbroadcast(-g, sy))


def mul(x: Any, y: Any, needs: tuple[bool, bool] = BOTH) -> Result:
    check_broadcast("mul", x, y)

    def backward(g: np.ndarray) -> tuple:
        return (unbroadcast(g * y, np.shape(x)) if needs[0] else None,
                unbroadcast(g * x, np.shape(y)) if needs[1] else None)
    return x * y, backward


def div(x: Any, y: Any, needs: tuple[bool, bool] = BOTH) -> Result:
    check_broadcast("div", x, y)
    out = x / y

    def backward(g: np.ndarray) -> tuple:
        return (unbroadcast(g / y, np.shape(x)) if needs[0] else None,
                unbroadcast(-g * out / y, np.shape(y)) if needs[1] else None)
    return out, backward


def power(x: Any, y: Any, needs: tuple[bool, bool] = BOTH) -> Result:
    """``x ** y``; d/dx = y x^(y-1), d/dy = x^y ln x (taken as 0 where x <= 0)."""
    check_broadcast("pow", x, y)
    out = x ** y

    def backward(g: np.ndarray) -> tuple:
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
    return -x, lambda g: (-g,)


def absolute(x: np.ndarray) -> Result:
    return np.abs(x), lambda g: (g * np.sign(x),)


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
    def backward(g: np.ndarray) -> tuple:
        share_x = np.where(wins(x, y), 1.0, np.where(x == y, 0.5, 0.0)).astype(g.dtype)
        return unbroadcast(g * share_x, np.shape(x)), unbroadcast(g * (1 - share_x), np.shape(y))
    return out, backward


def maximum(x: Any, y: Any) -> Result:
    check_broadcast("maximum", x, y)
    return _select_pair(x, y, np.maximum(x, y), np.greater)


def minimum(x: Any, y: Any) -> Result:
    check_broadcast("minimum", x, y)
    return _select_pair(x, y, np.minimum(x, y), np.less)


def clip(x: np.ndarray, low: Any = None, high: Any = None) -> Result:
    """Clamp to ``[low, high]``; the gradient passes where the value was not clamped."""
    if low is None and high is None:
        raise fail_value("clip", "min", "given when 'max' is None", None)
    out = np.clip(x, low, high)
    return out, lambda g: (g * (out == x),)


def matmul(x: np.ndarray, y: np.ndarray, needs: tuple[bool, bool] = BOTH) -> Result:
    """Matrix product with NumPy's rules (1-D vectors, 2-D, batched with broadcasting)."""
    try:
        out = np.matmul(x, y)
    except ValueError:
        raise fail_value("matmul", "shapes", "aligned for a matrix product",
                         Shown(f"{list(np.shape(x))} and {list(np.shape(y))}")) from None

    def backward(g: np.ndarray) -> tuple:
        if x.ndim == 1 and y.ndim == 1:  # inner product
            return g * y, g * x
        xm = x[np.newaxis, :] if x.ndim == 1 else x
        ym = y[:, np.newaxis] if y.ndim == 1 else y
        gm = np.expand_dims(g, -2) if x.ndim == 1 else g
        gm = np.expand_dims(gm, -1) if y.ndim == 1 else gm
        dx = dy = None
        if needs[0]:
            dx = np.matmul(gm, np.swapaxes(ym, -1, -2))
            dx = unbroadcast(dx, xm.shape) if x.ndim > 1 else dx.reshape(-1, x.shape[0]).sum(0)
        if needs[1]:
            dy = np.matmul(np.swapaxes(xm, -1, -2), gm)
            dy = unbroadcast(dy, ym.shape) if y.ndim > 1 else dy.reshape(-1, y.shape[0]).sum(0)
        return dx, dy
    return out, backward


def cast(x: np.ndarray, dtype: Any) -> Result:
    """Cast; the gradient is cast back to the source dtype (only between float dtypes)."""
    source = x.dtype
    return x.astype(dtype), lambda g: (g.astype(source),)
