"""The functional facade of the reductions: ``sum``, ``mean``, ``max``, ``min``."""
from __future__ import annotations

from typing import Any

from minicell.primitives import reduce as R
from minicell.tensor import Tensor, apply, as_tensor


def sum(a: Any, axis: Any = None, keepdims: bool = False) -> Tensor:  # noqa: A001
    return apply(R.sum, as_tensor("sum", "input", a), axis=axis, keepdims=keepdims)


def mean(a: Any, axis: Any = None, keepdims: bool = False) -> Tensor:
    return apply(R.mean, as_tensor("mean", "input", a), axis=axis, keepdims=keepdims)


def max(a: Any, axis: Any = None, keepdims: bool = False) -> Tensor:  # noqa: A001
    return apply(R.max, as_tensor("max", "input", a), axis=axis, keepdims=keepdims)


def min(a: Any, axis: Any = None, keepdims: bool = False) -> Tensor:  # noqa: A001
    return apply(R.min, as_tensor("min", "input", a), axis=axis, keepdims=keepdims)


