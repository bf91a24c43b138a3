"""``linear(x, weight, bias)``: ``x @ weight.T + bias`` as one differentiable op (see
``minicell/primitives/linear.py``)."""
from __future__ import annotations

from typing import Any

from minicell.primitives import linear as L
from minicell.tensor import Tensor, apply, grads_needed


def linear(x: Any, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """``x @ weight.T + bias`` for ``x`` of shape ``(..., in)`` and ``weight`` ``(out, in)``."""
    return apply(L.linear, x, weight, bias, needs=grads_needed(x, weight, bias))
