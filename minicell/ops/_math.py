"""Differentiable elementwise arithmetic and matmul; each backward sits beside its forward.

Broadcasting follows NumPy; ``unbroadcast`` sums a gradient back to an operand's shape.
Python scalars stay Python scalars in the forward, so NumPy's weak-scalar rule keeps float32
tensors float32 (``t * 2.0`` is float32).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from minicell.tensor import Tensor, needs_grad, record, unwrap


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


def _shape(x: Any) -> tuple[int, ...]:
    return np.shape(unwrap(x))


def _check_broadcast(op: str, a: Any, b: Any) -> None:
    try:
        np.broadcast_shapes(_shape(a), _shape(b))
    except ValueError:
        raise ValueError(f"For '{op}', the shapes {list(_shape(a))} and {list(_shape(b))} "
                         f"cannot be broadcast together.") from None


def add(a: Any, b: Any) -> Tensor:
    _check_broadcast("add", a, b)
    return record(unwrap(a) + unwrap(b), (a, b),
                  lambda g: (unbroadcast(g, _shape(a)), unbroadcast(g, _shape(b))))


def sub(a: Any, b: Any) -> Tensor:
    _check_broadcast("sub", a, b)
    return record(unwrap(a) - unwrap(b), (a, b),
                  lambda g: (unbroadcast(g, _shape(a)), unbroadcast(-g, _shape(b))))


def mul(a: Any, b: Any) -> Tensor:
    _check_broadcast("mul", a, b)
    x, y = unwrap(a), unwrap(b)

    def backward(g: np.ndarray) -> tuple:
        return (unbroadcast(g * y, _shape(a)) if needs_grad(a) else None,
                unbroadcast(g * x, _shape(b)) if needs_grad(b) else None)
    return record(x * y, (a, b), backward)


def div(a: Any, b: Any) -> Tensor:
    _check_broadcast("div", a, b)
    x, y = unwrap(a), unwrap(b)
    out = x / y

    def backward(g: np.ndarray) -> tuple:
        return (unbroadcast(g / y, _shape(a)) if needs_grad(a) else None,
                unbroadcast(-g * out / y, _shape(b)) if needs_grad(b) else None)
    return record(out, (a, b), backward)


def power(a: Any, b: Any) -> Tensor:
    """``a ** b``; d/da = b a^(b-1), d/db = a^b ln a (taken as 0 where a <= 0)."""
    _check_broadcast("pow", a, b)
    x, y = unwrap(a), unwrap(b)
    out = x ** y

    def backward(g: np.ndarray) -> tuple:
        da = db = None
        if needs_grad(a):
            da = unbroadcast(g * y * x ** (y - 1), _shape(a))
        if needs_grad(b):
            positive = np.asarray(x) > 0
            log_x = np.where(positive, np.log(np.where(positive, x, 1)), 0)
            db = unbroadcast(g * out * log_x, _shape(b))
        return da, db
    return record(out, (a, b), backward)


def neg(a: Tensor) -> Tensor:
    return record(-unwrap(a), (a,), lambda g: (-g,))


def absolute(a: Tensor) -> Tensor:
    x = unwrap(a)
    return record(np.abs(x), (a,), lambda g: (g * np.sign(x),))


def exp(a: Tensor) -> Tensor:
    out = np.exp(unwrap(a))
    return record(out, (a,), lambda g: (g * out,))


def log(a: Tensor) -> Tensor:
    x = unwrap(a)
    return record(np.log(x), (a,), lambda g: (g / x,))


def sqrt(a: Tensor) -> Tensor:
    out = np.sqrt(unwrap(a))
    return record(out, (a,), lambda g: (g / (2 * out),))


def maximum(a: Any, b: Any) -> Tensor:
    """Elementwise max; at ties the gradient is split evenly (as torch.maximum)."""
    _check_broadcast("maximum", a, b)
    return _select_pair(a, b, np.maximum(unwrap(a), unwrap(b)), np.greater)


def minimum(a: Any, b: Any) -> Tensor:
    """Elementwise min; at ties the gradient is split evenly (as torch.minimum)."""
    _check_broadcast("minimum", a, b)
    return _select_pair(a, b, np.minimum(unwrap(a), unwrap(b)), np.less)


def _select_pair(a: Any, b: Any, out: np.ndarray, wins: Any) -> Tensor:
    x, y = unwrap(a), unwrap(b)

    def backward(g: np.ndarray) -> tuple:
        share_a = np.where(wins(x, y), 1.0, np.where(x == y, 0.5, 0.0)).astype(g.dtype)
        return unbroadcast(g * share_a, _shape(a)), unbroadcast(g * (1 - share_a), _shape(b))
    return record(out, (a, b), backward)


def clip(a: Tensor, min: Any = None, max: Any = None) -> Tensor:  # noqa: A002 (NumPy's names)
    """Clamp to ``[min, max]``; the gradient passes where the value was not clamped."""
    if min is None and max is None:
        raise ValueError("For 'clip', at least one of 'min' and 'max' must be given, but got None for both.")
    x = unwrap(a)
    out = np.clip(x, unwrap(min), unwrap(max))
    return record(out, (a,), lambda g: (g * (out == x),))


def matmul(a: Any, b: Any) -> Tensor:
    """Matrix product with NumPy's rules (1-D vectors, 2-D, batched with broadcasting)."""
    x, y = unwrap(a), unwrap(b)
    try:
        out = np.matmul(x, y)
    except ValueError:
        raise ValueError(f"For 'matmul', the shapes {list(np.shape(x))} and {list(np.shape(y))} "
                         f"are not aligned.") from None

    def backward(g: np.ndarray) -> tuple:
        if x.ndim == 1 and y.ndim == 1:  # inner product
            return g * y, g * x
        xm = x[np.newaxis, :] if x.ndim == 1 else x
        ym = y[:, np.newaxis] if y.ndim == 1 else y
        gm = np.expand_dims(g, -2) if x.ndim == 1 else g
        gm = np.expand_dims(gm, -1) if y.ndim == 1 else gm
        da = db = None
        if needs_grad(a):
            da = np.matmul(gm, np.swapaxes(ym, -1, -2))
            da = unbroadcast(da, xm.shape) if x.ndim > 1 else da.reshape(-1, x.shape[0]).sum(0)
        if needs_grad(b):
            db = np.matmul(np.swapaxes(xm, -1, -2), gm)
            db = unbroadcast(db, ym.shape) if y.ndim > 1 else db.reshape(-1, y.shape[0]).sum(0)
        return da, db
    return record(out, (a, b), backward)


def cast(a: Tensor, dtype: Any) -> Tensor:
    """Cast; the gradient is cast back to the source dtype (only between float dtypes)."""
    source = a.dtype
    return record(unwrap(a).astype(dtype), (a,), lambda g: (g.astype(source),))
