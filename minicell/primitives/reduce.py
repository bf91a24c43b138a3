"""Reductions over an axis (or all axes), with keepdims: sum, mean, max, min.

Inside a one-pass micro-batched step (``minicell._runtime.segments``), a reduction over the
batch axis 0 (of the batch's rows, or of per-segment values) is taken per segment: over all
axes it gives one value per segment (a loss's mean over each micro-batch, exactly as the lone
micro-batch computes it); over the batch axis and not all axes (or with ``keepdims``) it has no
per-micro-batch meaning of the same shape and is refused.
"""
from __future__ import annotations

import builtins
from typing import Any, cast

import numpy as np

from minicell._checks import Shown, fail_type, fail_value, is_integer
from minicell._runtime import segments
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


def _per_segment(op: str, lone: Any, x: np.ndarray, axes: tuple[int, ...], keepdims: bool, **params: Any) -> Any:
    """The reduction per segment when it crosses the batch axis of a one-pass step, else None."""
    if x.ndim == 0 or 0 not in axes:
        return None
    plan = segments.rows_plan(x)
    by_rows = plan is not None
    plan = plan or segments.stacked_plan(x)
    if plan is None:
        return None
    if keepdims or len(axes) != x.ndim:
        raise segments.refuse(op, "axis", "all axes without keepdims (one value per micro-batch) or axes other "
                              "than the batch axis 0", Shown(f"axes {axes} (keepdims={keepdims}) of shape "
                                                             f"{list(x.shape)}"))

    def call(i: int) -> Any:
        lo, hi = plan.bounds[i]
        part = x[lo:hi] if by_rows else x[i:i + 1].reshape(x.shape[1:])
        return lone(part, None, False, **params)
    return segments.per_segment(plan, call, (by_rows,), out_per_segment=True)


def sum(x: np.ndarray, axis: Axis = None, keepdims: bool = False) -> Result:  # noqa: A001
    axes = normalize_axes("sum", axis, x.ndim)
    keepdims = _check_keepdims("sum", keepdims)
    segmented = _per_segment("sum", sum, x, axes, keepdims)
    if segmented is not None:
        return cast("Result", segmented)
    out = np.sum(x, axis=axes, keepdims=keepdims)
    check_integer_result("sum", out, lambda a: np.sum(a, axis=axes, keepdims=keepdims), x, magnitude=True)
    return out, lambda g: (np.broadcast_to(_expand(g, axes, keepdims), x.shape),)


def mean(x: np.ndarray, axis: Axis = None, keepdims: bool = False) -> Result:
    axes = normalize_axes("mean", axis, x.ndim)
    keepdims = _check_keepdims("mean", keepdims)
    segmented = _per_segment("mean", mean, x, axes, keepdims)
    if segmented is not None:
        return cast("Result", segmented)
    count = builtins.max(1, int(np.prod([x.shape[i] for i in axes]))) if axes else 1  # empty: empty gradient
    out = np.mean(x, axis=axes, keepdims=keepdims)
    return out, lambda g: (np.broadcast_to(_expand(g, axes, keepdims) / count, x.shape),)


def _extreme(op: str, reducer: Any, x: np.ndarray, axis: Axis, keepdims: bool) -> Result:
    """max/min; the gradient is split evenly between tied extremes (as torch.amax)."""
    axes = normalize_axes(op, axis, x.ndim)
    keepdims = _check_keepdims(op, keepdims)
    if x.size == 0:
        raise fail_value(op, "input", "a non-empty tensor", Shown(f"shape {list(x.shape)}"))
    segmented = _per_segment(op, lambda part, axis, keep: _extreme(op, reducer, part, axis, keep), x, axes, keepdims)
    if segmented is not None:
        return cast("Result", segmented)
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
