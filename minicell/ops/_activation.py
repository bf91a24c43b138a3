"""The functional facade of the activations and the softmax family."""
from __future__ import annotations

from typing import Any

from minicell.primitives import activation as A
from minicell.tensor import Tensor, apply, as_tensor


def relu(a: Any) -> Tensor:
    return apply(A.relu, as_tensor("relu", "input", a))


def tanh(a: Any) -> Tensor:
    return apply(A.tanh, as_tensor("tanh", "input", a))


def sigmoid(a: Any) -> Tensor:
    """1 / (1 + e^-x), computed as (1 + tanh(x/2)) / 2 so it never overflows."""
    return apply(A.sigmoid, as_tensor("sigmoid", "input", a))


def gelu(a: Any, approximate: str = "none") -> Tensor:
    """GELU (Hendrycks & Gimpel, 2016), exact (``'none'``) or with the tanh approximation."""
    return apply(A.gelu, as_tensor("gelu", "input", a), approximate=approximate)


def softmax(a: Any, axis: int = -1) -> Tensor:
    return apply(A.softmax, as_tensor("softmax", "input", a), axis=axis)


def log_softmax(a: Any, axis: int = -1) -> Tensor:
    return apply(A.log_softmax, as_tensor("log_softmax", "input", a), axis=axis)
