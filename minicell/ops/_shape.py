"""The functional facade of the shape ops, concat/stack and where."""
from __future__ import annotations

from typing import Any, Sequence

from minicell._checks import fail_type
from minicell.primitives import shape as S
from minicell.tensor import Tensor, apply, record, unwrap


def _tensor(a: Any) -> Tensor:
    return a if isinstance(a, Tensor) else Tensor(a)


def reshape(a: Any, *shape: Any) -> Tensor:
    return _tensor(a).reshape(*shape)


def transpose(a: Any, *axes: Any) -> Tensor:
    return _tensor(a).transpose(*axes)


def swapaxes(a: Any, axis1: int, axis2: int) -> Tensor:
    return _tensor(a).swapaxes(axis1, axis2)


def flatten(a: Any, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    return _tensor(a).flatten(start_dim, end_dim)


def squeeze(a: Any, axis: Any = None) -> Tensor:
    return _tensor(a).squeeze(axis)


def unsqueeze(a: Any, axis: int) -> Tensor:
    return _tensor(a).unsqueeze(axis)


def _operands(who: str, tensors: Sequence[Any]) -> tuple:
    if isinstance(tensors, (Tensor, str)) or not isinstance(tensors, (tuple, list)):
        raise fail_type(who, "tensors", "a tuple or list of Tensors", tensors)
    return tuple(tensors)


def concat(tensors: Sequence[Any], axis: int = 0) -> Tensor:
    """Join along an existing axis; the gradient is split back into the pieces."""
    operands = _operands("concat", tensors)
    out, backward = S.concat([unwrap(t) for t in operands], axis)
    return record(out, operands, backward)


def stack(tensors: Sequence[Any], axis: int = 0) -> Tensor:
    """Join along a new axis; the gradient is unstacked back."""
    operands = _operands("stack", tensors)
    out, backward = S.stack([unwrap(t) for t in operands], axis)
    return record(out, operands, backward)


def where(condition: Any, x: Any, y: Any) -> Tensor:
    """``x`` where ``condition`` holds, else ``y``; gradients flow to the chosen side."""
    return apply(S.where, condition, x, y)
