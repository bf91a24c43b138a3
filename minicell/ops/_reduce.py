"""The functional facade of the reductions: ``sum``, ``mean``, ``max``, ``min``."""
from __future__ import annotations

from typing import Any

from minicell.primitives import reduce as R
from minicell.tensor import Tensor, apply


def sum(a: Any, axis: Any = None, keepdims: bool = False) -> Tensor:  # noqa: A001
    return apply(R.sum, _tensor(a), axis=axis, keepdims=keepdims)


def mean(a: Any, axis: Any = None, keepdims: bool = False) -> Tensor:
    return apply(R.mean, _tensor(a), axis=axis, keepdims=keepdims)


def max(a: Any, axis: Any = None, keepdims: bool = False) -> Tensor:  # noqa: A001
    return apply(R.max, _tensor(a), axis=axis, keepdims=keepdims)


def min(a: Any, axis: Any = None, keepdims: bool = False) -> Tensor:  # noqa: A001
    return apply(R.min, _tensor(a), axis=axis, keepdims=keepdims)


def _tensor(a: Any) -> Tensor:
    return a if isinstance(a, Tensor) else Tensor(a)
