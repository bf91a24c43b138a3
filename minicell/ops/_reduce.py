"""Differentiable reductions: sum, mean, max, min over an axis (or all axes), with keepdims."""
from __future__ import annotations

import builtins
from typing import Any

import numpy as np

from minicell.tensor import Tensor, record, unwrap

Axis = Any  # None, an int or a tuple of ints


def _normalize_axis(op: str, axis: Axis, ndim: int) -> tuple[int, ...]:
    if axis is None:
        return tuple(range(ndim))
    axes = axis if isinstance(axis, (tuple, list)) else (axis,)
    result = []
    for ax in axes:
        if isinstance(ax, bool) or not isinstance(ax, (int, np.integer)):
            raise TypeError(f"For '{op}', 'axis' must be None, an int or a tuple of ints, but got {axis!r}.")
        if not -ndim <= ax < builtins.max(ndim, 1):
            raise ValueError(f"For '{op}', 'axis' must be in [{-ndim}, {ndim}) for a {ndim}-d tensor, "
                             f"but got {axis!r}.")
        result.append(int(ax) % builtins.max(ndim, 1))
    return tuple(result)


def _expand(g: np.ndarray, axes: tuple[int, ...], keepdims: bool) -> np.ndarray:
    """Reinsert reduced axes as size 1 so ``g`` broadcasts against the input."""
    return g if keepdims else np.expand_dims(g, axes)


def sum(a: Tensor, axis: Axis = None, keepdims: bool = False) -> Tensor:  # noqa: A001
    x = unwrap(a)
    axes = _normalize_axis("sum", axis, x.ndim)
    out = np.sum(x, axis=axes, keepdims=keepdims)
    return record(out, (a,), lambda g: (np.broadcast_to(_expand(g, axes, keepdims), x.shape),))


def mean(a: Tensor, axis: Axis = None, keepdims: bool = False) -> Tensor:
    x = unwrap(a)
    axes = _normalize_axis("mean", axis, x.ndim)
    count = builtins.max(1, int(np.prod([x.shape[i] for i in axes]))) if axes else 1  # empty: empty gradient
    out = np.mean(x, axis=axes, keepdims=keepdims)
    return record(out, (a,), lambda g: (np.broadcast_to(_expand(g, axes, keepdims) / count, x.shape),))


def _extreme(op: str, reducer: Any, a: Tensor, axis: Axis, keepdims: bool) -> Tensor:
    """max/min; the gradient is split evenly between tied extremes (as torch.amax)."""
    x = unwrap(a)
    axes = _normalize_axis(op, axis, x.ndim)
    if x.size == 0:
        raise ValueError(f"For '{op}', the tensor must not be empty, but got shape {list(x.shape)}.")
    out = reducer(x, axis=axes, keepdims=keepdims)

    def backward(g: np.ndarray) -> tuple:
        hit = x == _expand(out, axes, keepdims)
        share = hit / hit.sum(axis=axes, keepdims=True)
        return (share * _expand(g, axes, keepdims),)
    return record(out, (a,), backward)


def max(a: Tensor, axis: Axis = None, keepdims: bool = False) -> Tensor:  # noqa: A001
    return _extreme("max", np.max, a, axis, keepdims)


def min(a: Tensor, axis: Axis = None, keepdims: bool = False) -> Tensor:  # noqa: A001
    return _extreme("min", np.min, a, axis, keepdims)
