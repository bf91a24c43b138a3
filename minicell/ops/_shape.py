"""Differentiable shape ops, indexing, concat/stack and where."""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from minicell.tensor import Tensor, record, unwrap
from minicell.ops._math import unbroadcast


def reshape(a: Tensor, *shape: Any) -> Tensor:
    x = unwrap(a)
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    try:
        out = x.reshape(shape)
    except (ValueError, TypeError):
        raise ValueError(f"For 'reshape', a tensor of shape {list(x.shape)} cannot be reshaped "
                         f"to {list(shape)}.") from None
    return record(out, (a,), lambda g: (g.reshape(x.shape),))


def transpose(a: Tensor, *axes: Any) -> Tensor:
    x = unwrap(a)
    if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
        axes = tuple(axes[0])
    perm = tuple(axes) if axes else tuple(reversed(range(x.ndim)))
    if sorted(int(p) % max(x.ndim, 1) for p in perm) != list(range(x.ndim)):
        raise ValueError(f"For 'transpose', 'axes' must be a permutation of {list(range(x.ndim))}, "
                         f"but got {list(perm)}.")
    inverse = np.argsort([int(p) % x.ndim for p in perm]) if x.ndim else ()
    return record(np.transpose(x, perm), (a,), lambda g: (np.transpose(g, inverse),))


def swapaxes(a: Tensor, axis1: int, axis2: int) -> Tensor:
    x = unwrap(a)
    try:
        out = np.swapaxes(x, axis1, axis2)
    except (ValueError, np.exceptions.AxisError):
        raise ValueError(f"For 'swapaxes', axes ({axis1}, {axis2}) are out of range for a "
                         f"{x.ndim}-d tensor.") from None
    return record(out, (a,), lambda g: (np.swapaxes(g, axis1, axis2),))


def flatten(a: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """Merge dimensions ``start_dim..end_dim`` into one (as torch.flatten)."""
    x = unwrap(a)
    if x.ndim == 0:
        return reshape(a, (1,))
    start, end = start_dim % x.ndim, end_dim % x.ndim
    if start > end:
        raise ValueError(f"For 'flatten', 'start_dim' ({start_dim}) must not come after 'end_dim' ({end_dim}).")
    return reshape(a, x.shape[:start] + (-1,) + x.shape[end + 1:])


def squeeze(a: Tensor, axis: Any = None) -> Tensor:
    x = unwrap(a)
    try:
        out = np.squeeze(x, axis=axis)
    except (ValueError, np.exceptions.AxisError):
        raise ValueError(f"For 'squeeze', cannot squeeze axis {axis!r} of a tensor of shape "
                         f"{list(x.shape)}: only size-1 axes can be removed.") from None
    return record(out, (a,), lambda g: (g.reshape(x.shape),))


def unsqueeze(a: Tensor, axis: int) -> Tensor:
    x = unwrap(a)
    try:
        out = np.expand_dims(x, axis)
    except np.exceptions.AxisError:
        raise ValueError(f"For 'unsqueeze', 'axis' must be in [{-x.ndim - 1}, {x.ndim}], but got {axis}.") from None
    return record(out, (a,), lambda g: (g.reshape(x.shape),))


def _is_basic_index(index: Any) -> bool:
    items = index if isinstance(index, tuple) else (index,)
    return all(isinstance(i, (int, np.integer, slice, type(None), type(Ellipsis))) and not isinstance(i, bool)
               for i in items)


def getitem(a: Tensor, index: Any) -> Tensor:
    """Indexing with slices, ints, integer arrays and boolean masks, as NumPy does."""
    x = unwrap(a)
    if isinstance(index, tuple):
        index = tuple(unwrap(i) for i in index)
    else:
        index = unwrap(index)
    out = x[index]
    basic = _is_basic_index(index)

    def backward(g: np.ndarray) -> tuple:
        grad = np.zeros_like(x)
        if basic:
            grad[index] = g
        else:
            np.add.at(grad, index, g)
        return (grad,)
    return record(out, (a,), backward)


def _join(who: str, tensors: Sequence[Any], joiner: Any, axis: int) -> tuple[tuple, list, np.ndarray]:
    """Validate and join: ``(operands, arrays, joined)``; errors name the shapes."""
    tensors = tuple(tensors)
    if not tensors:
        raise ValueError(f"For '{who}', 'tensors' must not be empty.")
    arrays = [np.asarray(unwrap(t)) for t in tensors]
    try:
        return tensors, arrays, joiner(arrays, axis=axis)
    except (ValueError, np.exceptions.AxisError) as error:
        raise ValueError(f"For '{who}', shapes {[list(x.shape) for x in arrays]} cannot be joined "
                         f"along axis {axis}: {error}") from None


def concat(tensors: Sequence[Any], axis: int = 0) -> Tensor:
    """Join along an existing axis; the gradient is split back into the pieces."""
    tensors, arrays, out = _join("concat", tensors, np.concatenate, axis)
    bounds = np.cumsum([x.shape[axis] for x in arrays])[:-1]
    return record(out, tensors, lambda g: tuple(np.split(g, bounds, axis=axis)))


def stack(tensors: Sequence[Any], axis: int = 0) -> Tensor:
    """Join along a new axis; the gradient is unstacked back."""
    tensors, _, out = _join("stack", tensors, np.stack, axis)
    return record(out, tensors, lambda g: tuple(np.moveaxis(g, axis, 0)))


def where(condition: Any, x: Any, y: Any) -> Tensor:
    """``x`` where ``condition`` holds, else ``y``; gradients flow to the chosen side."""
    cond = np.asarray(unwrap(condition), dtype=bool)
    xv, yv = unwrap(x), unwrap(y)
    try:
        out = np.where(cond, xv, yv)
    except ValueError:
        raise ValueError(f"For 'where', the shapes {list(cond.shape)}, {list(np.shape(xv))} and "
                         f"{list(np.shape(yv))} cannot be broadcast together.") from None
    zero = np.zeros((), dtype=out.dtype)
    return record(out, (condition, x, y), lambda g: (
        None,
        unbroadcast(np.where(cond, g, zero), np.shape(xv)),
        unbroadcast(np.where(cond, zero, g), np.shape(yv))))
