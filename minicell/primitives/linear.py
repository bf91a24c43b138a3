"""``linear(x, weight, bias)``: ``x @ weight.T + bias`` as one primitive.

As ``torch.nn.functional.linear`` (MindSpore's Dense uses MatMul with ``transpose_b``): fusing
the transpose, product and bias gives contiguous gradients straight from BLAS,
``dx = g @ W``, ``dW = g^T @ x`` (over all batch dimensions), ``db = sum(g)``.

Inside a one-pass micro-batched step (``minicell._runtime.segments``) it runs per segment, with
the shapes of a lone micro-batch, and ``dW``, ``db`` come per segment (stacked).
"""
from __future__ import annotations

from typing import Any, cast

import numpy as np

from minicell._checks import Shown, fail_value
from minicell._runtime import segments
from minicell.primitives._stacked import signature, verified
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
        work = plan.size * int(np.prod(x.shape[1:])) * w.shape[0]
        if x.ndim == 2 and plan.rows >= 2 * plan.size and work < segments.SPREAD_WORK:
            return stacked_linear(plan, x, w, b, needs)
        if x.ndim == 2 and x.dtype == w.dtype and (b is None or b.dtype == w.dtype):
            return spread_linear(plan, x, w, b, needs)

        def call(i: int) -> Result:
            lo, hi = plan.bounds[i]
            return linear(x[lo:hi], w, b, needs)
        return segments.per_segment(plan, call, (True, False, False), work)
    out = x @ w.T
    if b is not None:
        out += b

    def backward(g: np.ndarray) -> tuple[Any, ...]:
        g2 = g.reshape(-1, w.shape[0])
        dx = (g @ w) if needs[0] else None
        dw = (g2.T @ x.reshape(-1, w.shape[1])) if needs[1] else None
        db = g2.sum(axis=0) if b is not None and needs[2] else None
        return dx, dw, db
    return out, backward


def stacked_linear(plan: segments.Plan, x: np.ndarray, w: np.ndarray, b: np.ndarray | None,
                   needs: tuple[bool, bool, bool]) -> Result:
    """``linear`` per segment of a one-pass step: the full segments in stacked calls where those
    give the lone calls' bits (``primitives._stacked``), a short last segment alone."""
    size, m = plan.size, w.shape[0]
    full = plan.rows // size * size
    x3 = x[:full].reshape(-1, size, x.shape[1])
    wt = w.T

    def lone_forward(xi: np.ndarray) -> np.ndarray:
        out = xi @ wt
        if b is not None:
            out += b
        return cast(np.ndarray, out)
    head = verified(signature("linear", x3, w, b), lambda: lone_forward(x3),
                    lambda: np.stack([lone_forward(xi) for xi in x3]))
    tail = None
    if full < plan.rows:
        with segments.suspended():
            tail = linear(x[full:], w, b, needs)
    out = head.reshape(full, m) if tail is None else np.concatenate([head.reshape(full, m), tail[0]])

    def backward(g: np.ndarray) -> tuple[Any, ...]:
        g3 = g[:full].reshape(-1, size, m)
        dx = dw = db = None
        if needs[0]:
            dx = verified(signature("linear dx", g3, w), lambda: g3 @ w, lambda: np.stack([gi @ w for gi in g3]))
            dx = dx.reshape(full, x.shape[1])
        if needs[1]:
            dw = verified(signature("linear dw", g3, x3), lambda: np.matmul(g3.transpose(0, 2, 1), x3),
                          lambda: np.stack([gi.T @ xi for gi, xi in zip(g3, x3)]))
        if b is not None and needs[2]:
            db = verified(signature("linear db", g3), lambda: g3.sum(axis=1),
                          lambda: np.stack([gi.sum(axis=0) for gi in g3]))
        if tail is not None:
            with segments.suspended():
                tdx, tdw, tdb = tail[1](g[full:])
            dx = None if dx is None else np.concatenate([dx, tdx])
            dw = None if dw is None else np.concatenate([dw, tdw[None]])
            db = None if db is None else np.concatenate([db, tdb[None]])
        return dx, dw, db
    return out, backward


def spread_linear(plan: segments.Plan, x: np.ndarray, w: np.ndarray, b: np.ndarray | None,
                  needs: tuple[bool, bool, bool]) -> Result:
    """``linear`` per segment, each lone product written straight into its rows of the output (or
    its slot of the stacked weight gradient), segments spread over the pool: no joining copies.
    The products are the lone micro-batch's (``x_i @ W.T``, ``g_i @ W``, ``g_i^T @ x_i``,
    ``sum(g_i)``), BLAS writing into a given buffer instead of a new one."""
    n, m, k = plan.n, w.shape[0], w.shape[1]
    wt = w.T
    out = np.empty((plan.rows, m), dtype=w.dtype)

    def forward(i: int) -> None:
        lo, hi = plan.bounds[i]
        np.matmul(x[lo:hi], wt, out=out[lo:hi])
        if b is not None:
            out[lo:hi] += b
    segments.run_segments(n, forward)

    def backward(g: np.ndarray) -> tuple[Any, ...]:
        g = g.astype(w.dtype, copy=False)
        dx = np.empty((plan.rows, k), dtype=w.dtype) if needs[0] else None
        dw = np.empty((n, m, k), dtype=w.dtype) if needs[1] else None
        db = np.empty((n, m), dtype=w.dtype) if b is not None and needs[2] else None

        def one(i: int) -> None:
            lo, hi = plan.bounds[i]
            gi = g[lo:hi]
            if dx is not None:
                np.matmul(gi, w, out=dx[lo:hi])
            if dw is not None:
                np.matmul(gi.T, x[lo:hi], out=dw[i])
            if db is not None:
                np.sum(gi, axis=0, out=db[i])
        segments.run_segments(n, one)
        return dx, dw, db
    return out, backward
