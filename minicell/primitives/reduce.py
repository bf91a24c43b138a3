"""Reductions over an axis (or all axes), with keepdims: sum, mean, max, min."""
from __future__ import annotations

import builtins
from typing import Any

import numpy as np

from minicell._checks import Shown, fail_type, fail_value, is_integer
from minicell.primitives.math import Result, check_integer_result

Axis = Any  # None, an int or a tuple of ints


def normalize_axes(op: str, axis: Axis, ndim: int, arg: str = "axis", single: bool = False) -> tuple[int, ...]:
    """``axis`` as a tuple of non-negative ints (None: all axes); a 0-d array accepts 0 and -1.

    ``single``: one int is expected (errors then say "an int" and show the value as given)."""
    if axis is None and not single:
        return tuple(range(ndim))
    axes = tuple(axis) if isinstance(axis, (tuple, list)) and not single else (axis,)
    limit = builtins.max(ndim, 1)
    result = []
    for ax in axes:
        if not is_integer(ax):
            raise fail_type(op, arg, "an int" if single else "None, an int or a tuple of ints",
                            Shown(repr(axis)) if isinstance(axis, (tuple, list)) and len(repr(axis)) <= 80 else axis)
        if not -limit <= int(ax) < limit:
            raise fail_value(op, arg, f"in [{-limit}, {limit}) for a {ndim}-D tensor", axis)
        result.append(int(ax) % limit)
    if len(set(result)) != len(result):
        raise fail_value(op, arg, "a tuple of distinct axes", Shown(repr(axis)))
    return tuple(a for a in result if a < ndim)


def _expand(g: np.ndarray, axes: tuple[int, ...], keepdims: bool) -> np.ndarray:
    """Reinsert reduced axes as size 1 so ``g`` broadcasts against the input."""
    return g if keepdims else np.expand_dims(g, axes)


def _check_keepdims(op: str, keepdims: Any) -> bool:
    if not isinstance(keepdims, (bool, np.bool_)):
        raise fail_type(op, "keepdims", "a bool", keepdims)
    return bool(keepdims)


def sum(x: np.ndarray, axis: Axis = None, keepdims: bool = False) -> Result:  # noqa: A001
    axes = normalize_axes("sum", axis, x.ndim)
    keepdims = _check_keepdims("sum", keepdims)
    out = np.sum(x, axis=axes, keepdims=keepdims)
    check_integer_result("sum", out, lambda a: np.sum(a, axis=axes, keepdims=keepdims), x, magnitude=True)
    return out, lambda g: (np.broadcast_to(_expand(g, axes, keepdims), x.shape),)


def mean(x: np.ndarray, axis: Axis = None, keepdims: bool = False) -> Result:
    axes = normalize_axes("mean", axis, x.ndim)
    keepdims = _check_keepdims("mean", keepdims)
    count = builtins.max(1, int(np.prod([x.shape[i] for i in axes]))) if axes else 1  # empty: empty gradient
    out = np.mean(x, axis=axes, keepdims=keepdims)
    return out, lambda g: (np.broadcast_to(_expand(g, axes, keepdims) / count, x.shape),)


def _extreme(op: str, reducer: Any, x: np.ndarray, axis: Axis, keepdims: bool) -> Result:
    """max/min; the gradient is split evenly between tied extremes (as torch.amax)."""
    axes = normalize_axes(op, axis, x.ndim)
    keepdims = _check_keepdims(op, keepdims)
    if x.size == 0:
        raise fail_value(op, "input", "a non-empty tensor", Shown(f"shape {list(x.shape)}"))
    out = reducer(x, axis=axes, keepdims=keepdims)

    def backward(g: np.ndarray) -> tuple[Any, ...]:
        hit = x == _expand(out, axes, keepdims)
        share = hit / hit.sum(axis=axes, keepdims=True)
        return (share * _expand(g, axes, keepdims),)
    return out, backward


def max(x: np.ndarray, axis: Axis = None, keepdims: bool = False) -> Result:  # noqa: A001
    return _extreme("max", np.max, x, axis, keepdims)


def min(x: np.ndarray, axis: Axis = None, keepdims: bool = False) -> Result:  # noqa: A001
    return _extreme("min", np.min, x, axis, keepdims)
