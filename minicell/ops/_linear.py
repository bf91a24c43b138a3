"""``linear(x, weight, bias)``: ``x @ weight.T + bias`` as one differentiable op.

As ``torch.nn.functional.linear`` (MindSpore's Dense uses MatMul with ``transpose_b``): fusing
the transpose, product and bias gives contiguous gradients straight from BLAS,
``dx = g @ W``, ``dW = g^T @ x`` (over all batch dimensions), ``db = sum(g)``.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from minicell.tensor import Tensor, needs_grad, record, unwrap


def linear(x: Any, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """``x @ weight.T + bias`` for ``x`` of shape ``(..., in)`` and ``weight`` ``(out, in)``."""
    xv, w = unwrap(x), unwrap(weight)
    if w.ndim != 2 or xv.ndim < 1 or xv.shape[-1] != w.shape[1]:
        raise ValueError(f"For 'linear', 'x' must have shape (..., {w.shape[-1] if w.ndim else '?'}) to match "
                         f"'weight' of shape {list(w.shape)}, but got {list(np.shape(xv))}.")
    out = xv @ w.T
    if bias is not None:
        out += unwrap(bias)

    def backward(g: np.ndarray) -> tuple:
        g2 = g.reshape(-1, w.shape[0])
        dx = (g @ w) if needs_grad(x) else None
        dw = (g2.T @ xv.reshape(-1, w.shape[1])) if needs_grad(weight) else None
        db = g2.sum(axis=0) if bias is not None and needs_grad(bias) else None
        return dx, dw, db
    return record(out, (x, weight, bias), backward)
