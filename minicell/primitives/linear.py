"""``linear(x, weight, bias)``: ``x @ weight.T + bias`` as one primitive.

As ``torch.nn.functional.linear`` (MindSpore's Dense uses MatMul with ``transpose_b``): fusing
the transpose, product and bias gives contiguous gradients straight from BLAS,
``dx = g @ W``, ``dW = g^T @ x`` (over all batch dimensions), ``db = sum(g)``.

Inside a one-pass micro-batched step (``minicell._runtime.segments``) it runs per segment, with
the shapes of a lone micro-batch, and ``dW``, ``db`` come per segment (stacked).
"""
from __future__ import annotations

import numpy as np

from minicell._checks import Shown, fail_value
from minicell._runtime import segments
from minicell.primitives.math import Result


def linear(x: np.ndarray, w: np.ndarray, b: np.ndarray | None = None,
           needs: tuple[bool, bool, bool] = (True, True, True)) -> Result:
    """``x @ w.T + b`` for ``x`` of shape ``(..., in)`` and ``w`` of shape ``(out, in)``."""
    if w.ndim != 2:
        raise fail_value("linear", "weight", "a 2-D Tensor (out_channels, in_channels)",
                         Shown(f"shape {list(w.shape)}"))
    if b is not None and b.shape != (w.shape[0],):
        raise fail_value("linear", "bias", f"of shape [{w.shape[0]}]", Shown(f"shape {list(b.shape)}"))
    if x.ndim < 1 or x.shape[-1] != w.shape[1]:
        raise fail_value("linear", "x", f"of shape (..., {w.shape[-1] if w.ndim else '?'}) to match 'weight' "
                         f"of shape {list(w.shape)}", Shown(f"shape {list(np.shape(x))}"))
    plan = segments.rows_plan(x) if x.ndim >= 2 else None
    if plan is not None:  # one pass of a micro-batched step: per segment, the shapes of a lone micro-batch
        def call(i: int) -> Result:
            lo, hi = plan.bounds[i]
            return linear(x[lo:hi], w, b, needs)
        work = plan.size * int(np.prod(x.shape[1:])) * w.shape[0]
        return segments.per_segment(plan, call, (True, False, False), work)
    out = x @ w.T
    if b is not None:
        out += b

    def backward(g: np.ndarray) -> tuple:
        g2 = g.reshape(-1, w.shape[0])
        dx = (g @ w) if needs[0] else None
        dw = (g2.T @ x.reshape(-1, w.shape[1])) if needs[1] else None
        db = g2.sum(axis=0) if b is not None and needs[2] else None
        return dx, dw, db
    return out, backward
