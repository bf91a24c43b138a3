"""``linear(x, weight, bias)``: ``x @ weight.T + bias`` as one differentiable op (see
``minicell/primitives/linear.py``)."""
from __future__ import annotations

from typing import Any

from minicell.primitives import linear as L
from minicell.tensor import Tensor, apply, as_tensor, grads_needed


def linear(x: Any, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """``x @ weight.T + bias`` for ``x`` of shape ``(..., in)`` and ``weight`` ``(out, in)``."""
    x = as_tensor("linear", "x", x)
    weight = as_tensor("linear", "weight", weight)
    bias = None if bias is None else as_tensor("linear", "bias", bias)
    return apply(L.linear, x, weight, bias, needs=grads_needed(x, weight, bias))
