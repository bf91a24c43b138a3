"""The functional facade of the elementwise and matrix primitives (``minicell.ops.add`` ...).

Each function accepts Tensors, arrays or Python scalars and runs the array-level primitive of
``minicell/primitives/math.py`` (``matmul.py`` for the product) through ``apply``, which records it
for autograd.
"""
from __future__ import annotations

from typing import Any

from minicell.primitives import math as M
from minicell.primitives import matmul as MM
from minicell.tensor import Tensor, apply, as_tensor, grads_needed, unwrap


def add(a: Any, b: Any) -> Tensor:
    return apply(M.add, a, b)


def sub(a: Any, b: Any) -> Tensor:
    return apply(M.sub, a, b)


def mul(a: Any, b: Any) -> Tensor:
    return apply(M.mul, a, b, needs=grads_needed(a, b))


def div(a: Any, b: Any) -> Tensor:
    return apply(M.div, a, b, needs=grads_needed(a, b))


def power(a: Any, b: Any) -> Tensor:
    return apply(M.power, a, b, needs=grads_needed(a, b))


def neg(a: Any) -> Tensor:
    return apply(M.neg, as_tensor("neg", "input", a))


def absolute(a: Any) -> Tensor:
    return apply(M.absolute, as_tensor("abs", "input", a))


def exp(a: Any) -> Tensor:
    return apply(M.exp, as_tensor("exp", "input", a))


def log(a: Any) -> Tensor:
    return apply(M.log, as_tensor("log", "input", a))


def sqrt(a: Any) -> Tensor:
    return apply(M.sqrt, as_tensor("sqrt", "input", a))


def maximum(a: Any, b: Any) -> Tensor:
    """Elementwise max; at ties the gradient is split evenly (as torch.maximum)."""
    return apply(M.maximum, a, b)


def minimum(a: Any, b: Any) -> Tensor:
    """Elementwise min; at ties the gradient is split evenly (as torch.minimum)."""
    return apply(M.minimum, a, b)


def clip(a: Any, min: Any = None, max: Any = None) -> Tensor:  # noqa: A002 (NumPy's names)
    """Clamp to ``[min, max]``; the gradient passes where the value was not clamped."""
    return apply(M.clip, as_tensor("clip", "input", a), low=unwrap(min), high=unwrap(max))


def matmul(a: Any, b: Any) -> Tensor:
    """Matrix product with NumPy's rules (1-D vectors, 2-D, batched with broadcasting)."""
    return apply(MM.matmul, as_tensor("matmul", "input", a), as_tensor("matmul", "other", b), needs=grads_needed(a, b))

