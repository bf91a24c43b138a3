"""The functional facade of the activations and the softmax family."""
from __future__ import annotations

from typing import Any

from minicell.primitives import activation as A
from minicell.tensor import Tensor, apply


def _tensor(a: Any) -> Tensor:
    return a if isinstance(a, Tensor) else Tensor(a)


def relu(a: Any) -> Tensor:
    return apply(A.relu, _tensor(a))


def tanh(a: Any) -> Tensor:
    return apply(A.tanh, _tensor(a))


def sigmoid(a: Any) -> Tensor:
    """1 / (1 + e^-x), computed as (1 + tanh(x/2)) / 2 so it never overflows."""
    return apply(A.sigmoid, _tensor(a))


def gelu(a: Any, approximate: str = "none") -> Tensor:
    """GELU (Hendrycks & Gimpel, 2016), exact (``'none'``) or with the tanh approximation."""
    return apply(A.gelu, _tensor(a), approximate=approximate)


def softmax(a: Any, axis: int = -1) -> Tensor:
    return apply(A.softmax, _tensor(a), axis=axis)


def log_softmax(a: Any, axis: int = -1) -> Tensor:
    return apply(A.log_softmax, _tensor(a), axis=axis)
