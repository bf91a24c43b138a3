"""Shape ops, indexing, concat/stack and where; each backward routes the gradient back.

Inside a one-pass micro-batched step (``minicell._runtime.segments``) the batch axis 0 of the
batch's rows must stay axis 0 and keep its rows apart: an op that would move it, merge it with
another axis or pick, reorder or join rows across it is refused (a lone micro-batch would see
other rows), naming the op.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

import numpy as np

from minicell._checks import Shown, fail_type, fail_value, is_integer
from minicell._runtime import segments
from minicell.primitives.math import Result, unbroadcast
from minicell.primitives.reduce import normalize_axes


def shape_arguments(op: str, arg: str, dims: tuple[Any, ...]) -> tuple[int, ...]:
    """``f(2, 3)`` or ``f((2, 3))`` as a tuple of ints (each checked)."""
    if len(dims) == 1 and isinstance(dims[0], (tuple, list)):
        dims = tuple(dims[0])
    for d in dims:
        if not is_integer(d):
            raise fail_type(op, arg, "ints or one tuple of ints", Shown(repr(dims)))
    return tuple(int(d) for d in dims)


def _keep_batch_axis(op: str, x: np.ndarray, kept: bool, arg: str, got: Any) -> None:
    """Refuse an op on the batch's rows that does not keep axis 0 as the rows' axis."""
    if not kept and segments.rows_plan(x) is not None:
        raise segments.refuse(op, arg, "one that keeps the batch axis 0 in place and its rows apart", got)


def reshape(x: np.ndarray, shape: tuple[int, ...]) -> Result:
    if any(d < -1 for d in shape) or sum(d == -1 for d in shape) > 1:
        raise fail_value("reshape", "shape", "non-negative ints with at most one -1", Shown(str(list(shape))))
    try:
        out = x.reshape(shape)
    except ValueError:
        raise fail_value("reshape", "shape", f"compatible with {x.size} elements of shape {list(x.shape)}",
                         Shown(str(list(shape)))) from None
    kept = out.ndim >= 1 and x.ndim >= 1 and np.shape(out)[0] == np.shape(x)[0]
    _keep_batch_axis("reshape", x, kept, "shape", Shown(str(list(shape))))
    return out, lambda g: (g.reshape(x.shape),)


def transpose(x: np.ndarray, perm: tuple[int, ...]) -> Result:
    perm = perm or tuple(reversed(range(x.ndim)))
    if len(perm) != x.ndim or sorted(normalize_axes("transpose", perm, x.ndim, "axes")) != list(range(x.ndim)):
        raise fail_value("transpose", "axes", f"a permutation of {list(range(x.ndim))}", Shown(str(list(perm))))
    perm = normalize_axes("transpose", perm, x.ndim, "axes")
    _keep_batch_axis("transpose", x, perm[0] == 0, "axes", Shown(str(list(perm))))
    inverse = tuple(int(i) for i in np.argsort(perm))
    return np.transpose(x, perm), lambda g: (np.transpose(g, inverse),)


def swapaxes(x: np.ndarray, axis1: int, axis2: int) -> Result:
    a, b = (normalize_axes("swapaxes", axis1, x.ndim, "axis1", single=True)
            + normalize_axes("swapaxes", axis2, x.ndim, "axis2", single=True))
    _keep_batch_axis("swapaxes", x, a == b or 0 not in (a, b), "axis1", Shown(f"axes {a} and {b}"))
    return np.swapaxes(x, a, b), lambda g: (np.swapaxes(g, a, b),)


def flatten_shape(shape: tuple[int, ...], start_dim: Any, end_dim: Any) -> tuple[int, ...]:
    """The shape after merging dimensions ``start_dim..end_dim`` into one (as torch.flatten)."""
    (start,) = normalize_axes("flatten", start_dim, len(shape), "start_dim", single=True) or (0,)
    (end,) = normalize_axes("flatten", end_dim, len(shape), "end_dim", single=True) or (0,)
    if not shape:
        return (1,)
    if start > end:
        raise fail_value("flatten", "start_dim", f"not after 'end_dim' ({end_dim})", start_dim)
    return shape[:start] + (int(np.prod(shape[start:end + 1])),) + shape[end + 1:]


def squeeze(x: np.ndarray, axis: Any = None) -> Result:
    axes = normalize_axes("squeeze", axis, x.ndim) if axis is not None else None
    if axes is not None and any(x.shape[a] != 1 for a in axes):
        raise fail_value("squeeze", "axis", f"axes of size 1 of shape {list(x.shape)}", axis)
    out = np.squeeze(x, axis=axes)
    return out, lambda g: (g.reshape(x.shape),)


def unsqueeze(x: np.ndarray, axis: int) -> Result:
    if not is_integer(axis):
        raise fail_type("unsqueeze", "axis", "an int", axis)
    if not -x.ndim - 1 <= int(axis) <= x.ndim:
        raise fail_value("unsqueeze", "axis", f"in [{-x.ndim - 1}, {x.ndim}]", axis)
    _keep_batch_axis("unsqueeze", x, int(axis) % (x.ndim + 1) != 0, "axis", axis)
    return np.expand_dims(x, int(axis)), lambda g: (g.reshape(x.shape),)


def check_index(index: Any, shape: tuple[int, ...]) -> None:
    """Refuse index items NumPy would misread: bools (a new axis, not element 0 or 1), floats,
    strings and other objects; ints, slices, None, Ellipsis and int or bool arrays pass."""
    for item in index if isinstance(index, tuple) else (index,):
        if isinstance(item, (bool, np.bool_)):
            raise fail_type("Tensor.__getitem__", "index", "ints, slices, None, Ellipsis or int/bool arrays "
                            "(a bool is not an int: use a bool array for a mask)", item)
        if isinstance(item, (int, np.integer, slice, type(None), type(Ellipsis))):
            continue
        if isinstance(item, (list, np.ndarray)):
            try:
                kind = np.asarray(item).dtype.kind
            except (ValueError, TypeError):
                kind = "O"
            if kind in "biu" or (kind == "f" and np.size(item) == 0):
                continue
        raise fail_type("Tensor.__getitem__", "index", "ints, slices, None, Ellipsis or int/bool arrays",
                        Shown(repr(item) if len(repr(item)) < 80 else type(item).__name__))


def _is_basic_index(index: Any) -> bool:
    items = index if isinstance(index, tuple) else (index,)
    return all(isinstance(i, (int, np.integer, slice, type(None), type(Ellipsis))) and not isinstance(i, bool)
               for i in items)


def getitem(x: np.ndarray, index: Any) -> Result:
    """Indexing with slices, ints, integer arrays and boolean masks, as NumPy does."""
    try:
        out = x[index]
    except (IndexError, TypeError, ValueError) as error:
        raise fail_value("Tensor.__getitem__", "index", f"valid for shape {list(x.shape)} ({error})",
                         Shown(repr(index) if len(repr(index)) < 80 else type(index).__name__)) from None
    first = index[0] if isinstance(index, tuple) and index else index
    _keep_batch_axis("Tensor.__getitem__", x, first is Ellipsis or (isinstance(first, slice) and first == slice(None))
                     or (isinstance(index, tuple) and not index), "index",
                     Shown(repr(index) if len(repr(index)) < 80 else type(index).__name__))
    basic = _is_basic_index(index)

    def backward(g: np.ndarray) -> tuple[Any, ...]:
        grad = np.zeros_like(x)
        if basic:
            grad[index] = g
        else:
            np.add.at(grad, index, g)
        return (grad,)
    return out, backward


def _join(who: str, arrays: Sequence[np.ndarray], joiner: Any, axis: Any) -> np.ndarray:
    if not arrays:
        raise fail_value(who, "tensors", "a non-empty sequence", Shown("an empty one"))
    if not is_integer(axis):
        raise fail_type(who, "axis", "an int", axis)
    try:
        return cast(np.ndarray, joiner(arrays, axis=int(axis)))
    except (ValueError, np.exceptions.AxisError):
        raise fail_value(who, "tensors", f"shapes that can be joined along axis {axis}",
                         Shown(str([list(x.shape) for x in arrays]))) from None


def concat(arrays: Sequence[np.ndarray], axis: int = 0) -> Result:
    """Join along an existing axis; the gradient is split back into the pieces."""
    out = _join("concat", arrays, np.concatenate, axis)
    axis = int(axis) % out.ndim
    for x in arrays:
        _keep_batch_axis("concat", x, axis != 0, "axis", axis)
    bounds = np.cumsum([x.shape[axis] for x in arrays])[:-1]
    return out, lambda g: tuple(np.split(g, bounds, axis=axis))


def stack(arrays: Sequence[np.ndarray], axis: int = 0) -> Result:
    """Join along a new axis; the gradient is unstacked back."""
    out = _join("stack", arrays, np.stack, axis)
    axis = int(axis) % out.ndim
    for x in arrays:
        _keep_batch_axis("stack", x, axis != 0, "axis", axis)
    return out, lambda g: tuple(np.moveaxis(g, axis, 0))


def where(condition: Any, x: Any, y: Any) -> Result:
    """``x`` where ``condition`` holds, else ``y``; gradients flow to the chosen side."""
    cond = np.asarray(condition, dtype=bool)
    try:
        out = np.where(cond, x, y)
    except ValueError:
        raise fail_value("where", "shapes", "broadcastable together", Shown(
            f"{list(cond.shape)}, {list(np.shape(x))} and {list(np.shape(y))}")) from None
    zero = np.zeros((), dtype=out.dtype)
    return out, lambda g: (None, unbroadcast(np.where(cond, g, zero), np.shape(x)),
                           unbroadcast(np.where(cond, zero, g), np.shape(y)))
