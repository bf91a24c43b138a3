"""The functional facade of the shape ops, concat/stack and where."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from minicell._checks import fail_type
from minicell.primitives import shape as S
from minicell.primitives.math import check_operand
from minicell.tensor import Tensor, apply, as_tensor, record, unwrap


def reshape(a: Any, *shape: Any) -> Tensor:
    return as_tensor("reshape", "input", a).reshape(*shape)


def transpose(a: Any, *axes: Any) -> Tensor:
    return as_tensor("transpose", "input", a).transpose(*axes)


def swapaxes(a: Any, axis1: int, axis2: int) -> Tensor:
    return as_tensor("swapaxes", "input", a).swapaxes(axis1, axis2)


def flatten(a: Any, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    return as_tensor("flatten", "input", a).flatten(start_dim, end_dim)


def squeeze(a: Any, axis: Any = None) -> Tensor:
    return as_tensor("squeeze", "input", a).squeeze(axis)


def unsqueeze(a: Any, axis: int) -> Tensor:
    return as_tensor("unsqueeze", "input", a).unsqueeze(axis)


def _operands(who: str, tensors: Sequence[Any]) -> tuple:
    if isinstance(tensors, (Tensor, str)) or not isinstance(tensors, (tuple, list)):
        raise fail_type(who, "tensors", "a tuple or list of Tensors", tensors)
    for item in tensors:
        check_operand(who, "tensors", unwrap(item))
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
    for arg, value in (("condition", condition), ("x", x), ("y", y)):
        check_operand("where", arg, unwrap(value))
    return apply(S.where, condition, x, y)
